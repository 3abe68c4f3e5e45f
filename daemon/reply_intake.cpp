#include "daemon/reply_intake.hpp"

#include "core/log.hpp"
#include "replies/channels.hpp"
#include "store/ingest_sink.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <fmt/core.h>

namespace sb {

error check_idempotency_key(std::string_view key) {
  if (key.empty()) return {errc::malformed, "the idempotency key is empty"};
  if (key.size() > 255)
    return {errc::malformed,
            fmt::format("the idempotency key is {} bytes; at most 255", key.size())};
  for (const char c : key)
    if (c < 0x21 || c > 0x7e)
      return {errc::malformed,
              "the idempotency key must be printable ASCII without spaces (a UUID, say)"};
  return {};
}

result<ingest_request> reply_request_for(const config& cfg, reply r, std::string key, millis now) {
  if (r.channel)
    if (auto why = cannot_send(cfg.channels, *r.channel)) return error{errc::undeliverable, *why};
  ingest_request req;
  req.channel = r.channel.value_or("");
  req.received_at = now;
  req.reply = reply_request{std::move(r), std::move(key), cfg.outbound, {}, {}};
  prepare(req);  // here, off the writer thread
  return req;
}

std::string receipt_json(const reply_receipt& r) {
  return boost::json::serialize(boost::json::object{{"message_id", r.message_id},
                                                    {"conversation_id", r.conversation_id},
                                                    {"channel", r.channel},
                                                    {"status", r.status}});
}

namespace {

reply_verdict rejected(const error& e) {
  return {reply_verdict::kind::rejected, std::string(describe(e.code).name),
          e.detail.empty() ? std::string(describe(e.code).detail) : e.detail};
}

}  // namespace

void queued_replies::take(std::string body, std::string key,
                          std::function<void(reply_verdict)> done) {
  if (key.empty())
    return done({reply_verdict::kind::rejected, "no_message_id",
                 "set the AMQP message_id property: it is the reply's idempotency key"});
  if (error e = check_idempotency_key(key); e.code != errc::ok) return done(rejected(e));
  auto parsed = parse_reply(body, reply_source::queue);
  if (!parsed) return done(rejected(parsed.error()));
  auto request = reply_request_for(*cfg_.get(), std::move(*parsed), std::move(key), now_ms());
  if (!request) return done(rejected(request.error()));
  sink_.submit(std::move(*request), [done = std::move(done)](result<ingest_outcome> r) {
    if (!r) {
      if (r.error().code == errc::unavailable) return done({reply_verdict::kind::retry, {}, {}});
      return done(rejected(r.error()));
    }
    const reply_receipt& receipt = *r->reply;
    if (!receipt.replayed)
      log::info("replies", "reply {} to conversation {} on channel {} queued (from the queue)",
                receipt.message_id, receipt.conversation_id, receipt.channel);
    done({receipt.replayed ? reply_verdict::kind::replayed : reply_verdict::kind::committed,
          {},
          {}});
  });
}

}  // namespace sb
