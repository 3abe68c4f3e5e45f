#include "daemon/pipeline.hpp"

#include "core/log.hpp"
#include "daemon/read_api.hpp"
#include "routing/language.hpp"
#include "store/writer.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace sb {
namespace {

constexpr std::string_view webhook_prefix = "/v1/webhooks/";

// "/v1/webhooks/<name>" → "<name>"; empty when the path is anything else.
std::string webhook_channel(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return {};
  auto segs = u->segments();
  if (segs.size() != 3) return {};
  auto it = segs.begin();
  if (*it++ != "v1" || *it++ != "webhooks") return {};
  return *it;
}

std::string path_of(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  return u ? std::string(u->path()) : std::string(target);
}

http_reply json_reply(unsigned status, const boost::json::value& v) {
  http_reply r;
  r.status = status;
  r.body = boost::json::serialize(v);
  return r;
}

http_reply outcome_reply(const ingest_outcome& o) {
  boost::json::array accepted;
  for (const auto& a : o.accepted) {
    boost::json::object j{{"message_id", a.message_id},
                          {"conversation_id", a.conversation_id},
                          {"customer_id", a.customer_id}};
    j["skill"] = a.skill.empty() ? boost::json::value(nullptr) : boost::json::value(a.skill);
    accepted.push_back(std::move(j));
  }
  const unsigned status = o.accepted.empty() ? 200 : 202;
  return json_reply(
      status,
      {{"accepted", std::move(accepted)}, {"duplicates", o.duplicates}, {"ignored", o.ignored}});
}

http_reply answer_reply(const http_answer& a) {
  http_reply r;
  r.status = a.status;
  r.content_type = a.content_type;
  r.body = a.body;
  return r;
}

}  // namespace

http_reply error_reply(const error& e) {
  const auto& d = describe(e.code);
  http_reply r = json_reply(
      d.http_status, {{"error", d.name}, {"detail", e.detail.empty() ? d.detail : e.detail}});
  if (e.code == errc::unavailable) r.headers.emplace_back("Retry-After", "5");
  if (e.code == errc::method_not_allowed) r.headers.emplace_back("Allow", "GET, POST");
  // Basic too: some HTTP clients send URL credentials (SendGrid, Postmark) only when challenged.
  if (e.code == errc::unauthorized)
    r.headers.emplace_back("WWW-Authenticate",
                           R"(Basic realm="switchboard", Bearer realm="switchboard")");
  return r;
}

pipeline::pipeline(const config_holder& cfg, group_writer& writer) : cfg_(cfg), writer_(writer) {}

std::size_t pipeline::body_limit(std::string_view target) const {
  const auto cfg = cfg_.get();
  const std::size_t server_limit = cfg->server.max_body_bytes;
  const auto name = webhook_channel(target);
  const auto* ch = name.empty() ? nullptr : cfg->find_channel(name);
  if (!ch) return server_limit;
  if (ch->config.max_body_bytes) return ch->config.max_body_bytes;
  return std::max(server_limit, ch->type->default_max_body);
}

void pipeline::handle(const request_view& req, std::function<void(http_reply)> done) {
  // A snapshot: a reload during this request does not change the rules it runs under.
  const auto cfg = cfg_.get();
  const std::string path = path_of(req.target);

  if (path == "/healthz") {
    if (req.method != "GET" && req.method != "HEAD")
      return done(error_reply({errc::method_not_allowed}));
    return done(json_reply(200, {{"status", "ok"}}));
  }
  if (read_api_ && read_api::owns(path)) return read_api_->handle(req, std::move(done));
  if (path == "/readyz") {
    if (req.method != "GET" && req.method != "HEAD")
      return done(error_reply({errc::method_not_allowed}));
    std::optional<std::string> why;
    if (draining_)
      why = "shutting down";
    else if (not_ready_)
      why = not_ready_();
    if (why) return done(error_reply({errc::unavailable, *why}));
    return done(json_reply(200, {{"status", "ready"}}));
  }
  if (!path.starts_with(webhook_prefix)) return done(error_reply({errc::not_found}));

  const std::string name = webhook_channel(req.target);
  const channel* ch = name.empty() ? nullptr : cfg->find_channel(name);
  if (!ch) return done(error_reply({errc::unknown_channel}));

  if (req.method == "POST") return webhook(*cfg, *ch, req, std::move(done));
  if (req.method == "GET") {
    // Provider handshakes (Meta hub.challenge, X CRC): answered by the adapter, nothing stored.
    auto answer = ch->handler->handshake(req);
    if (!answer) {
      log::info("ingress", "handshake refused channel={} reason={}", ch->config.name,
                describe(answer.error().code).name);
      return done(error_reply(answer.error()));
    }
    return done(answer_reply(*answer));
  }
  return done(error_reply({errc::method_not_allowed}));
}

void pipeline::webhook(const config& cfg, const channel& ch, const request_view& req,
                       std::function<void(http_reply)> done) {
  // 1. Verify and parse: the adapter checks the signature over the raw bytes before it
  //    trusts anything in the body, then normalizes the provider's format.
  auto parsed = ch.handler->receive(req);
  if (!parsed) {
    log::info("ingress", "rejected channel={} status={} reason={} detail=\"{}\"", ch.config.name,
              describe(parsed.error().code).http_status, describe(parsed.error().code).name,
              parsed.error().detail);
    return done(error_reply(parsed.error()));
  }
  // 2. Receipts, statuses and other non-messages: counted, answered 200, nothing stored.
  if (parsed->messages.empty()) {
    log::debug("ingress", "ignored channel={} events={}", ch.config.name, parsed->ignored);
    if (parsed->ack) return done(answer_reply(*parsed->ack));
    return done(outcome_reply({{}, 0, parsed->ignored}));
  }
  // 3. Back-pressure: past the backlog bound nothing more is promised; the provider retries.
  if (draining_) return done(error_reply({errc::unavailable, "shutting down; retry later"}));
  if (writer_.backlog() >= static_cast<std::int64_t>(cfg.store.max_backlog)) {
    log::warn("ingress", "backlog {} at its bound; answering 503 channel={}", writer_.backlog(),
              ch.config.name);
    return done(error_reply({errc::unavailable, "too many unpublished messages; retry later"}));
  }
  // 4. Store, route and enqueue in one group-committed transaction; reply only once durable.
  ingest_request ir;
  ir.channel = ch.config.name;
  ir.channel_type = ch.config.type;
  ir.received_at = req.now;
  // Every message gets a language: the provider's hint, else CLD2 on its text (null when the
  // detector is unsure). Done here, on the HTTP threads, not on the single writer thread.
  for (auto& m : parsed->messages) m.language = message_language(m);
  ir.messages = std::move(parsed->messages);
  ir.ignored = parsed->ignored;
  ir.routing = cfg.routing;
  writer_.submit(std::move(ir), [done = std::move(done), channel = ch.config.name,
                                 ack = std::move(parsed->ack)](result<ingest_outcome> r) {
    if (!r) return done(error_reply(r.error()));
    for (const auto& a : r->accepted)
      log::info("ingest", "accepted channel={} message_id={} conversation_id={} skill={}", channel,
                a.message_id, a.conversation_id, a.skill.empty() ? "-" : a.skill);
    if (r->duplicates)
      log::info("ingest", "duplicates channel={} count={}", channel, r->duplicates);
    done(ack ? answer_reply(*ack) : outcome_reply(*r));
  });
}

}  // namespace sb
