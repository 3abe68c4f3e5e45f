// Group commit. HTTP threads hand their requests to one writer thread; it takes every request
// waiting (up to max_batch), commits them in one transaction of the store backend (store.hpp)
// — one fsync for the batch —
// and only then runs their callbacks, which send the HTTP replies. Per-request fsync would cap
// ingest near 1,000 requests/s; this is how the daemon keeps up with the broker.
// Confirmed outbox rows are deleted by the same thread, in the transaction of the next batch
// (or, when no request comes, on their own shortly after).
#pragma once

#include "core/metrics.hpp"
#include "core/mutex.hpp"
#include "store/ingest_sink.hpp"
#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

namespace sb {

class group_writer final : public ingest_sink {
 public:
  // `on_commit` runs on the writer thread after each commit that added outbox rows.
  // `confirm_linger`: how long the deletes of confirmed rows wait for a batch of requests to
  // be committed with, rather than have a transaction (and an fsync) of their own.
  group_writer(store_backend& store, std::function<void()> on_commit, std::size_t max_batch = 1024,
               std::chrono::milliseconds confirm_linger = std::chrono::milliseconds(100));
  ~group_writer() override;
  group_writer(const group_writer&) = delete;
  group_writer& operator=(const group_writer&) = delete;

  // `f` runs on the writer thread after each commit with what it committed (outbox rows,
  // customers and conversations it changed; store/handoff.hpp), before on_commit, and after
  // writer tasks with a reset (they change what no batch describes). Set before start().
  void hand_off(std::function<void(committed_batch)> f) { hand_off_ = std::move(f); }

  void start();
  // Commits everything already submitted, then joins. Later submits fail with 503.
  void stop();

  // The callback runs on the writer thread once the request's fate is durable.
  void submit(ingest_request req, callback done) override;
  // Runs `task` on the writer thread between batches (rare writes such as closing a
  // conversation). After stop() the task is not run and `refused` is called instead.
  // `keeps_handoff`: the task changes nothing the publisher's hand-off holds (retention
  // deletes no conversation with an unpublished message), so it is not reset after it.
  void run(std::function<void(store_backend&)> task, std::function<void()> refused,
           bool keeps_handoff = false);

  // Outbox rows the broker confirmed; deleted in the next transaction.
  void confirmed(std::vector<std::int64_t> seqs);
  // Outbox rows the broker refuses for good, moved out of the outbox (store_backend::park) in a
  // transaction of their own: they no longer count in the backlog.
  void park(std::vector<outbox_parking> rows);
  // A parked row back into the outbox as a new row; `done` (on the writer thread) gets its
  // new seq or the error, errc::unavailable when the writer has stopped.
  void unpark(std::int64_t seq, std::function<void(result<std::int64_t>)> done);
  // What delivery attempts came to (store/delivery.hpp): written in the next transaction, which
  // does not wait for requests to come (the shorter the time between a provider's answer and
  // its record, the fewer replies a crash sends twice). Kept for the next transaction when one
  // fails.
  // `committed` (if set) runs on the writer thread once they are: until then the delivery
  // engine must not try those replies again (their rows still say queued).
  void record(std::vector<delivery_update> updates, std::function<void()> committed = {});
  // Events the broker confirmed (store/delivery.hpp, event_row): deleted with the next
  // transaction, like the deletes of confirmed outbox rows (a crash before publishes them
  // again, and consumers dedupe on their ids).
  void events_published(std::vector<std::int64_t> seqs);
  // A signature used by a request that stores nothing (daemon/replay_guard.hpp): written with
  // the next transaction, like the deletes of confirmed rows (no fsync of its own).
  void remember(seen_signature s) override;

  // Unpublished messages: outbox rows not yet confirmed and deleted, as the store counts them.
  std::int64_t backlog() const noexcept override { return store_.backlog(); }
  std::uint64_t commits() const noexcept { return commits_.load(std::memory_order_relaxed); }
  std::uint64_t last_batch_size() const noexcept {
    return last_batch_.load(std::memory_order_relaxed);
  }
  // False while the last transaction failed (disk full, I/O error): nothing can be promised.
  bool store_writable() const noexcept { return !failed_last_.load(std::memory_order_relaxed); }
  // Prometheus text: backlog, writability, commits, batch sizes, commit durations, and what
  // the store reports of its own.
  void render_metrics(std::string& out) const;

 private:
  struct pending {
    ingest_request req;
    callback done;
  };
  void run();
  // Confirmed rows waiting for their delete wait no longer than this many (see run()).
  static constexpr std::size_t confirm_batch = 4096;

  store_backend& store_;
  std::function<void()> on_commit_;
  std::function<void(committed_batch)> hand_off_;
  const std::size_t max_batch_;
  const std::chrono::milliseconds confirm_linger_;
  mutex m_;
  std::condition_variable cv_;
  std::deque<pending> queue_ SB_GUARDED_BY(m_);
  struct task_item {
    std::function<void(store_backend&)> run;
    std::function<void()> refused;
    bool keeps_handoff = false;
  };
  std::deque<task_item> tasks_ SB_GUARDED_BY(m_);
  std::vector<std::int64_t> confirmed_ SB_GUARDED_BY(m_);
  std::vector<std::int64_t> published_events_ SB_GUARDED_BY(m_);
  std::vector<seen_signature> remembered_ SB_GUARDED_BY(m_);
  std::vector<delivery_update> delivered_ SB_GUARDED_BY(m_);
  std::vector<std::function<void()>> delivered_done_ SB_GUARDED_BY(m_);
  bool stopping_ SB_GUARDED_BY(m_) = false;
  bool started_ SB_GUARDED_BY(m_) = false;
  std::atomic<bool> failed_last_{false};
  std::thread thread_;
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> last_batch_{0};
  std::atomic<std::uint64_t> failed_commits_{0};
  metrics::histogram_family batch_sizes_{"switchboard_store_batch_size",
                                         "Webhook requests committed together in one transaction.",
                                         {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  metrics::histogram_family commit_seconds_{
      "switchboard_store_commit_seconds",
      "Duration of one group-commit transaction, fsync included.", metrics::latency_buckets()};
};

}  // namespace sb
