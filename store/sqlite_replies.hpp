// The SQLite backend's half of agents' replies (store.hpp, reply_request): the writes of one
// reply inside the writer's batch transaction. Private to the SQLite backend.
#pragma once

#include "core/error.hpp"
#include "store/store.hpp"

#include <memory>
#include <span>

struct sqlite3;

namespace sb {

class sqlite_replies {
 public:
  explicit sqlite_replies(sqlite3* db);  // prepares its statements on the writer connection
  ~sqlite_replies();
  sqlite_replies(const sqlite_replies&) = delete;
  sqlite_replies& operator=(const sqlite_replies&) = delete;

  // The reply of `req` (prepared), in the open transaction. A refusal (errc::not_found,
  // conflict, malformed, undeliverable, window_closed) is returned before anything is
  // written; a SQLite failure throws sql::sqlite_failure, as the batch expects.
  result<reply_receipt> commit(const ingest_request& req);
  // Delivery updates (delivery.hpp) in the open transaction: a status moves only forward, and
  // the reply's stored JSON follows it (status, sent_at, failure_reason); the conversations
  // whose threads changed are added to `handed`.
  void record(std::span<const delivery_update> updates, committed_batch& handed);
  // Providers' status reports on channel `channel`, each for the reply its send answered with
  // that provider id (none: skipped), as updates that are not attempts.
  void apply_statuses(std::string_view channel, std::span<const delivery_status> statuses,
                      millis received_at, committed_batch& handed);
  // Events the broker confirmed (delivery.hpp, event_row), deleted in the open transaction.
  void forget_events(std::span<const std::int64_t> seqs);
  // record() kept the hash of a sent reply's provider id in forgotten_keys (its reply was
  // erased while it was being sent) since the store was opened.
  bool forgot_keys() const noexcept { return forgot_; }

 private:
  void record_one(const delivery_update& u, committed_batch& handed);
  struct statements;
  sqlite3* db_;
  std::unique_ptr<statements> st_;
  bool forgot_ = false;
};

}  // namespace sb
