#include "store/writer.hpp"

#include "core/log.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <memory>

#include <pthread.h>

namespace sb {

group_writer::group_writer(store_backend& store, std::function<void()> on_commit,
                           std::size_t max_batch, std::chrono::milliseconds confirm_linger)
    : store_(store),
      on_commit_(std::move(on_commit)),
      max_batch_(max_batch),
      confirm_linger_(confirm_linger) {}

group_writer::~group_writer() { stop(); }

void group_writer::start() {
  mutex_lock lock(m_);
  if (started_) return;
  started_ = true;
  store_.start();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-writer");  // top -H, perf, gdb show it
    run();
  });
}

void group_writer::stop() {
  {
    mutex_lock lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  store_.stop();
  // Nothing may be left without an answer: anything submitted after the thread ended (or when
  // it never started) is refused, and the provider retries.
  std::deque<pending> left;
  std::deque<task_item> left_tasks;
  {
    mutex_lock lock(m_);
    left.swap(queue_);
    left_tasks.swap(tasks_);
  }
  for (auto& p : left) p.done(error{errc::unavailable, "shutting down"});
  for (auto& t : left_tasks) t.refused();
}

void group_writer::submit(ingest_request req, callback done) {
  {
    mutex_lock lock(m_);
    if (started_ && !stopping_) {
      queue_.push_back({std::move(req), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(error{errc::unavailable, "shutting down"});
}

void group_writer::run(std::function<void(store_backend&)> task, std::function<void()> refused,
                       bool keeps_handoff) {
  {
    mutex_lock lock(m_);
    if (started_ && !stopping_) {
      tasks_.push_back({std::move(task), std::move(refused), keeps_handoff});
      cv_.notify_one();
      return;
    }
  }
  refused();
}

void group_writer::confirmed(std::vector<std::int64_t> seqs) {
  if (seqs.empty()) return;
  mutex_lock lock(m_);
  confirmed_.insert(confirmed_.end(), seqs.begin(), seqs.end());
  cv_.notify_one();
}

void group_writer::events_published(std::vector<std::int64_t> seqs) {
  if (seqs.empty()) return;
  mutex_lock lock(m_);
  published_events_.insert(published_events_.end(), seqs.begin(), seqs.end());
  cv_.notify_one();
}

void group_writer::park(std::vector<outbox_parking> rows) {
  if (rows.empty()) return;
  // Refused at stop: the rows stay in the outbox, and are parked again after the restart.
  run([rows = std::move(rows)](store_backend& store) { store.park(rows, now_ms()); }, [] {});
}

void group_writer::unpark(std::int64_t seq, std::function<void(result<std::int64_t>)> done) {
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  run(
      [this, seq, shared_done](store_backend& store) {
        auto r = store.unpark(seq);
        if (r && on_commit_) on_commit_();
        (*shared_done)(std::move(r));
      },
      [shared_done] {
        (*shared_done)(error{errc::unavailable, "shutting down"});
      });
}

void group_writer::record(std::vector<delivery_update> updates, std::function<void()> committed) {
  if (updates.empty()) return;
  mutex_lock lock(m_);
  delivered_.insert(delivered_.end(), std::make_move_iterator(updates.begin()),
                    std::make_move_iterator(updates.end()));
  if (committed) delivered_done_.push_back(std::move(committed));
  cv_.notify_one();
}

void group_writer::remember(seen_signature s) {
  mutex_lock lock(m_);
  remembered_.push_back(std::move(s));
  cv_.notify_one();
}

void group_writer::run() {
  std::vector<pending> batch;
  std::vector<ingest_request*> requests;
  std::vector<std::int64_t> confirmed;
  std::vector<std::int64_t> published_events;
  std::vector<seen_signature> remembered;
  std::vector<delivery_update> delivered;
  std::vector<std::function<void()>> delivered_done;
  std::deque<task_item> tasks;
  for (;;) {
    {
      unique_lock lock(m_);
      // Work that needs a transaction now; deletes of confirmed rows alone may wait (below).
      const auto has_urgent_work = [&]() SB_REQUIRES(m_) {
        return stopping_ || !queue_.empty() || !tasks_.empty() || !delivered_.empty() ||
               confirmed_.size() >= confirm_batch;
      };
      const auto has_work = [&]() SB_REQUIRES(m_) {
        return has_urgent_work() || !confirmed_.empty() || !remembered_.empty() ||
               !published_events_.empty();
      };
      // After a failed commit, nothing may come to prove the disk has room again (a load
      // balancer stops sending when /readyz says 503): probe with a tiny write each second.
      while (failed_last_ && !has_work()) {
        if (cv_.wait_for(lock.native(), std::chrono::seconds(1), has_work)) break;
        lock.unlock();
        const bool ok = store_.probe_write(now_ms());
        lock.lock();
        if (ok) {
          failed_last_ = false;
          log::info("store", "the store takes writes again");
        }
      }
      cv_.wait(lock.native(), has_work);
      // Deleting confirmed rows promises nothing (a row that outlives a crash is published
      // again, and consumers dedupe), so it needs no fsync of its own: the deletes ride with
      // the next batch of requests. Alone, they wait up to confirm_linger_, or until
      // confirm_batch of them are there. At 2,000 webhooks/s, 15% of the commits were
      // these deletes alone.
      if (!has_urgent_work()) cv_.wait_for(lock.native(), confirm_linger_, has_urgent_work);
      tasks.swap(tasks_);
      if (queue_.empty() && tasks.empty() &&
          ((confirmed_.empty() && remembered_.empty() && delivered_.empty() &&
            published_events_.empty()) ||
           (stopping_ && failed_last_)))
        return;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      confirmed.swap(confirmed_);
      published_events.swap(published_events_);
      remembered.swap(remembered_);
      delivered.swap(delivered_);
      delivered_done.swap(delivered_done_);
    }
    const bool resets = std::any_of(tasks.begin(), tasks.end(),
                                    [](const task_item& t) { return !t.keeps_handoff; });
    // Before as well as after: a task that deletes (an erasure) must not leave rows it deleted
    // in the publisher's hand-off for the moment between its commit and the reset after it.
    if (resets && hand_off_) {
      committed_batch reset;
      reset.reset = true;
      hand_off_(std::move(reset));
    }
    for (auto& t : tasks) {
      try {
        t.run(store_);
      } catch (const std::exception& e) {
        log::error("store", "writer task failed: {}", e.what());
      }
    }
    if (resets && hand_off_) {
      committed_batch reset;
      reset.reset = true;
      hand_off_(std::move(reset));
    }
    tasks.clear();
    if (batch.empty() && confirmed.empty() && remembered.empty() && delivered.empty() &&
        published_events.empty())
      continue;
    requests.clear();
    for (auto& p : batch) requests.push_back(&p.req);
    const auto started = std::chrono::steady_clock::now();
    auto res = store_.commit(requests, confirmed, remembered, delivered, published_events);
    commit_seconds_.observe(
        "", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!batch.empty()) batch_sizes_.observe("", static_cast<double>(batch.size()));
    if (res.failed) failed_commits_.fetch_add(1, std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    failed_last_ = res.failed;
    if (res.failed) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no hot loop
    last_batch_.store(batch.size(), std::memory_order_relaxed);
    if (!res.settled && (!confirmed.empty() || !remembered.empty() || !delivered.empty() ||
                         !published_events.empty())) {
      // The deletes were rolled back with the batch: keep them for the next transaction, or
      // the publisher (which skips rows it saw confirmed) would leave them in the outbox. The
      // same for the signatures to remember and the delivery updates.
      mutex_lock lock(m_);
      confirmed_.insert(confirmed_.end(), confirmed.begin(), confirmed.end());
      published_events_.insert(published_events_.end(), published_events.begin(),
                               published_events.end());
      remembered_.insert(remembered_.end(), std::make_move_iterator(remembered.begin()),
                         std::make_move_iterator(remembered.end()));
      delivered_.insert(delivered_.end(), std::make_move_iterator(delivered.begin()),
                        std::make_move_iterator(delivered.end()));
      delivered_done_.insert(delivered_done_.end(), std::make_move_iterator(delivered_done.begin()),
                             std::make_move_iterator(delivered_done.end()));
      delivered_done.clear();
    }
    for (auto& f : delivered_done) f();
    confirmed.clear();
    published_events.clear();
    remembered.clear();
    delivered.clear();
    delivered_done.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        batch[i].done(std::move(res.outcomes[i]));
      } catch (const std::exception& e) {
        log::error("store", "reply callback failed: {}", e.what());
      }
    }
    batch.clear();
    if (hand_off_ && !res.handed.empty()) hand_off_(std::move(res.handed));
    if (res.outbox_added > 0 && on_commit_) on_commit_();
  }
}

void group_writer::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_outbox_backlog",
                 "Messages committed and not yet confirmed by the broker (the outbox; a confirmed "
                 "row counts until its delete commits, within 100 ms).",
                 static_cast<double>(backlog()));
  metrics::gauge(out, "switchboard_store_writable",
                 "0 while the last store transaction failed (disk full, I/O error).",
                 store_writable() ? 1 : 0);
  metrics::counter(
      out, "switchboard_store_commits_total",
      "Group-commit transactions tried, failed ones included (a success is one fsync).",
      static_cast<double>(commits()));
  metrics::counter(out, "switchboard_store_commit_failures_total",
                   "Group-commit transactions that failed; their requests were answered 503.",
                   static_cast<double>(failed_commits_.load(std::memory_order_relaxed)));
  batch_sizes_.render(out);
  commit_seconds_.render(out);
  store_.render_metrics(out);
}

}  // namespace sb
