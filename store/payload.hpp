// The queue payload, switchboard.conversation/v1 (architecture.md, "The queue payload").
// Messages are serialized once, when stored; a payload is assembled from those stored JSON
// texts without parsing them again, so its cost grows with thread_limit, not with history.
#pragma once

#include "channels/message.hpp"
#include "core/time.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct stored_message_meta {
  std::string id;
  std::string channel;
  std::string channel_type;
  millis received_at = 0;
  std::string provider_id;  // the dedupe key: the provider's id, or the store's hash of the message
};

// The JSON object of one message as it appears in `message` and in `thread`.
std::string message_json(const inbound_message& m, const stored_message_meta& meta);

struct conversation_view {
  std::string id;
  std::string status;
  std::optional<std::string> skill;
  int priority = 0;
  millis opened_at = 0;
  millis last_message_at = 0;
  std::int64_t message_count = 0;
};

struct customer_view {
  std::string id;
  std::string name;
  std::vector<identity> identities;
};

// `thread` holds stored message JSON texts, oldest first, the new message last.
std::string build_payload(const conversation_view& conv, const customer_view& customer,
                          std::string_view message, std::span<const std::string> thread,
                          bool thread_truncated);

}  // namespace sb
