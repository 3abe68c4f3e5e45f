#include "daemon/reply_intake.hpp"

#include "replies/channels.hpp"

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

}  // namespace sb
