#include "daemon/http_server.hpp"

#include "core/log.hpp"
#include "core/mutex.hpp"
#include "core/time.hpp"
#include "daemon/request_handler.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <list>
#include <optional>
#include <vector>

namespace sb {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class session;

}  // namespace

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
  impl(asio::io_context& ioc, request_handler& p, http_limits l)
      : ioc(ioc), pipe(p), limits(l), acceptor(asio::make_strand(ioc)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  asio::io_context& ioc;
  request_handler& pipe;
  const http_limits limits;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> draining{false};

  mutex sessions_mutex;
  std::list<std::weak_ptr<session>> sessions SB_GUARDED_BY(sessions_mutex);
};

namespace {

// For replies sent before a request's headers were read (408, 431, the connection cap).
const http::request<http::string_body>& empty_request() {
  static const http::request<http::string_body> none;
  return none;
}

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket&& socket, std::shared_ptr<http_server::impl> srv, bool over_capacity)
      : stream_(std::move(socket)),
        srv_(std::move(srv)),
        read_timer_(stream_.get_executor()),
        over_capacity_(over_capacity) {
    // Beast reads max(512, free capacity) bytes at a time and its buffer grows only with what
    // is unparsed, which the parser keeps near zero: without room up front every request took
    // one recvmsg() per 512 bytes (two or three for a typical webhook, seven for a mail with a
    // screenshot). 8 KiB per connection takes most webhooks in one read.
    buffer_.reserve(read_chunk);
  }

  ~session() { srv_->connections.fetch_sub(1); }

  void start(std::list<std::weak_ptr<session>>::iterator self_entry) {
    entry_ = self_entry;
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->over_capacity_) {
        // Past the connection cap: a short answer and close, so the peer backs off instead of
        // holding a slot.
        self->keep_alive_ = false;
        return self->reply(error_reply({errc::unavailable, "too many connections"}), 11);
      }
      self->do_read();
    });
  }

  // Drain: an idle connection is closed now; one whose request is being received or answered
  // closes after its reply (a slow one is cut by its read deadline).
  void drain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      const bool receiving = self->parser_ && self->parser_->got_some();
      if (!self->busy_ && !receiving) self->close();
    });
  }

 private:
  void do_read() {
    started_ = std::chrono::steady_clock::now();
    parser_.emplace();
    route_.reset();
    parser_->header_limit(static_cast<std::uint32_t>(srv_->limits.max_header_bytes));
    parser_->body_limit(boost::none);  // set per channel once the target is known
    arm_read_deadline();
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // One deadline covers the whole request, header and body, so a slow client cannot hold the
  // connection longer than read_timeout. On expiry the read is cancelled, not the socket
  // closed, so the client can still be told 408.
  void arm_read_deadline() {
    timed_out_ = false;
    read_timer_.expires_after(srv_->limits.read_timeout);
    read_timer_.async_wait([w = weak_from_this()](beast::error_code ec) {
      auto self = w.lock();
      if (ec || !self) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    started_ = std::chrono::steady_clock::now();  // latency counts from complete headers
    auto& req = parser_->get();
    version_ = req.version();
    // RFC 9112: a request whose Transfer-Encoding does not end in chunked has no knowable
    // length (answering it as empty would let its body pass as a second request), and an
    // HTTP/1.1 request must name its Host.
    if (req.find(http::field::transfer_encoding) != req.end() && !parser_->chunked()) {
      keep_alive_ = false;
      return reply(error_reply({errc::malformed, "Transfer-Encoding must end in chunked"}),
                   version_);
    }
    if (version_ >= 11 && req.find(http::field::host) == req.end()) {
      keep_alive_ = false;
      return reply(error_reply({errc::malformed, "the Host header is required"}), version_);
    }
    // The pipeline's say on the headers alone: the body limit, or a refusal (a forged
    // credential, a client over its budget) answered before the body is read or 100 Continue
    // sent; the unread body makes the connection unusable.
    auto verdict = srv_->pipe.check_head(view_of(req, {}));
    route_ = std::move(verdict.route);  // carried with the request from here on
    if (verdict.refusal) {
      keep_alive_ = false;
      return reply(std::move(*verdict.refusal), version_);
    }
    const std::size_t limit = verdict.body_limit;
    if (const auto len = parser_->content_length(); len && *len > limit) {
      keep_alive_ = false;  // the unread body makes the connection unusable
      return reply(error_reply({errc::too_large, fmt::format("the body limit for this "
                                                             "resource is {} bytes",
                                                             limit)}),
                   version_);
    }
    parser_->body_limit(limit);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      return http::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->do_read_body();
          });
    }
    do_read_body();
  }

  void do_read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    read_timer_.cancel();
    if (timed_out_) ec = beast::error::timeout;
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    keep_alive_ = false;
    if (ec == beast::error::timeout) {
      // Nothing received on an idle keep-alive connection is not worth an answer.
      if (!parser_->got_some()) return close();
      return reply(error_reply({errc::slow_client}), version_);
    }
    if (ec == http::error::header_limit) return reply(error_reply({errc::headers_too_large}), 11);
    if (ec == http::error::body_limit)
      return reply(error_reply({errc::too_large, "the request body is too large"}), version_);
    log::debug("http", "bad request: {}", ec.message());
    return reply(error_reply({errc::malformed, "malformed HTTP request"}), 11);
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    read_timer_.cancel();  // the reply waits for a durable commit, not for the client
    busy_ = true;
    auto& req = parser_->get();
    keep_alive_ = keep_alive_ && req.keep_alive();
    srv_->pipe.handle(view_of(req, req.body()), *route_, [self = shared_from_this()](http_reply r) {
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->reply(std::move(r), self->version_); });
    });
  }

  // The request as the pipeline sees it; views into the parser's buffers and fields_.
  template <class Request>
  request_view view_of(const Request& req, std::string_view body) {
    fields_.clear();
    for (const auto& f : req) fields_.push_back({f.name_string(), f.value()});
    if (peer_.empty()) {
      beast::error_code ec;
      const auto ep = stream_.socket().remote_endpoint(ec);
      if (!ec) peer_ = ep.address().to_string();
    }
    request_view view{req.method_string(), origin_form(req.target()), fields_, body, now_ms()};
    view.peer = peer_;
    return view;
  }

  void reply(http_reply r, unsigned version) {
    read_timer_.cancel();
    busy_ = true;
    {
      const bool have_header = parser_ && parser_->is_header_done();
      const auto& req = have_header ? parser_->get() : empty_request();
      // Refused before check_head (no Host, a bad Transfer-Encoding): routed for the metrics.
      if (!route_ && have_header) route_ = route_of(origin_form(req.target()));
      srv_->pipe.observe_reply(
          req.method_string(), route_ ? *route_ : request_route{}, r.status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    }
    res_ = {};
    res_.version(version);
    res_.result(r.status);
    res_.set(http::field::server, "switchboard");
    res_.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res_.set(k, v);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_ && !srv_->draining);
    res_.prepare_payload();
    stream_.expires_after(srv_->limits.read_timeout);  // a client that never reads is cut off
    http::async_write(stream_, res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->busy_ = false;
                        self->stream_.expires_never();
                        if (ec) return self->close();
                        if (!self->res_.keep_alive())
                          return self->body_unread() ? self->linger() : self->close();
                        self->do_read();
                      });
  }

  // A reply was sent before the request's body was read (a refusal at the headers, a 413).
  bool body_unread() const { return parser_ && parser_->is_header_done() && !parser_->is_done(); }

  // The client may still be sending the body: closing now would reset the connection, and the
  // reset can destroy the reply before the client reads it. So the sending side is shut (the
  // client reads the reply, then the end) and what still arrives is read and dropped, for at
  // most linger_time and linger_bytes, then the socket closed (nginx's lingering close).
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    linger_left_ = linger_bytes;
    linger_buf_ = std::make_unique<char[]>(read_chunk);
    stream_.expires_after(linger_time);
    drop_some();
  }

  void drop_some() {
    stream_.async_read_some(asio::buffer(linger_buf_.get(), read_chunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec || n >= self->linger_left_) {
                                self->stream_.expires_never();
                                return self->close();
                              }
                              self->linger_left_ -= n;
                              self->drop_some();
                            });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    busy_ = false;
    mutex_lock lock(srv_->sessions_mutex);
    if (entry_) {
      srv_->sessions.erase(*entry_);
      entry_.reset();
    }
  }

  beast::tcp_stream stream_;
  std::shared_ptr<http_server::impl> srv_;
  static constexpr std::size_t read_chunk = 8 * 1024;
  static constexpr std::size_t linger_bytes = 1 << 20;
  static constexpr std::chrono::seconds linger_time{1};
  std::size_t linger_left_ = 0;
  std::unique_ptr<char[]> linger_buf_;
  beast::flat_buffer buffer_;  // bounded by the parser's header and body limits
  asio::steady_timer read_timer_;
  bool timed_out_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::vector<header_field> fields_;
  std::optional<request_route> route_;  // the current request's, once its headers are read
  std::optional<std::list<std::weak_ptr<session>>::iterator> entry_;
  unsigned version_ = 11;
  std::string peer_;  // the remote address, read once per connection
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool keep_alive_ = true;
  bool busy_ = false;
  const bool over_capacity_;
};

}  // namespace

void http_server::impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          self->on_accept(ec, std::move(socket));
                        });
}

void http_server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // EMFILE and friends: log, and keep accepting once resources return.
    log::warn("http", "accept failed: {}", ec.message());
    return do_accept();
  }
  const std::size_t n = connections.fetch_add(1) + 1;
  if (n > 2 * limits.max_connections) {
    // Far past the cap: close without a word, spending nothing on the peer.
    connections.fetch_sub(1);
    beast::error_code ignored;
    socket.close(ignored);
    return do_accept();
  }
  auto s =
      std::make_shared<session>(std::move(socket), shared_from_this(), n > limits.max_connections);
  std::list<std::weak_ptr<session>>::iterator it;
  {
    mutex_lock lock(sessions_mutex);
    it = sessions.insert(sessions.end(), s);
  }
  s->start(it);
  do_accept();
}

http_server::http_server(asio::io_context& ioc, request_handler& p, http_limits limits)
    : impl_(std::make_shared<impl>(ioc, p, limits)) {}

http_server::~http_server() = default;

result<std::uint16_t> http_server::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return error{errc::internal, fmt::format("bad listen address {}", host)};
  const tcp::endpoint ep{address, port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error{errc::internal,
                 fmt::format("cannot listen on {}:{}: {}", host, port, ec.message())};
  return a.local_endpoint().port();
}

void http_server::start() {
  asio::dispatch(impl_->acceptor.get_executor(), [s = impl_] { s->do_accept(); });
}

void http_server::stop_keep_alive() { impl_->draining = true; }

void http_server::drain() {
  impl_->draining = true;
  asio::dispatch(impl_->acceptor.get_executor(), [s = impl_] {
    beast::error_code ec;
    s->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<session>> live;
  {
    mutex_lock lock(impl_->sessions_mutex);
    for (auto& w : impl_->sessions)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->drain();
}

std::size_t http_server::active_connections() const noexcept { return impl_->connections.load(); }

}  // namespace sb
