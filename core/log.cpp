#include "core/log.hpp"

#include "core/time.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace sb::log {
namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::atomic<format> chosen{format::automatic};

format effective() noexcept {
  const format f = chosen.load();
  if (f != format::automatic) return f;
  static const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;
  return under_journald ? format::journal : format::text;
}

std::string_view word(level l) noexcept {
  switch (l) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warning:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

}  // namespace

std::optional<format> parse_format(std::string_view s) noexcept {
  if (s == "text") return format::text;
  if (s == "journal") return format::journal;
  if (s == "json") return format::json;
  return std::nullopt;
}

std::optional<level> parse_level(std::string_view s) noexcept {
  if (s == "debug") return level::debug;
  if (s == "info") return level::info;
  if (s == "warn" || s == "warning") return level::warning;
  if (s == "error") return level::error;
  return std::nullopt;
}

void set_format(format f) noexcept { chosen = f; }

void set_min_level(level l) noexcept { min_level = static_cast<int>(l); }

bool enabled(level l) noexcept { return static_cast<int>(l) <= min_level.load(); }

void write(level l, std::string_view component, std::string_view text) noexcept {
  try {
    std::string line;
    switch (effective()) {
      case format::journal:
        line = fmt::format("<{}>{}: {}\n", static_cast<int>(l), component, text);
        break;
      case format::json:
        line = boost::json::serialize(boost::json::object{{"time", format_time(now_ms())},
                                                          {"level", word(l)},
                                                          {"priority", static_cast<int>(l)},
                                                          {"component", component},
                                                          {"message", text}});
        line += '\n';
        break;
      default:
        line = fmt::format("{} {} {}: {}\n", format_time(now_ms()), word(l), component, text);
    }
    // One fwrite per line keeps lines whole when several threads log at once.
    static mutex m;
    mutex_lock lock(m);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
  }
}

std::optional<std::uint64_t> limiter::allow(std::string_view key) {
  const auto now = std::chrono::steady_clock::now();
  mutex_lock lock(m_);
  state& st = keys_[std::string(key)];
  if (now - st.window_start >= window_) {
    st.window_start = now;
    st.in_window = 0;
  }
  if (st.in_window >= burst_) {
    ++st.suppressed;
    return std::nullopt;
  }
  ++st.in_window;
  return std::exchange(st.suppressed, 0);
}

}  // namespace sb::log
