// The conversation store: identities → customer, customer → open conversation, dedupe by
// (channel, provider id), the routing decision, the message and its outbox row, all in one
// SQLite transaction. One writer thread group-commits (store/writer.hpp); the HTTP reply is
// sent only after the commit is durable (WAL, synchronous=FULL).
#pragma once

#include "channels/channel.hpp"
#include "channels/message.hpp"
#include "core/error.hpp"
#include "routing/rules.hpp"
#include "store/handoff.hpp"
#include "store/options.hpp"
#include "store/outbox.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sb {

// What the store writes of one message that does not depend on what is stored already.
struct prepared_message {
  std::string id;           // the message's id, a UUIDv7 of received_at
  std::string provider_id;  // the dedupe key: the provider's id, else a hash of the content
  std::string body;         // the message's JSON as stored and as payloads carry it
};

// A delivery with unreadable events, kept whole beside what could be read of it.
struct kept_delivery {
  std::vector<unreadable_event> events;
  std::string content_type;
  std::string body;
  std::string replay_of;  // set when an operator replays an earlier kept delivery: that row is
                          // updated (replayed, or its events refreshed) instead of a new one kept
  // Filled by prepare(), off the writer thread:
  std::string id;           // the kept row's id, a UUIDv7 of received_at
  std::string body_sha256;  // hex; with the channel, what recognises a redelivery
  std::string events_json;  // the events as stored: [{"path","reason","event"}]
};

// A signature use remembered apart from a request (one that stored nothing: an event webhook).
struct seen_signature {
  std::string channel;
  signature_use use;
};

struct ingest_request {
  std::string channel;
  std::string channel_type;
  millis received_at = 0;
  std::vector<inbound_message> messages;
  std::size_t ignored = 0;
  std::optional<kept_delivery> kept;  // unreadable events, when there are any (or a replay)
  std::optional<signature_use> seen;  // a signature used for the first time, to remember
  std::shared_ptr<const routing_table> routing;  // the config snapshot the request arrived under
  std::vector<prepared_message> prepared;        // one per message once prepare() ran
};

// Fills `r.prepared`. The pipeline calls it on an HTTP thread, so that the single writer thread
// spends its time on the transaction only; commit() prepares a request that was not.
void prepare(ingest_request& r);

struct accepted_message {
  std::string message_id;
  std::string conversation_id;
  std::string customer_id;
  std::string skill;  // empty for outbound messages (stored, not routed)
};

struct ingest_outcome {
  std::vector<accepted_message> accepted;
  std::size_t duplicates = 0;
  std::size_t ignored = 0;
  std::size_t unreadable = 0;  // events kept unreadable (also when kept by an earlier delivery)
  bool kept_new = false;       // this request kept a delivery no earlier one had kept
};

class sqlite_store {
 public:
  // Opens (creating if needed) the database, sets WAL + synchronous=FULL, runs migrations.
  static result<std::unique_ptr<sqlite_store>> open(const store_options& opts);
  ~sqlite_store();
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  // One transaction for the whole batch, then the confirmed outbox rows are deleted. One
  // request's failure does not poison the others: the batch then runs again with each
  // request in a savepoint of its own. If the commit fails every request fails with
  // errc::unavailable. Writer thread only.
  struct commit_result {
    std::vector<result<ingest_outcome>> outcomes;  // one per request, in order
    std::int64_t outbox_added = 0;                 // rows written for the publisher
    std::int64_t outbox_removed = 0;               // confirmed rows deleted
    bool failed = false;                           // the transaction did not commit
    committed_batch handed;  // what was committed, for the publisher's reader (handoff.hpp)
  };
  commit_result commit(std::span<ingest_request* const> requests,
                       std::span<const std::int64_t> confirmed,
                       std::span<const seen_signature> seen = {});

  // The signatures remembered and not expired at `now` (the replay guard's memory, at start).
  // Expired ones are deleted. Writer thread only, before it runs.
  std::vector<seen_signature> load_signatures(millis now);

  std::int64_t outbox_size();  // rows waiting for a confirm
  // Bytes the writer connection's page cache holds now (at most about options().cache_bytes).
  // Writer thread only.
  std::int64_t cache_used_bytes();

  // Deletes a kept delivery (an operator is done with it). errc::not_found for an unknown id.
  // Its own small transaction. Writer thread only.
  result<void> delete_unreadable(std::string_view id);

  // Closes an open conversation; the customer's next message opens a new one. Returns the
  // conversation's status afterwards ("closed"); errc::not_found for an unknown id. Its own
  // small transaction. Writer thread only.
  result<std::string> close_conversation(std::string_view id, millis at);
  // Parked outbox rows (outbox.hpp, outbox_parking): the broker refuses them for good, so they
  // leave the outbox for `outbox_parked`, where ops see them (GET /v1/parked). Returns how
  // many rows moved (a row already deleted is skipped). One small transaction. Writer thread.
  result<std::int64_t> park(std::span<const outbox_parking> rows, millis at);
  // A parked row back into the outbox as a new row (its new seq, returned), which the
  // publisher meets like any other; errc::not_found for an unknown seq. Writer thread only.
  result<std::int64_t> unpark(std::int64_t seq);
  // Forgets a parked row (the message stays stored, it is never published). Writer thread.
  result<void> delete_parked(std::int64_t seq);

  // A one-row write transaction: true when the store takes writes (after a failed commit,
  // this is how the writer learns the disk has room again). Writer thread only.
  bool probe_write(millis at);
  const store_options& options() const noexcept { return opts_; }

  // Checkpoints. SQLite's automatic checkpoint (1,000 WAL pages) would run inside the writer's
  // COMMIT, stalling every request of the batch for the page copies and the database fsync.
  // Instead the writer's commits report the WAL's size to `listener` (the group writer wakes
  // a checkpoint thread on a connection of its own). Only when the WAL reaches
  // wal_hard_frames, i.e. the checkpoint thread cannot keep up or is not running, does the
  // writer checkpoint itself, which is what lets SQLite restart the WAL from its beginning
  // and keeps it bounded. Writer thread only (the listener runs on it).
  static constexpr int wal_hard_frames = 8000;  // ~32 MiB of WAL
  void on_wal_frames(std::function<void(int frames)> listener) { wal_listener_ = std::move(listener); }

 private:
  explicit sqlite_store(store_options opts);
  struct statements;
  store_options opts_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
  std::function<void(int)> wal_listener_;
  static int wal_hook(void* self, sqlite3* db, const char* schema, int frames);
  // Runs `body` in a transaction of its own: committed when it returns, rolled back (and the
  // exception passed on) when it throws.
  void in_transaction(const std::function<void()>& body);
  // One try at commit(): `isolate` runs each request in a savepoint of its own. Without it,
  // nullopt when a request failed (the transaction is then rolled back).
  std::optional<commit_result> run_batch(std::span<ingest_request* const> requests,
                                         std::span<const std::int64_t> confirmed,
                                         std::span<const seen_signature> seen, bool isolate);
  friend struct store_tx;
};

// The checkpoint thread's own connection (see sqlite_store::on_wal_frames).
class wal_checkpointer {
 public:
  static result<std::unique_ptr<wal_checkpointer>> open(const std::string& path);
  ~wal_checkpointer();
  // A PASSIVE checkpoint: copies the committed WAL pages no reader still needs into the
  // database file and fsyncs it, without blocking the writer. Returns how many of the WAL's
  // frames are now in the database file; nullopt on an error (logged).
  std::optional<int> run();

 private:
  wal_checkpointer() = default;
  sqlite3* db_ = nullptr;
};

}  // namespace sb
