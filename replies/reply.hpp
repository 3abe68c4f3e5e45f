// An agent's reply, contract `switchboard.reply/v1` (docs/reply.schema.json): what an agent's
// tool publishes on the replies queue, or sends to POST /v1/conversations/{id}/messages.
// Parsing is pure: whether the conversation exists, whether its channel can deliver, and the
// idempotency key are the caller's (the AMQP message_id, the Idempotency-Key header).
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

inline constexpr std::string_view reply_schema = "switchboard.reply/v1";

struct reply_agent {
  std::string id;
  std::string name;  // empty when not given
};

struct reply_attachment {
  std::string url;  // absolute http(s) URL the delivery fetches or hands to the provider
  std::string name;
  std::string content_type;
};

struct reply {
  std::string conversation_id;
  std::string text;  // may be empty when there are attachments
  reply_agent agent;
  // A channel name; when absent, the channel of the customer's latest inbound message.
  std::optional<std::string> channel;
  // The id of the conversation's message this answers (threading on e-mail, quoting on chat).
  std::optional<std::string> in_reply_to;
  std::vector<reply_attachment> attachments;
};

// The queue's body names its schema and conversation; the HTTP API's body names neither (the
// conversation is in the path, the version in the URL).
enum class reply_source { queue, http };

struct reply_limits {
  // The whole body, checked before it is parsed: the largest reply fits even with its text
  // written in \u escapes.
  std::size_t body_bytes = 512 * 1024;
  // Above every provider's own limit; each channel checks its own when it delivers.
  std::size_t text_bytes = 64 * 1024;
  std::size_t attachments = 10;
  std::size_t url_bytes = 2048;
  std::size_t field_bytes = 256;  // ids, names, the channel, content types
};

// The reply in `body`. errc::too_large when it is larger than body_bytes (checked first);
// errc::malformed with a detail naming the field (never its value) when it is not a reply: not
// a JSON object, an unknown field, a required one missing or of the wrong type, a control
// character in a one-line field (ids, names, the channel, content types), an attachment URL
// that is not an http(s) URL with a host and without credentials, nothing to send (no text and
// no attachment), over a limit. For http, `conversation_id` is the id from the path. Where a
// URL points (a private address, say) is for the delivery to check when it resolves the host.
result<reply> parse_reply(std::string_view body, reply_source source,
                          std::string_view conversation_id = {}, const reply_limits& limits = {});

// The reply as one JSON text with its fields in a fixed order: two replies are the same reply
// when these are equal (the idempotency key's check), whatever order or spacing their bodies had.
std::string canonical_json(const reply& r);

}  // namespace sb
