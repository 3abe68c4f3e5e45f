#include "core/metrics.hpp"

#include <fmt/core.h>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

// What tcmalloc (gperftools' malloc_extension_c.h; Debian ships only the library) and the
// sanitizers' allocator (sanitizer/allocator_interface.h) say of their heap. Weak: null unless
// the process runs on that allocator.
extern "C" int MallocExtension_GetNumericProperty(const char* property, std::size_t* value)
    __attribute__((weak));
extern "C" std::size_t __sanitizer_get_current_allocated_bytes() __attribute__((weak));

namespace sb::metrics {
namespace {

// Bytes allocated and not yet freed, whichever malloc the process runs on.
double heap_in_use() {
  std::size_t bytes = 0;
  if (MallocExtension_GetNumericProperty &&
      MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &bytes))
    return static_cast<double>(bytes);
  if (__sanitizer_get_current_allocated_bytes)
    return static_cast<double>(__sanitizer_get_current_allocated_bytes());
  const auto m = ::mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

std::string with_le(std::string_view label_text, std::string_view le) {
  std::string out(label_text);
  if (!out.empty()) out += ',';
  out += "le=\"";
  out += le;
  out += '"';
  return out;
}

}  // namespace

std::string labels(label_list l) {
  std::string out;
  for (const auto& [k, v] : l) {
    if (!out.empty()) out += ',';
    out += k;
    out += "=\"";
    append_escaped(out, v);
    out += '"';
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void gauge(std::string& out, std::string_view name, std::string_view help, double value) {
  header(out, name, "gauge", help);
  sample(out, name, "", value);
}

void counter(std::string& out, std::string_view name, std::string_view help, double value) {
  header(out, name, "counter", help);
  sample(out, name, "", value);
}

void sample(std::string& out, std::string_view name, std::string_view label_text, double value) {
  out += name;
  if (!label_text.empty()) {
    out += '{';
    out += label_text;
    out += '}';
  }
  out += ' ';
  out += number(value);
  out += '\n';
}

void counter_family::add(const std::string& label_text, std::uint64_t n) {
  std::atomic<std::uint64_t>* c;
  {
    mutex_lock lock(m_);
    c = &values_[label_text];  // map nodes never move
  }
  c->fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t counter_family::value(const std::string& label_text) const {
  mutex_lock lock(m_);
  auto it = values_.find(label_text);
  return it == values_.end() ? 0 : it->second.load(std::memory_order_relaxed);
}

void counter_family::render(std::string& out) const {
  header(out, name_, "counter", help_);
  mutex_lock lock(m_);
  for (const auto& [l, v] : values_)
    sample(out, name_, l, static_cast<double>(v.load(std::memory_order_relaxed)));
}

histogram_family::histogram_family(std::string name, std::string help, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {}

histogram_family::series& histogram_family::get(const std::string& label_text) {
  mutex_lock lock(m_);
  auto& s = series_[label_text];
  if (!s) s = std::make_unique<series>(bounds_.size());
  return *s;
}

void histogram_family::observe(const std::string& label_text, double value) {
  series& s = get(label_text);
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  if (i < bounds_.size()) s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(value, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

std::pair<std::uint64_t, double> histogram_family::count_sum(const std::string& label_text) const {
  mutex_lock lock(m_);
  auto it = series_.find(label_text);
  if (it == series_.end()) return {0, 0};
  return {it->second->count.load(), it->second->sum.load()};
}

void histogram_family::render(std::string& out) const {
  header(out, name_, "histogram", help_);
  mutex_lock lock(m_);
  for (const auto& [l, s] : series_) {
    // Read count first: a concurrent observe may add to a bucket after; cumulative counts are
    // then at most count, which keeps the series monotonic as the format requires.
    const std::uint64_t count = s->count.load(std::memory_order_relaxed);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s->buckets[i].load(std::memory_order_relaxed);
      sample(out, name_ + "_bucket", with_le(l, number(bounds_[i])),
             static_cast<double>(std::min(cumulative, count)));
    }
    sample(out, name_ + "_bucket", with_le(l, "+Inf"), static_cast<double>(count));
    sample(out, name_ + "_sum", l, s->sum.load(std::memory_order_relaxed));
    sample(out, name_ + "_count", l, static_cast<double>(count));
  }
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void render_process_metrics(std::string& out) {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may contain spaces.
  const auto close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    // f[0] is field 3 (state): field N is f[N - 3].
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
      header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
      sample(out, "process_cpu_seconds_total", "", cpu);
      header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size.");
      sample(out, "process_virtual_memory_bytes", "", std::stod(f[20]));
      header(out, "process_resident_memory_bytes", "gauge", "Resident memory size.");
      sample(out, "process_resident_memory_bytes", "", std::stod(f[21]) * static_cast<double>(page));
      double boot = 0;
      std::ifstream proc_stat("/proc/stat");
      for (std::string key; proc_stat >> key;) {
        if (key == "btime") {
          proc_stat >> boot;
          break;
        }
      }
      if (boot > 0) {
        header(out, "process_start_time_seconds", "gauge",
               "Start time of the process since the Unix epoch.");
        sample(out, "process_start_time_seconds", "",
               boot + std::stod(f[19]) / static_cast<double>(ticks));
      }
    }
  }
  header(out, "switchboard_heap_bytes", "gauge",
         "Memory the daemon allocated and has not freed (malloc's heap in use). Resident memory "
         "beyond it is the allocator's free lists, the program and its libraries.");
  sample(out, "switchboard_heap_bytes", "", heap_in_use());
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  if (!ec) {
    header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    sample(out, "process_open_fds", "", static_cast<double>(fds));
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    header(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    sample(out, "process_max_fds", "", static_cast<double>(lim.rlim_cur));
  }
}

}  // namespace sb::metrics
