// One line per event on stderr. Under systemd (JOURNAL_STREAM set) lines carry the sd-daemon
// priority prefix (<3>, <4>, <6>, <7>) so journald records the level; otherwise a UTC timestamp
// and the level word, for a human at a terminal; `--log-format json` writes one JSON object
// per line for log shippers. Context goes in key=value pairs, e.g.
// log::info("ingest", "accepted channel={} message_id={}", channel, id);
// Never log message bodies or customers' addresses at info level or above (PII): ids only.
#pragma once

#include "core/mutex.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb::log {

enum class level { debug = 7, info = 6, warning = 4, error = 3 };
enum class format { automatic, text, journal, json };

// "text" | "journal" | "json"; nullopt for anything else.
std::optional<format> parse_format(std::string_view s) noexcept;
// "debug" | "info" | "warn" | "error"; nullopt for anything else.
std::optional<level> parse_level(std::string_view s) noexcept;
void set_format(format f) noexcept;  // automatic: journal under journald, else text
void set_min_level(level l) noexcept;
bool enabled(level l) noexcept;
void write(level l, std::string_view component, std::string_view text) noexcept;

template <class... Args>
void at(level l, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (!enabled(l)) return;
  write(l, component, fmt::vformat(f, fmt::make_format_args(args...)));
}
template <class... Args>
void debug(std::string_view c, fmt::format_string<Args...> f, Args&&... a) {
  at(level::debug, c, f, std::forward<Args>(a)...);
}
template <class... Args>
void info(std::string_view c, fmt::format_string<Args...> f, Args&&... a) {
  at(level::info, c, f, std::forward<Args>(a)...);
}
template <class... Args>
void warn(std::string_view c, fmt::format_string<Args...> f, Args&&... a) {
  at(level::warning, c, f, std::forward<Args>(a)...);
}
template <class... Args>
void error(std::string_view c, fmt::format_string<Args...> f, Args&&... a) {
  at(level::error, c, f, std::forward<Args>(a)...);
}

// Repeated events (an adapter with a wrong secret retrying every second) are logged at most
// `burst` times per `window` for one key; the first line after that says how many were left
// out. Keys must come from config (channel names, error kinds), not from request content.
class limiter {
 public:
  limiter(std::chrono::milliseconds window, unsigned burst) : window_(window), burst_(burst) {}
  // nullopt: leave this line out. Otherwise the number of lines of `key` left out before it.
  std::optional<std::uint64_t> allow(std::string_view key);

 private:
  struct state {
    std::chrono::steady_clock::time_point window_start{};
    unsigned in_window = 0;
    std::uint64_t suppressed = 0;
  };
  const std::chrono::milliseconds window_;
  const unsigned burst_;
  mutex m_;
  std::unordered_map<std::string, state> keys_ SB_GUARDED_BY(m_);
};

}  // namespace sb::log
