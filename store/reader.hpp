// The read API's view of the store: one read-only SQLite connection (WAL readers never block
// the writer), shared by the HTTP threads under a mutex; the read API is not a hot path.
// Answers are JSON texts, built the way payloads are (stored message JSON is not re-parsed).
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;

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
  static result<std::unique_ptr<store_reader>> open(const std::string& path);
  ~store_reader();
  store_reader(const store_reader&) = delete;
  store_reader& operator=(const store_reader&) = delete;

  // {"conversation":{..., "skill_history":[{at, skill, previous_skill, message_id, reason}]},
  //  "customer":{...},"thread":[every message, oldest first]}.
  // A merged conversation answers as the one that absorbed it. nullopt: no such id.
  std::optional<std::string> conversation(std::string_view id);

  // {"id","name","created_at","identities":[...],"merged_ids":[...],"conversations":[...]}.
  // A merged customer answers as the survivor.
  std::optional<std::string> customer(std::string_view id);

  // The customer owning an identity, e.g. ("email", "ann@example.com").
  std::optional<std::string> customer_id_by_identity(std::string_view type,
                                                     std::string_view value);

  // A kept delivery with its body; nullopt: no such id.
  std::optional<kept_row> kept(std::string_view id);
  // {"unreadable": [{"id", "channel", "channel_type", "received_at", "status", "replayed_at",
  // "event_count", "body_bytes", "events": [{"path", "reason"}]}]}, newest first: those of
  // `status` ("pending", "replayed" or "all"), of `channel` unless it is empty, at most `limit`.
  std::string kept_list(std::string_view status, std::string_view channel, std::size_t limit);
  // Kept deliveries not replayed yet (a gauge on /metrics).
  std::int64_t kept_pending();

  // {"parked": [{"seq", "message_id", "conversation_id", "skill", "channel", "channel_type",
  // "priority", "created_at", "parked_at", "bytes", "reason"}]}: outbox rows the broker
  // refused for good, oldest first, at most `limit`.
  std::string parked_list(std::size_t limit);
  // How many rows are parked (a gauge on /metrics).
  std::int64_t parked();

  // When the oldest unpublished message was committed (the outbox's head), nullopt when the
  // outbox is empty. For the outbox-age metric.
  std::optional<std::int64_t> oldest_outbox_millis();

 private:
  store_reader() = default;
  struct statements;
  std::mutex m_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
};

}  // namespace sb
