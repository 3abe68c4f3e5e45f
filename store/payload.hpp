// The queue payload, switchboard.conversation/v1 (docs/payload.schema.json; the AMQP side in
// docs/api.md, "Queue messages").
// Messages are serialized once, when stored; a payload is assembled from those stored JSON
// texts without parsing them again, so its cost grows with thread_limit, not with history.
#pragma once

#include "channels/message.hpp"
#include "core/time.hpp"
#include "replies/reply.hpp"

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

// The customer's message an agent's reply answers, as the store found it.
struct reply_addressing {
  std::string answers;     // its id
  std::string recipient;   // its sender's address: where the reply goes
  std::string subject;     // its subject (e-mail), empty when none
  std::string visibility;  // a reply to a public message (a comment) is seen by others too
};

// An agent's reply as a message of its thread (docs/replies.md): direction "outbound", "from"
// the agent, "author" {"type": "agent", "id", "name"}, "answers" (the message id it answers),
// "status" (its delivery status), an e-mail's subject "Re: " the one it answers.
std::string reply_message_json(const reply& r, const stored_message_meta& meta,
                               const reply_addressing& to, std::string_view status);

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

// The payload of the last message of `thread` (stored message JSON texts, oldest first) in at
// most about `max_bytes` (store.max_payload_bytes), so that no payload is more than the broker
// takes and the publisher holds a known amount:
// - a message longer than its share (the new message a quarter of what the conversation and
//   customer leave, as it is sent twice, in `message` and at the end of `thread`; an older one
//   an eighth) has its longest strings cut (its text first), each ending with
//   truncation_marker(), and gets "truncated": true; the stored message stays whole (read API);
// - older messages are taken newest first while they fit; `thread_truncated` is true when any
//   was left out (or `older_left_out`: beyond store.thread_limit).
// Below the budget the result is build_payload's, byte for byte.
std::string build_bounded_payload(const conversation_view& conv, const customer_view& customer,
                                  std::span<const std::string> thread, bool older_left_out,
                                  std::size_t max_bytes);

// What ends a string build_bounded_payload cut, in the conversation of that id.
std::string truncation_marker(std::string_view conversation_id);

// `message_json` (one stored message) fitted into `max_bytes` as above, its cut strings
// ending with `marker`; unchanged when it fits.
std::string fit_message(std::string_view message_json, std::size_t max_bytes,
                        std::string_view marker);

}  // namespace sb
