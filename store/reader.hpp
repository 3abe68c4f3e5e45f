// The read API's view of the store (store_backend::open_reader): a connection of its own that
// never blocks the writer, shared by the HTTP threads; the read API is not a hot path.
// Answers are JSON texts, built the way payloads are (stored message JSON is not re-parsed).
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "store/media.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

// A delivery kept because some of its events could not be read (store.hpp, kept_delivery).
struct kept_row {
  std::string id;
  std::string channel;
  std::string channel_type;
  millis received_at = 0;
  std::string content_type;
  std::string body;         // exactly as received
  std::string events_json;  // [{"path", "reason", "event"}]
  std::int64_t event_count = 0;
  std::string status;  // pending | replayed
  std::optional<millis> replayed_at;
};

class store_reader {
 public:
  virtual ~store_reader() = default;

  // {"conversation":{..., "skill_history":[{at, skill, previous_skill, message_id, reason}]},
  //  "customer":{...},"thread":[every message, oldest first]}.
  // A merged conversation answers as the one that absorbed it. nullopt: no such id.
  virtual std::optional<std::string> conversation(std::string_view id) = 0;

  // {"id","name","created_at","identities":[...],"merged_ids":[...],"conversations":[...]}.
  // A merged customer answers as the survivor.
  virtual std::optional<std::string> customer(std::string_view id) = 0;

  // Everything stored about a customer (GDPR Art. 15/20; docs/export.schema.json): the
  // customer as customer() shows it, its claims, merge history, every conversation of it and
  // of the customers merged into it with skill history, messages (attachments' metadata and
  // URLs in them) and replies' deliveries, in one read snapshot. A merged customer's id
  // exports its survivor. errc::not_found: no such id; errc::unavailable: a read failed.
  virtual result<std::string> customer_export(std::string_view id, millis now) = 0;

  // The customer owning an identity, e.g. ("email", "ann@example.com").
  virtual std::optional<std::string> customer_id_by_identity(std::string_view type,
                                                             std::string_view value) = 0;

  // A kept delivery with its body; nullopt: no such id.
  virtual std::optional<kept_row> kept(std::string_view id) = 0;
  // {"unreadable": [{"id", "channel", "channel_type", "received_at", "status", "replayed_at",
  // "event_count", "body_bytes", "events": [{"path", "reason"}]}]}, newest first: those of
  // `status` ("pending", "replayed" or "all"), of `channel` unless it is empty, at most `limit`.
  virtual std::string kept_list(std::string_view status, std::string_view channel,
                                std::size_t limit) = 0;
  // Kept deliveries not replayed yet (a gauge on /metrics).
  virtual std::int64_t kept_pending() = 0;

  // {"parked": [{"seq", "message_id", "conversation_id", "skill", "channel", "channel_type",
  // "priority", "created_at", "parked_at", "bytes", "reason"}]}: outbox rows the broker
  // refused for good, oldest first, at most `limit`.
  virtual std::string parked_list(std::size_t limit) = 0;
  // How many rows are parked (a gauge on /metrics).
  virtual std::int64_t parked() = 0;

  // When the oldest unpublished message was committed (the outbox's head), nullopt when the
  // outbox is empty. For the outbox-age metric.
  virtual std::optional<std::int64_t> oldest_outbox_millis() = 0;
  // An attachment's record (media.hpp), for GET /v1/attachments/{id}; nullopt when none.
  virtual std::optional<attachment_record> attachment(std::string_view id) = 0;
};

}  // namespace sb
