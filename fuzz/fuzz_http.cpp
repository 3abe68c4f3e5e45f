// The HTTP request path under libFuzzer, without sockets: the input is the raw bytes a client
// sends on one connection. They go through what daemon/http_server.cpp's session does with
// them, request after request (keep-alive, pipelining): Beast's request_parser with the
// daemon's header limit, the session's header checks, the body limit the pipeline chooses
// for the target's channel, then a request_view into the parser's buffers; then through what
// daemon/pipeline.cpp does with a webhook: the channel named by the target, its adapter
// (receive for POST, handshake for GET), the language of each message (CLD2) and the message
// JSON the store writes (store/payload.cpp). Every channel type is configured, each named as
// in fuzz_support.hpp, so "/v1/webhooks/web-chat" reaches the chat adapter.
// The session and pipeline code is copied here in outline (they need sockets, a store and a
// broker); the steps and their order follow them, and a change there belongs here too.
#include "daemon/config.hpp"
#include "daemon/http_server.hpp"
#include "fuzz/fuzz_support.hpp"
#include "routing/language.hpp"
#include "store/payload.hpp"

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace sb::fuzz {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// A connection's requests answered per input; more only repeats the same code.
constexpr int max_requests = 16;

struct configured_channel {
  channel_config config;
  const channel_type_info* type = nullptr;
  std::unique_ptr<adapter> handler;
};

// What the daemon's config would hold: one channel of every type, the server's defaults.
struct daemon_model {
  server_config server;
  http_limits limits;
  std::vector<configured_channel> channels;

  daemon_model() {
    for (const channel_type_info& t : channel_types()) {
      channel_config cfg = config_for(t.type);
      auto handler = make_adapter(cfg);
      channels.push_back({std::move(cfg), &t, std::move(handler)});
    }
  }

  const configured_channel* find(std::string_view name) const {
    for (const auto& c : channels)
      if (c.config.name == name) return &c;
    return nullptr;
  }
};

// pipeline.cpp's webhook_channel: "/v1/webhooks/<name>" → "<name>", else empty.
std::string webhook_channel(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return {};
  auto segs = u->segments();
  if (segs.size() != 3) return {};
  auto it = segs.begin();
  if (*it++ != "v1" || *it++ != "webhooks") return {};
  return *it;
}

// pipeline::check_head: the body limit, or nullopt when the headers alone refuse the request
// (the session answers it and closes the connection, its body unread). The rate budgets are
// left out: they never read the request.
std::optional<std::size_t> check_head(const daemon_model& d, const request_view& head) {
  const std::string name = webhook_channel(head.target);
  const configured_channel* ch = name.empty() ? nullptr : d.find(name);
  if (ch == nullptr) return d.server.max_body_bytes;
  if (head.method == "POST") {
    const error e = ch->handler->check_head(head);
    if (e.code != errc::ok) return std::nullopt;
  }
  if (ch->config.max_body_bytes) return ch->config.max_body_bytes;
  return std::max(d.server.max_body_bytes, ch->type->default_max_body);
}

// pipeline::handle and pipeline::webhook, the parts that read the request.
void handle(const daemon_model& d, const request_view& req) {
  auto url = boost::urls::parse_origin_form(req.target);
  const std::string path = url ? std::string(url->path()) : std::string(req.target);
  if (!path.starts_with("/v1/webhooks/")) return;  // health, metrics, read API or 404
  const std::string name = webhook_channel(req.target);
  const configured_channel* ch = name.empty() ? nullptr : d.find(name);
  if (ch == nullptr) return;  // 404 unknown channel

  if (req.method == "GET" && ch->handler->has_handshake())
    return check(ch->handler->handshake(req), ch->config.type + " handshake");
  if (req.method != "POST") return;  // 405
  auto parsed = ch->handler->receive(req);
  check(parsed, ch->config.type + " receive");
  if (!parsed) return;
  for (inbound_message& m : parsed->messages) {
    m.language = message_language(m);
    const stored_message_meta meta{"msg-1", ch->config.name, ch->config.type, req.now};
    (void)message_json(m, meta);
  }
}

// Feeds `in` to the parser until the header (or the whole message) is parsed, as Beast's read
// operations do; false when the connection would end first (an error, or the client's bytes
// run out mid-message: EOF, which the session answers with 400 or a close).
bool feed(http::request_parser<http::string_body>& parser, std::string_view& in, bool header_only) {
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
    in.remove_prefix(used);
    if (ec && ec != http::error::need_more) return false;
    if (used == 0) return false;
  }
  return true;
}

// One request of a connection, as the session reads it (do_read, on_header, on_body);
// false when the session would close the connection after it.
bool serve_one(const daemon_model& d, std::string_view& in) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(d.limits.max_header_bytes));
  parser.body_limit(boost::none);  // set per channel once the target is known
  if (!feed(parser, in, true)) return false;

  const auto& req = parser.get();
  if (req.find(http::field::transfer_encoding) != req.end() && !parser.chunked()) return false;
  if (req.version() >= 11 && req.find(http::field::host) == req.end()) return false;
  std::vector<header_field> fields;
  for (const auto& f : req) fields.push_back({f.name_string(), f.value()});
  request_view head{req.method_string(), req.target(), fields, {}, fuzz_now};
  head.peer = "127.0.0.1";
  const auto limit = check_head(d, head);
  if (!limit) return false;                                                   // 401, closed
  if (const auto len = parser.content_length(); len && *len > *limit) return false;  // 413
  parser.body_limit(*limit);
  if (!feed(parser, in, false)) return false;  // 400, 408 or 413, and a close

  request_view view{req.method_string(), req.target(), fields, req.body(), fuzz_now};
  view.peer = "127.0.0.1";
  handle(d, view);
  return req.keep_alive();
}

}  // namespace
}  // namespace sb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sb::fuzz::daemon_model daemon;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < sb::fuzz::max_requests && !in.empty(); ++n)
    if (!sb::fuzz::serve_one(daemon, in)) break;
  return 0;
}
