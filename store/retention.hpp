// Retention (docs/operations.md, "Retention"): a thread that has the group writer run one small
// retention pass (store_backend::retain) at a time, between its batches of webhooks, so that
// ingest waits for at most one pass. Without retention.max_age a pass only lets the dedupe
// hashes of erased messages expire. While a sweep finds more to delete the passes follow
// each other `pause` apart; once it went round, the next sweep starts `interval` later.
#pragma once

#include "core/metrics.hpp"
#include "core/mutex.hpp"
#include "store/options.hpp"
#include "store/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <string>
#include <thread>

namespace sb {

class group_writer;

class retention_runner {
 public:
  retention_runner(group_writer& writer, retention_options opts);
  ~retention_runner();
  retention_runner(const retention_runner&) = delete;
  retention_runner& operator=(const retention_runner&) = delete;

  // Stop before the writer stops.
  void start();
  void stop();

  // Prometheus text: what retention deleted, and its passes.
  void render_metrics(std::string& out) const;

 private:
  void loop();
  // One pass on the writer thread; false when the writer refused it (stopping) or it failed.
  bool pass(retention_pass& out);

  group_writer& writer_;
  const retention_options opts_;
  mutex m_;
  std::condition_variable cv_;
  bool stop_ SB_GUARDED_BY(m_) = false;
  std::thread thread_;
  std::atomic<std::uint64_t> passes_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> keys_kept_{0};
  metrics::counter_family deleted_{"switchboard_retention_deleted_total",
                                   "Rows retention deleted, by what they were."};
  metrics::histogram_family pass_seconds_{
      "switchboard_retention_pass_seconds",
      "Duration of one retention pass on the writer thread (its transaction included): what "
      "a webhook may wait for it.",
      metrics::latency_buckets()};
};

}  // namespace sb
