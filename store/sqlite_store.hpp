// The embedded backend: one SQLite file in WAL mode with synchronous=FULL (a COMMIT returns
// only after the WAL is fsynced, which is what a 2xx promises), its writer connection, its WAL
// checkpoint thread, and the read-only connections of the read API and the publisher.
#pragma once

#include "core/metrics.hpp"
#include "core/mutex.hpp"
#include "store/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;

namespace sb {

class sqlite_replies;
class wal_checkpointer;

class sqlite_store final : public store_backend {
 public:
  // Opens (creating if needed) the database, sets WAL + synchronous=FULL, runs migrations.
  static result<std::unique_ptr<sqlite_store>> open(const store_options& opts);
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  // store_backend. The writer's calls run on its connection (writer thread only); a call of
  // its own (closing a conversation, parking) is one small transaction.
  commit_result commit(std::span<ingest_request* const> requests,
                       std::span<const std::int64_t> confirmed,
                       std::span<const seen_signature> seen = {},
                       std::span<const delivery_update> deliveries = {},
                       std::span<const std::int64_t> events_published = {}) override;
  std::vector<seen_signature> load_signatures(millis now) override;
  result<void> delete_unreadable(std::string_view id) override;
  result<std::string> close_conversation(std::string_view id, millis at) override;
  result<std::int64_t> park(std::span<const outbox_parking> rows, millis at) override;
  result<erasure_report> erase_customer(std::string_view id, millis at) override;
  result<retention_pass> retain(const retention_options& r, millis now) override;
  result<std::int64_t> unpark(std::int64_t seq) override;
  result<void> delete_parked(std::int64_t seq) override;
  bool probe_write(millis at) override;
  // Counted from the outbox at open, then kept by the writer's own commits: one writer writes
  // this file.
  std::int64_t backlog() const noexcept override {
    return backlog_.load(std::memory_order_relaxed);
  }
  // The page cache, and the checkpoint thread's durations.
  void render_metrics(std::string& out) const override;
  // Starts and stops the checkpoint thread (see wal_hard_frames).
  void start() override;
  void stop() override;
  result<std::unique_ptr<store_reader>> open_reader() override;
  result<std::unique_ptr<outbox_reader>> open_outbox_reader() override;
  result<std::unique_ptr<delivery_reader>> open_delivery_reader() override;
  result<std::unique_ptr<event_reader>> open_event_reader() override;
  result<std::unique_ptr<media_reader>> open_media_reader() override;
  void record_media(std::span<const media_update> updates) override;  // sqlite_media.cpp
  blob_store& blobs() override { return *blobs_; }

  std::int64_t outbox_size();  // rows waiting for a confirm, counted now. Writer thread only.
  // Bytes the writer connection's page cache holds now (at most about options().cache_bytes).
  // Writer thread only.
  std::int64_t cache_used_bytes();
  // WAL checkpoints the checkpoint thread completed.
  std::uint64_t checkpoints() const { return checkpoint_seconds_.count_sum("").first; }
  const store_options& options() const noexcept { return opts_; }

  // Checkpoints. SQLite's automatic checkpoint (1,000 WAL pages) would run inside the writer's
  // COMMIT, stalling every request of the batch for the page copies and the database fsync.
  // Instead the writer's commits wake a checkpoint thread on a connection of its own when
  // at least checkpoint_frames pages are in the WAL that the last checkpoint did not copy.
  // (Not the WAL's whole length: SQLite restarts the WAL only when no reader is using it, and
  // with the publisher reading all the time it can stay long, which woke a checkpoint, and
  // its fsync of the database file, after every commit.) Only when the WAL reaches
  // wal_hard_frames, i.e. the checkpoint thread cannot keep up or is not running, does the
  // writer checkpoint itself, which is what lets SQLite restart the WAL from its beginning
  // and keeps it bounded.
  static constexpr int wal_hard_frames = 8000;  // ~32 MiB of WAL
  static constexpr int checkpoint_frames = 1000;

 private:
  explicit sqlite_store(store_options opts);
  struct statements;
  store_options opts_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
  std::unique_ptr<sqlite_replies> replies_;  // agents' replies (sqlite_replies.hpp)
  std::unique_ptr<blob_store> blobs_;        // the attachments' bytes
  std::atomic<std::int64_t> backlog_{0};
  bool forgotten_any_ = false;               // forgotten_keys has rows (writer thread only)
  std::int64_t retention_cursor_ = 0;        // the sweep's position: a conversations rowid
  std::atomic<std::int64_t> cache_used_{0};  // the writer's page cache after its last commit
  static int wal_hook(void* self, sqlite3* db, const char* schema, int frames);
  void on_wal_frames(int frames);
  void checkpoint_loop();
  // Runs `body` in a transaction of its own: committed when it returns, rolled back (and the
  // exception passed on) when it throws.
  void in_transaction(const std::function<void()>& body);
  // What rides with a batch's transaction besides its requests: written with the first part
  // of a split batch.
  struct riders {
    std::span<const std::int64_t> confirmed;
    std::span<const seen_signature> seen;
    std::span<const delivery_update> deliveries;
    std::span<const std::int64_t> events_published;
    bool empty() const noexcept {
      return confirmed.empty() && seen.empty() && deliveries.empty() && events_published.empty();
    }
  };
  // commit() from `requests` on, into `out`: one transaction, split around a failed request.
  void commit_split(std::span<ingest_request* const> requests, const riders& with,
                    commit_result& out);
  // One transaction; nullopt when a request failed (`failed_at` with `why`), which rolled it
  // back.
  std::optional<commit_result> run_batch(std::span<ingest_request* const> requests,
                                         const riders& with, std::size_t& failed_at, error& why);
  friend struct store_tx;
  // After a batch (sqlite_media.cpp): the pins of the files its requests put are released,
  // and the files of messages it did not store (duplicates, failed requests) are removed
  // unless a row names them (a provider's retry of an erased mail must not leave its files).
  void settle_blobs(std::span<ingest_request* const> requests,
                    const std::vector<result<ingest_outcome>>& outcomes);

  // The checkpoint thread.
  std::atomic<int> checkpointed_frames_{0};  // WAL frames in the database file, last we know
  std::unique_ptr<wal_checkpointer> checkpointer_;
  std::thread checkpoint_thread_;
  mutex checkpoint_m_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_due_ SB_GUARDED_BY(checkpoint_m_) = false;
  bool checkpoint_stop_ SB_GUARDED_BY(checkpoint_m_) = false;
  metrics::histogram_family checkpoint_seconds_{
      "switchboard_store_checkpoint_seconds",
      "Duration of one WAL checkpoint on the checkpoint thread (pages copied into the database "
      "file, fsync included).",
      metrics::latency_buckets()};
};

// The checkpoint thread's own connection.
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

// The SQLite readers (sqlite_reader.cpp, sqlite_outbox.cpp) on the file at `path`.
result<std::unique_ptr<store_reader>> open_sqlite_reader(const std::string& path);
result<std::unique_ptr<delivery_reader>> open_sqlite_delivery_reader(const std::string& path);
result<std::unique_ptr<event_reader>> open_sqlite_event_reader(const std::string& path);
result<std::unique_ptr<media_reader>> open_sqlite_media_reader(const std::string& path);
// The blob store's directory: attachments.directory, else "attachments" beside the database.
std::string attachment_directory(const store_options& opts);
result<std::unique_ptr<outbox_reader>> open_sqlite_outbox_reader(const std::string& path,
                                                                 std::size_t thread_limit,
                                                                 std::size_t max_payload_bytes);

}  // namespace sb
