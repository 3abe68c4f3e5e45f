// The read API's view of the store: one read-only SQLite connection (WAL readers never block
// the writer), shared by the HTTP threads under a mutex; the read API is not a hot path.
// Answers are JSON texts, built the way payloads are (stored message JSON is not re-parsed).
#pragma once

#include "core/error.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;

namespace sb {

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
