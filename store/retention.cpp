#include "store/retention.hpp"

#include "core/config_reader.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "store/writer.hpp"

#include <chrono>
#include <future>
#include <memory>
#include <optional>

#include <pthread.h>

namespace sb {

retention_runner::retention_runner(group_writer& writer, retention_options opts)
    : writer_(writer), opts_(opts) {}

retention_runner::~retention_runner() { stop(); }

void retention_runner::start() {
  if (thread_.joinable()) return;
  {
    mutex_lock lock(m_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-retention");
    loop();
  });
  if (opts_.max_age.count() > 0)
    log::info("retention", "on: conversations silent for {} are deleted; dedupe keys kept {}",
              conf::format_duration(opts_.max_age), conf::format_duration(opts_.dedupe_horizon));
}

void retention_runner::stop() {
  {
    mutex_lock lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool retention_runner::pass(retention_pass& out) {
  auto result = std::make_shared<std::promise<std::optional<retention_pass>>>();
  auto done = result->get_future();
  writer_.run(
      [this, result](store_backend& store) {
        const auto started = std::chrono::steady_clock::now();
        auto r = store.retain(opts_, now_ms());
        pass_seconds_.observe(
            "", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        result->set_value(r ? std::optional(*r) : std::nullopt);
      },
      [result] { result->set_value(std::nullopt); }, /*keeps_handoff=*/true);
  auto r = done.get();
  if (!r) return false;
  out = *r;
  return true;
}

void retention_runner::loop() {
  // A sweep's totals, logged when it went round the store.
  retention_pass sweep;
  auto wait = opts_.pause;
  for (;;) {
    {
      unique_lock lock(m_);
      if (cv_.wait_for(lock.native(), wait, [this]() SB_REQUIRES(m_) { return stop_; })) return;
    }
    retention_pass r;
    if (!pass(r)) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      wait = opts_.interval;
      continue;
    }
    passes_.fetch_add(1, std::memory_order_relaxed);
    const auto add = [&](const char* what, std::int64_t n) {
      if (n > 0) deleted_.add(metrics::labels({{"what", what}}), static_cast<std::uint64_t>(n));
    };
    add("conversations", r.conversations);
    add("messages", r.messages);
    add("customers", r.customers);
    add("unreadable", r.unreadable);
    add("dedupe_hashes", r.keys_expired);
    keys_kept_.fetch_add(static_cast<std::uint64_t>(r.keys_kept), std::memory_order_relaxed);
    sweep.conversations += r.conversations;
    sweep.messages += r.messages;
    sweep.customers += r.customers;
    sweep.unreadable += r.unreadable;
    sweep.keys_expired += r.keys_expired;
    if (r.more) {
      wait = opts_.pause;
      continue;
    }
    if (sweep.conversations + sweep.unreadable + sweep.keys_expired > 0)
      log::info("retention",
                "sweep done: {} conversation(s), {} message(s), {} customer(s), {} unreadable "
                "deliveries deleted; {} dedupe hash(es) expired",
                sweep.conversations, sweep.messages, sweep.customers, sweep.unreadable,
                sweep.keys_expired);
    sweep = {};
    wait = opts_.interval;
  }
}

void retention_runner::render_metrics(std::string& out) const {
  deleted_.render(out);
  metrics::counter(out, "switchboard_retention_dedupe_hashes_kept_total",
                   "Dedupe keys of deleted messages kept as hashes until the dedupe horizon.",
                   static_cast<double>(keys_kept_.load(std::memory_order_relaxed)));
  metrics::counter(out, "switchboard_retention_passes_total",
                   "Retention passes committed (each one transaction on the writer thread).",
                   static_cast<double>(passes_.load(std::memory_order_relaxed)));
  metrics::counter(out, "switchboard_retention_failures_total",
                   "Retention passes that failed (logged) or were refused at shutdown.",
                   static_cast<double>(failed_.load(std::memory_order_relaxed)));
  pass_seconds_.render(out);
}

}  // namespace sb
