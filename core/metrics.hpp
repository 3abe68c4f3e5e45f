// Prometheus metrics: counters and histograms updated lock-free on hot paths, rendered in the
// text exposition format (version 0.0.4) at scrape time. Label sets are created on first use
// and never removed, so their number must stay bounded by config (channels, skills, statuses),
// never by request content.
#pragma once

#include "core/mutex.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::metrics {

using label_list = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// `a="x",b="y"` with the values escaped as the format requires (\\, \", \n).
std::string labels(label_list l);

// "# HELP" and "# TYPE" lines.
void header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help);
// One sample: name{labels} value. `labels` as made by labels(), may be empty.
void sample(std::string& out, std::string_view name, std::string_view labels, double value);
// A metric of one unlabelled sample: its header, then the sample.
void gauge(std::string& out, std::string_view name, std::string_view help, double value);
void counter(std::string& out, std::string_view name, std::string_view help, double value);

// A family of counters, one per label set.
class counter_family {
 public:
  counter_family(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}
  // `label_text` as made by labels(). Looks the label set up under a mutex; the increment
  // itself is atomic.
  void add(const std::string& label_text, std::uint64_t n = 1);
  std::uint64_t value(const std::string& label_text) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  mutable mutex m_;
  std::map<std::string, std::atomic<std::uint64_t>> values_ SB_GUARDED_BY(m_);
};

// Fixed buckets (upper bounds, ascending) shared by every label set of the family.
class histogram_family {
 public:
  histogram_family(std::string name, std::string help, std::vector<double> bounds);
  void observe(const std::string& label_text, double value);
  void render(std::string& out) const;
  // Count and sum of one label set, for tests.
  std::pair<std::uint64_t, double> count_sum(const std::string& label_text) const;

 private:
  struct series {
    explicit series(std::size_t n) : buckets(n) {}
    std::vector<std::atomic<std::uint64_t>> buckets;  // non-cumulative; +Inf is `count`
    std::atomic<std::uint64_t> count{0};
    std::atomic<double> sum{0};
  };
  series& get(const std::string& label_text);

  std::string name_, help_;
  std::vector<double> bounds_;
  mutable mutex m_;
  std::map<std::string, std::unique_ptr<series>> series_ SB_GUARDED_BY(m_);
};

// Seconds buckets from 0.5 ms to 10 s: HTTP replies (a commit is a few ms) and publish confirms.
std::vector<double> latency_buckets();

// process_* metrics from /proc/self (resident memory, CPU seconds, open fds, start time),
// the names every Prometheus client library uses.
void render_process_metrics(std::string& out);

}  // namespace sb::metrics
