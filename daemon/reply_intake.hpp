// An agent's reply from its door (POST /v1/conversations/{id}/messages, the replies queue) to
// the store request the group writer commits, and its receipt back to an answer: the checks
// that need the config; the store checks the rest in the transaction (store.hpp,
// reply_request).
#pragma once

#include "core/error.hpp"
#include "daemon/config.hpp"
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

}  // namespace sb
