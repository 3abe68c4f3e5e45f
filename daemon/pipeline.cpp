#include "daemon/pipeline.hpp"

#include "channels/normalize.hpp"
#include "channels/unicode.hpp"
#include "core/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/read_api.hpp"
#include "routing/language.hpp"
#include "store/attachments.hpp"
#include "store/ingest_sink.hpp"
#include "store/reader.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace sb {
namespace {

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
  // 202: something new was stored (messages, or a delivery kept for its unreadable events);
  // 200: nothing new (duplicates, receipts, a redelivery of a delivery already kept).
  const unsigned status = o.accepted.empty() && !o.kept_new ? 200 : 202;
  return json_reply(status, {{"accepted", std::move(accepted)},
                             {"duplicates", o.duplicates},
                             {"ignored", o.ignored},
                             {"unreadable", o.unreadable}});
}

// Refusals are logged once per channel and reason at most this often (a sender with a wrong
// secret retries for hours); /metrics counts every one.
log::limiter refusal_log{std::chrono::seconds(60), 5};

http_reply answer_reply(const http_answer& a) {
  http_reply r;
  r.status = a.status;
  r.content_type = a.content_type;
  r.body = a.body;
  return r;
}

// The client a request counts against: the socket's peer, or behind a trusted local proxy
// the last address in X-Forwarded-For (the one the proxy itself added).
std::string client_address(const request_view& req, bool trust_forwarded_for) {
  if (trust_forwarded_for && (req.peer == "127.0.0.1" || req.peer == "::1"))
    if (auto xff = req.header("X-Forwarded-For")) {
      auto last = xff->substr(xff->rfind(',') == std::string_view::npos ? 0 : xff->rfind(',') + 1);
      while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
      while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
      if (!last.empty() && last.size() <= 64) return std::string(last);
    }
  return std::string(req.peer);
}

// A configured burst, or twice the rate when it is 0.
double burst_of(std::uint32_t rate, std::uint32_t burst) { return burst ? burst : 2.0 * rate; }

// 429 with Retry-After: the bucket's wait, rounded up to whole seconds.
http_reply rate_limited_reply(std::string detail, std::chrono::milliseconds wait) {
  http_reply r = error_reply({errc::rate_limited, std::move(detail)});
  r.headers.emplace_back("Retry-After", fmt::format("{}", (wait.count() + 999) / 1000));
  return r;
}

}  // namespace

http_reply error_reply(const error& e) {
  const auto& d = describe(e.code);
  http_reply r = json_reply(
      d.http_status, {{"error", d.name}, {"detail", e.detail.empty() ? d.detail : e.detail}});
  if (e.code == errc::unavailable) r.headers.emplace_back("Retry-After", "5");
  // Basic too: some HTTP clients send URL credentials (SendGrid, Postmark) only when challenged.
  if (e.code == errc::unauthorized)
    r.headers.emplace_back("WWW-Authenticate",
                           R"(Basic realm="switchboard", Bearer realm="switchboard")");
  return r;
}

http_reply not_allowed(std::string_view allow) {
  http_reply r = error_reply({errc::method_not_allowed});
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

pipeline::pipeline(const config_holder& cfg, ingest_sink& sink) : cfg_(cfg), sink_(sink) {}

head_verdict pipeline::check_head(const request_view& head) {
  const auto cfg = cfg_.get();
  const auto& rl = cfg->server.rate_limit;
  head_verdict v;
  v.route = route_of(head.target);
  const request_route& route = v.route;
  v.body_limit = cfg->server.max_body_bytes;
  const bool reads = read_api_ && route.what == request_route::resource::api;
  if (!reads && route.what != request_route::resource::webhook) return v;

  // Refusals are budgeted per client and resource: a provider whose one channel is
  // misconfigured keeps delivering to the others from the same addresses.
  const channel* ch = reads || route.channel.empty() ? nullptr : cfg->find_channel(route.channel);
  const std::string client = client_address(head, rl.trust_forwarded_for);
  const std::string key = refusal_key(client, reads ? nullptr : ch, reads);
  // A client that had too many requests refused lately is answered before anything else.
  if ((v.refusal =
           over_limit(refusals_, key, rl.refused_per_client, rl.refused_per_client_burst, false))) {
    if (ch) count(ch->config.name, "rejected", "rate_limited", 1);
    return v;
  }
  if (reads) {
    if ((v.refusal = over_limit(reads_, client, rl.reads_per_client, rl.reads_per_client_burst)))
      return v;
    if (error e = read_api_->authorize(head); e.code != errc::ok) {
      charge_refusal(rl, key);
      v.refusal = error_reply(e);
    }
    return v;
  }
  if (!ch) {
    charge_refusal(rl, key);
    v.refusal = error_reply({errc::unknown_channel});
    return v;
  }
  if (ch->config.max_body_bytes)
    v.body_limit = ch->config.max_body_bytes;
  else
    v.body_limit = std::max(v.body_limit, ch->type->default_max_body);
  if (head.method == "GET" && ch->handler->has_handshake()) {
    v.refusal = over_limit(reads_, client, rl.reads_per_client, rl.reads_per_client_burst);
  } else if (head.method == "POST") {
    // What the headers alone prove or disprove (a password whole, a signature's presence and
    // form, a signed timestamp): a forged request is refused before its body is read.
    if (error e = ch->handler->check_head(head); e.code != errc::ok)
      v.refusal = refuse(*cfg, *ch, head, e);
  }
  return v;
}

std::string pipeline::refusal_key(const std::string& client, const channel* ch, bool reads) {
  return client + (reads ? std::string(" read API") : " channel " + (ch ? ch->config.name : "?"));
}

std::optional<http_reply> pipeline::over_limit(rate_limiter& bucket, const std::string& key,
                                               std::uint32_t rate, std::uint32_t burst, bool take) {
  const double b = burst_of(rate, burst);
  const auto now = std::chrono::steady_clock::now();
  const auto wait = take ? bucket.take(key, rate, b, now) : bucket.wait(key, rate, b, now);
  if (wait.count() == 0) return std::nullopt;
  const bool refusals = &bucket == &refusals_;
  if (auto skipped = refusal_log.allow(refusals ? "refused/rate_limited" : "reads/rate_limited"))
    log::warn("ingress", "rate limited client={} ({}){}", key,
              refusals ? "too many refused requests" : "too many reads",
              *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
  return rate_limited_reply(refusals ? "too many refused requests from this client; retry later"
                                     : "too many requests; retry later",
                            wait);
}

void pipeline::charge_refusal(const rate_limit_config& rl, const std::string& key) {
  refusals_.take(key, rl.refused_per_client,
                 burst_of(rl.refused_per_client, rl.refused_per_client_burst),
                 std::chrono::steady_clock::now());
}

http_reply pipeline::refuse(const config& cfg, const channel& ch, const request_view& req,
                            const error& e) {
  charge_refusal(
      cfg.server.rate_limit,
      refusal_key(client_address(req, cfg.server.rate_limit.trust_forwarded_for), &ch, false));
  const auto& d = describe(e.code);
  count(ch.config.name, "rejected", d.name, 1);
  // The detail names the field or check that failed, never a value from the body.
  if (auto skipped = refusal_log.allow(ch.config.name + "/" + std::string(d.name)))
    log::info("ingress", "rejected channel={} status={} reason={} detail=\"{}\"{}", ch.config.name,
              d.http_status, d.name, e.detail,
              *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
  return error_reply(e);
}

void pipeline::handle(const request_view& req, const request_route& route,
                      std::function<void(http_reply)> done) {
  // A snapshot: a reload during this request does not change the rules it runs under.
  const auto cfg = cfg_.get();
  using resource = request_route::resource;

  if (route.what == resource::healthz) {
    if (req.method != "GET" && req.method != "HEAD") return done(not_allowed("GET, HEAD"));
    return done(json_reply(200, {{"status", "ok"}}));
  }
  if (read_api_ && route.what == resource::api) return read_api_->handle(req, std::move(done));
  if (route.what == resource::metrics) {
    if (req.method != "GET" && req.method != "HEAD") return done(not_allowed("GET, HEAD"));
    if (!metrics_page_) return done(error_reply({errc::not_found}));
    http_reply r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_page_();
    return done(std::move(r));
  }
  if (route.what == resource::readyz) {
    if (req.method != "GET" && req.method != "HEAD") return done(not_allowed("GET, HEAD"));
    if (auto why = not_ready()) return done(error_reply({errc::unavailable, *why}));
    return done(json_reply(200, {{"status", "ready"}}));
  }
  if (route.what != resource::webhook) return done(error_reply({errc::not_found}));

  const channel* ch = route.channel.empty() ? nullptr : cfg->find_channel(route.channel);
  if (!ch) return done(error_reply({errc::unknown_channel}));  // (check_head charged it)

  if (req.method == "POST") return webhook(*cfg, *ch, req, std::move(done));
  if (req.method == "GET" && ch->handler->has_handshake()) {
    // Provider handshakes (Meta hub.challenge, X CRC): answered by the adapter, nothing stored.
    auto answer = ch->handler->handshake(req);
    const auto& rl = cfg->server.rate_limit;
    const auto key = refusal_key(client_address(req, rl.trust_forwarded_for), ch, false);
    if (!answer) {
      charge_refusal(rl, key);
      log::info("ingress", "handshake refused channel={} reason={}", ch->config.name,
                describe(answer.error().code).name);
      return done(error_reply(answer.error()));
    }
    if (answer->status >= 400) charge_refusal(rl, key);
    return done(answer_reply(*answer));
  }
  return done(not_allowed(ch->handler->has_handshake() ? "GET, POST" : "POST"));
}

void pipeline::webhook(const config& cfg, const channel& ch, const request_view& req,
                       std::function<void(http_reply)> done) {
  // 0. The client's own limit, before any parsing or signature work (off by default).
  const auto& rl = cfg.server.rate_limit;
  const auto rate_limited = [&](std::chrono::milliseconds wait) {
    count(ch.config.name, "rejected", "rate_limited", 1);
    if (auto skipped = refusal_log.allow(ch.config.name + "/rate_limited"))
      log::warn("ingress", "rate limited channel={} peer={}{}", ch.config.name, req.peer,
                *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
    done(rate_limited_reply("too many requests; retry later", wait));
  };
  if (rl.per_client > 0)
    if (auto wait = limits_.take("client/" + client_address(req, rl.trust_forwarded_for),
                                 rl.per_client, burst_of(rl.per_client, rl.per_client_burst),
                                 std::chrono::steady_clock::now());
        wait.count() > 0)
      return rate_limited(wait);
  // 1. Verify and parse: the adapter checks the signature over the raw bytes before it
  //    trusts anything in the body, then normalizes the provider's format. An event it cannot
  //    read is kept as unreadable rather than the delivery refused, for the types whose
  //    providers can only retry (channel.hpp, keeps_unreadable). A refusal is charged to the
  //    client's budget of refusals, never to the channel's.
  auto parsed = ch.handler->receive(req);
  if (!parsed) return done(refuse(cfg, ch, req, parsed.error()));
  // 1b. The channel's budget, spent only by authenticated requests: a flood of forged ones
  //     cannot make a provider's genuine deliveries wait.
  if (auto wait = limits_.take("channel/" + ch.config.name, rl.per_channel,
                               burst_of(rl.per_channel, rl.per_channel_burst),
                               std::chrono::steady_clock::now());
      wait.count() > 0)
    return rate_limited(wait);
  // 2. No signature is good twice: the same signed id (Mailgun's token, a webhook-id) with
  //    other content is a captured signature replayed; with the same content, the provider's
  //    retry, which the store's dedupe answers.
  const auto use = parsed->signature
                       ? signatures_.check(ch.config.name, *parsed->signature, req.now)
                       : replay_guard::verdict::retry;
  if (use == replay_guard::verdict::retry) parsed->signature.reset();  // remembered already
  if (use == replay_guard::verdict::replay) {
    count(ch.config.name, "rejected", "bad_signature", 1);
    if (auto skipped = refusal_log.allow(ch.config.name + "/replay"))
      log::warn("ingress",
                "a signature already used came back with other content channel={} "
                "peer={} (a replay){}",
                ch.config.name, req.peer,
                *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
    return done(
        error_reply({errc::bad_signature, "this signature was already used for another request"}));
  }
  // 3. Whatever the channel, the ids that become store keys must be free of control and
  //    invisible characters: such a message is refused, or kept unreadable. Names are cleaned.
  if (error e = check_messages(*ch.handler, *parsed); e.code != errc::ok) {
    count(ch.config.name, "rejected", describe(e.code).name, 1);
    return done(error_reply(e));
  }
  std::optional<kept_delivery> kept;
  if (!parsed->unreadable.empty()) {
    kept.emplace();
    kept->events = std::move(parsed->unreadable);
    kept->content_type = std::string(req.header("content-type").value_or(""));
    kept->body = std::string(req.body);
  }
  ingest(cfg, ch, std::move(*parsed), std::move(kept), req.now, std::move(done));
}

error pipeline::check_messages(const adapter& handler, parse_result& parsed) {
  for (std::size_t i = 0; i < parsed.messages.size();) {
    error e = check_keys(parsed.messages[i]);
    if (e.code == errc::ok) {
      // Names are shown to agents: NFC, no bidi controls or zero-width characters that could
      // disguise them.
      parsed.messages[i].sender_name = display_name(parsed.messages[i].sender_name);
      ++i;
      continue;
    }
    if (!handler.keeps_unreadable()) return e;
    // A mail or a Twilio webhook is one message: the body is the event. (The JSON readers
    // refuse such ids themselves, naming the event's path.)
    const std::string path = parsed.messages.size() == 1 && parsed.unreadable.empty()
                                 ? std::string("body")
                                 : fmt::format("message {}", i + 1);
    parsed.unreadable.push_back({path, e.detail, {}});
    parsed.messages.erase(parsed.messages.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return {};
}

void pipeline::ingest(const config& cfg, const channel& ch, parse_result parsed,
                      std::optional<kept_delivery> kept, millis now,
                      std::function<void(http_reply)> done) {
  if (kept && !kept->events.empty()) {
    count(ch.config.name, "unreadable", "", kept->events.size());
    const auto& first = kept->events.front();
    if (auto skipped = refusal_log.allow(ch.config.name + "/unreadable"))
      log::warn("ingress",
                "kept {} unreadable event(s) channel={} first path={} reason=\"{}\"; see GET "
                "/v1/unreadable{}",
                kept->events.size(), ch.config.name, first.path, first.reason,
                *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
  }
  // 3b. The blocklist (server.blocklist_file): a message one of whose verified identities (or
  // a verified address's domain) is listed is dropped here, before anything is stored or
  // queued, and answered like an ignored event so that the provider stops retrying it. A claim
  // blocks nothing: anyone can type an address.
  std::size_t blocked_n = 0;  // counted as blocked, answered as ignored
  if (const auto& blocked = cfg.server.blocklist) {
    const auto n = std::erase_if(parsed.messages, [&](const inbound_message& m) {
      return std::any_of(m.identities.begin(), m.identities.end(),
                         [&](const identity& id) { return id.verified && blocked->contains(id); });
    });
    if (n > 0) {
      count(ch.config.name, "blocked", "", n);
      parsed.ignored += n;
      blocked_n = n;
      log::debug("ingress", "blocked channel={} messages={}", ch.config.name, n);
    }
  }
  // A signature's first use is remembered across a restart: with the commit, or, when nothing
  // is stored, with the writer's next transaction.
  std::optional<signature_use> first_use = std::move(parsed.signature);
  // 4. Receipts, statuses and other non-messages: counted, answered 200, nothing stored. A
  // status of a sent reply is committed (it moves the reply on) before the answer.
  if (parsed.messages.empty() && !kept && parsed.statuses.empty()) {
    if (first_use) sink_.remember({ch.config.name, std::move(*first_use)});
    log::debug("ingress", "ignored channel={} events={}", ch.config.name, parsed.ignored);
    count(ch.config.name, "ignored", "", parsed.ignored - blocked_n);
    if (parsed.ack) return done(answer_reply(*parsed.ack));
    return done(outcome_reply({{}, 0, parsed.ignored, 0, false}));
  }
  const std::size_t n = std::max<std::size_t>(parsed.messages.size(), 1);
  // 5. Back-pressure: past the backlog bound nothing more is promised; the provider retries.
  // Refused for now, the signature is still remembered: its retry must find it after a restart.
  const auto remember_apart = [&] {
    if (first_use) sink_.remember({ch.config.name, std::move(*first_use)});
  };
  if (draining_) {
    count(ch.config.name, "rejected", "unavailable", n);
    remember_apart();
    return done(error_reply({errc::unavailable, "shutting down; retry later"}));
  }
  if (sink_.backlog() >= static_cast<std::int64_t>(cfg.store.max_backlog)) {
    remember_apart();
    count(ch.config.name, "rejected", "unavailable", n);
    if (auto skipped = refusal_log.allow(ch.config.name + "/backlog"))
      log::warn("ingress", "backlog {} at its bound; answering 503 channel={}{}", sink_.backlog(),
                ch.config.name,
                *skipped ? fmt::format(" ({} similar left out)", *skipped) : std::string());
    return done(error_reply({errc::unavailable, "too many unpublished messages; retry later"}));
  }
  // 6. The files customers sent (docs/attachments.md): those the request carries are written
  // to the blob store now, durable before the commit that names them; provider media are
  // left for the media fetcher. Over the limits, a file is not kept and the payload says so.
  if (blobs_ != nullptr) {
    auto kept_files = keep_attachments(*blobs_, cfg.store.attachments, ch.config, parsed.messages);
    if (!kept_files) {
      remember_apart();
      count(ch.config.name, "rejected", "unavailable", n);
      log::error("ingress", "cannot keep attachments channel={}: {}", ch.config.name,
                 kept_files.error().detail);
      return done(error_reply({errc::unavailable, "cannot keep attachments now; retry later"}));
    }
    if (kept_files->too_large > 0)
      log::info("ingress", "channel={} {} attachment(s) over the size limits not kept",
                ch.config.name, kept_files->too_large);
  }
  // 7. Store, route and enqueue in one group-committed transaction; reply only once durable.
  ingest_request ir;
  ir.channel = ch.config.name;
  ir.channel_type = ch.config.type;
  ir.received_at = now;
  // Every message gets a language: the provider's hint, else CLD2 on its text (null when the
  // detector is unsure). Done here, on the HTTP threads, not on the single writer thread.
  for (auto& m : parsed.messages) m.language = message_language(m);
  ir.messages = std::move(parsed.messages);
  ir.ignored = parsed.ignored;
  ir.statuses = std::move(parsed.statuses);
  ir.kept = std::move(kept);
  ir.seen = std::move(first_use);
  ir.routing = cfg.routing;
  prepare(ir);  // ids and message JSON here too, off the writer thread
  std::optional<signature_use> seen_copy = ir.seen;
  sink_.submit(std::move(ir), [this, done = std::move(done), channel = ch.config.name, n, blocked_n,
                               ack = std::move(parsed.ack),
                               seen = std::move(seen_copy)](result<ingest_outcome> r) {
    if (!r) {
      count(channel, "rejected", describe(r.error().code).name, n);
      if (seen) sink_.remember({channel, *seen});  // rolled back with the batch
      return done(error_reply(r.error()));
    }
    // Per message at debug: at thousands a second, info would flood the journal.
    for (const auto& a : r->accepted)
      log::debug("ingest", "accepted channel={} message_id={} conversation_id={} skill={}", channel,
                 a.message_id, a.conversation_id, a.skill.empty() ? "-" : a.skill);
    if (r->duplicates)
      log::debug("ingest", "duplicates channel={} count={}", channel, r->duplicates);
    count(channel, "accepted", "", r->accepted.size());
    count(channel, "duplicate", "", r->duplicates);
    count(channel, "ignored", "", r->ignored - std::min(r->ignored, blocked_n));
    done(ack ? answer_reply(*ack) : outcome_reply(*r));
  });
}

void pipeline::replay(const kept_row& row, millis now, std::function<void(http_reply)> done) {
  const auto cfg = cfg_.get();
  const channel* ch = cfg->find_channel(row.channel);
  if (ch == nullptr)
    return done(error_reply({errc::not_found, fmt::format("channel {} is no longer configured; "
                                                          "add it back to replay this delivery",
                                                          row.channel)}));
  if (ch->config.type != row.channel_type)
    return done(error_reply(
        {errc::malformed, fmt::format("channel {} is now of type {}, the delivery was {}",
                                      row.channel, ch->config.type, row.channel_type)}));
  const header_field headers[] = {{"Content-Type", row.content_type}};
  request_view req;
  req.method = "POST";
  req.target = "/";
  req.headers = headers;
  req.body = row.body;
  req.now = now;
  auto parsed = ch->handler->parse_verified(req);
  if (!parsed) {
    // The delivery as a whole still cannot be read (it could when it arrived, or it would not
    // have been kept): nothing changes.
    return done(error_reply(
        {errc::malformed, "the kept delivery cannot be read: " + parsed.error().detail}));
  }
  if (error e = check_messages(*ch->handler, *parsed); e.code != errc::ok)
    return done(error_reply(e));
  kept_delivery kept;
  kept.events = std::move(parsed->unreadable);
  kept.replay_of = row.id;
  log::info("api", "replaying kept delivery {} channel={}", row.id, row.channel);
  parsed->ack.reset();  // the answer goes to the operator, as JSON
  ingest(*cfg, *ch, std::move(*parsed), std::move(kept), now, std::move(done));
}

std::optional<std::string> pipeline::not_ready() const {
  if (draining_) return "shutting down";
  return not_ready_ ? not_ready_() : std::nullopt;
}

void pipeline::count(std::string_view channel, std::string_view outcome, std::string_view reason,
                     std::size_t n) const {
  if (metrics_ && n > 0) metrics_->messages(channel, outcome, reason, n);
}

void pipeline::observe_reply(std::string_view method, const request_route& route, unsigned status,
                             double seconds) const {
  if (!metrics_) return;
  using resource = request_route::resource;
  std::string_view handler = "other";
  std::string_view channel;
  switch (route.what) {
    case resource::healthz:
      handler = "healthz";
      break;
    case resource::readyz:
      handler = "readyz";
      break;
    case resource::metrics:
      handler = "metrics";
      break;
    case resource::api:
      handler = "api";
      break;
    case resource::webhook:
      handler = method == "GET" ? "handshake" : "webhook";
      // Only configured names become label values: request text must not grow the series.
      if (!route.channel.empty() && cfg_.get()->find_channel(route.channel) != nullptr)
        channel = route.channel;
      break;
    case resource::other:
      break;
  }
  metrics_->request(handler, channel, status, seconds);
}

}  // namespace sb
