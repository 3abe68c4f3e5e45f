// An agent's reply from its door (POST /v1/conversations/{id}/messages, the replies queue) to
// the store request the group writer commits, and its receipt back to an answer: the checks
// that need the config; the store checks the rest in the transaction (store.hpp,
// reply_request).
#pragma once

#include "broker/reply_consumer.hpp"
#include "core/error.hpp"
#include "daemon/config.hpp"
#include "daemon/pipeline.hpp"
#include "replies/reply.hpp"
#include "store/store.hpp"

#include <string>
#include <string_view>

namespace sb {

// An idempotency key (the Idempotency-Key header, an AMQP message_id): 1 to 255 bytes of
// printable ASCII. errc::malformed saying what is wrong.
error check_idempotency_key(std::string_view key);

// The store request for `r` with `key`, under `cfg`, arrived at `now`. A channel the reply
// names is checked here, where the config says why it cannot send (errc::undeliverable).
result<ingest_request> reply_request_for(const config& cfg, reply r, std::string key, millis now);

// The answer's JSON: {"message_id", "conversation_id", "channel", "status"}.
std::string receipt_json(const reply_receipt& r);

// Replies from the replies queue (broker/reply_consumer.hpp): parsed as switchboard.reply/v1
// with the message_id as the key, checked under the current config and committed by `sink`.
// A reply refused is rejected with the refusal's name (malformed, too_large, not_found,
// conflict, undeliverable, window_closed; no_message_id without a key); one the store cannot
// take now (errc::unavailable) is retried.
class queued_replies final : public reply_sink {
 public:
  queued_replies(const config_holder& cfg, ingest_sink& sink) : cfg_(cfg), sink_(sink) {}
  void take(std::string body, std::string key, std::function<void(reply_verdict)> done) override;

 private:
  const config_holder& cfg_;
  ingest_sink& sink_;
};

}  // namespace sb
