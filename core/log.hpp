// One line per event on stderr. Under systemd (JOURNAL_STREAM set) lines carry the sd-daemon
// priority prefix (<3>, <4>, <6>, <7>) so journald records the level; otherwise a UTC timestamp
// and the level word, for a human at a terminal. Context goes in key=value pairs, e.g.
// log::info("ingest", "accepted channel={} message_id={}", channel, id);
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace sb::log {

enum class level { debug = 7, info = 6, warning = 4, error = 3 };

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

}  // namespace sb::log
