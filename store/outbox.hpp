// An outbox row: a payload committed in the same transaction as its message, waiting for the
// broker's confirm. Rows are deleted only after the confirm (see store/writer.hpp).
#pragma once

#include "core/time.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace sb {

struct outbox_row {
  std::int64_t seq = 0;         // ascending commit order
  std::string message_id;       // AMQP message_id
  std::string conversation_id;  // AMQP correlation_id
  std::string skill;            // the skill the rules chose
  // Publisher only: the overflow skill a full queue sent this row on to (routing key and
  // x-skill when set); never stored, so a retry starts again at `skill`.
  std::string overflow_to;
  std::chrono::steady_clock::time_point published_at{};  // publisher only: confirm latency
  std::string channel;          // header x-channel
  std::string channel_type;     // header x-channel-type
  int priority = 0;
  millis created_at = 0;  // AMQP timestamp
  std::string body;       // switchboard.conversation/v1 JSON
};

}  // namespace sb
