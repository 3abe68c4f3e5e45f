// The HTTP request path under libFuzzer, without sockets: the input is the raw bytes a client
// sends on one connection. They go through what daemon/http_server.cpp's session does with
// them, request after request (keep-alive, pipelining): Beast's request_parser with the
// daemon's header limit, the session's header checks, then the daemon's own pipeline
// (daemon/pipeline.cpp): check_head on the headers (the body limit, or a refusal), and
// handle() on the whole request: the channel named by the target, its adapter, the key checks,
// each message's language (CLD2) and the message JSON the store would write. Only what a
// webhook stores goes to a sink that keeps nothing (store/ingest_sink.hpp). Every channel type
// is configured, each named as in fuzz_support.hpp, so "/v1/webhooks/web-chat" reaches the chat
// adapter. The session's steps are copied here in outline (they need a socket); a change there
// belongs here too.
#include "core/log.hpp"
#include "daemon/http_server.hpp"
#include "daemon/pipeline.hpp"
#include "fuzz/fuzz_support.hpp"
#include "store/ingest_sink.hpp"

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace sb::fuzz {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// A connection's requests answered per input; more only repeats the same code.
constexpr int max_requests = 16;

// What the daemon's config would hold: one channel of every type, one skill with its default
// route, the server's defaults without rate limits (a budget spent by one input would change
// what the next one reaches).
std::shared_ptr<const config> daemon_config() {
  auto cfg = std::make_shared<config>();
  cfg->file = "fuzz.yaml";
  cfg->server.rate_limit = rate_limit_config{0, 0, 0, 0, 0, 0, 0, 0, false};
  for (const channel_type_info& t : channel_types()) {
    channel ch;
    ch.config = config_for(t.type);
    ch.type = &t;
    ch.handler = make_adapter(ch.config);
    cfg->channels.push_back(std::move(ch));
  }
  routing_table table;
  skill_config general;
  general.name = "general";
  table.skills.push_back(general);
  route fallback;
  fallback.skill = "general";
  table.routes.push_back(fallback);
  cfg->routing = std::make_shared<const routing_table>(std::move(table));
  return cfg;
}

// Takes what a webhook would store and answers as a commit that stored it.
class null_sink final : public ingest_sink {
 public:
  void submit(ingest_request req, callback done) override {
    // prepare() ran on the HTTP side: one id and message JSON per message.
    if (req.prepared.size() != req.messages.size()) {
      std::fprintf(stderr, "fuzz: %zu messages, %zu prepared\n", req.messages.size(),
                   req.prepared.size());
      std::abort();
    }
    ingest_outcome out;
    out.ignored = req.ignored;
    for (const auto& m : req.prepared)
      out.accepted.push_back({m.id, "conversation", "customer", "general"});
    done(std::move(out));
  }
  void remember(seen_signature) override {}
  std::int64_t backlog() const noexcept override { return 0; }
};

// The pipeline never answers 500 to a request: core/error.hpp reserves it for bugs.
void check_reply(const http_reply& r, std::string_view target) {
  if (verbose())
    std::fprintf(stderr, "%.*s: %u %s\n", static_cast<int>(target.size()), target.data(), r.status,
                 r.body.c_str());
  if (r.status >= 500 && r.status != 503) {
    std::fprintf(stderr, "fuzz: %.*s answered %u (a bug): %s\n", static_cast<int>(target.size()),
                 target.data(), r.status, r.body.c_str());
    std::abort();
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
bool serve_one(pipeline& pipe, std::string_view& in) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(http_limits{}.max_header_bytes));
  parser.body_limit(boost::none);  // set per channel once the target is known
  if (!feed(parser, in, true)) return false;

  const auto& req = parser.get();
  if (req.find(http::field::transfer_encoding) != req.end() && !parser.chunked()) return false;
  if (req.version() >= 11 && req.find(http::field::host) == req.end()) return false;
  std::vector<header_field> fields;
  for (const auto& f : req) fields.push_back({f.name_string(), f.value()});
  request_view head{req.method_string(), origin_form(req.target()), fields, {}, fuzz_now};
  head.peer = "127.0.0.1";
  auto verdict = pipe.check_head(head);
  if (verdict.refusal) {  // answered at once, the connection closed
    check_reply(*verdict.refusal, head.target);
    return false;
  }
  const std::size_t limit = verdict.body_limit;
  if (const auto len = parser.content_length(); len && *len > limit) return false;  // 413
  parser.body_limit(limit);
  if (!feed(parser, in, false)) return false;  // 400, 408 or 413, and a close

  request_view view{req.method_string(), origin_form(req.target()), fields, req.body(), fuzz_now};
  view.peer = "127.0.0.1";
  bool answered = false;
  pipe.handle(view, verdict.route, [&](http_reply r) {
    check_reply(r, view.target);
    answered = true;
  });
  if (!answered) {  // with a sink that answers at once, handle() must have replied
    std::fprintf(stderr, "fuzz: no reply to %.*s\n", static_cast<int>(view.target.size()),
                 view.target.data());
    std::abort();
  }
  return req.keep_alive();
}

}  // namespace
}  // namespace sb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sb::config_holder holder = [] {
    sb::log::set_min_level(sb::log::level::error);  // refusals are logged at info and warning
    return sb::config_holder(sb::fuzz::daemon_config());
  }();
  static sb::fuzz::null_sink sink;
  // A pipeline per input: the signatures it remembers must not refuse the next input's.
  sb::pipeline pipe(holder, sink);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < sb::fuzz::max_requests && !in.empty(); ++n)
    if (!sb::fuzz::serve_one(pipe, in)) break;
  return 0;
}
