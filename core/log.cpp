#include "core/log.hpp"

#include "core/time.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace sb::log {
namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};

bool journal() noexcept {
  static const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;
  return under_journald;
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

void set_min_level(level l) noexcept { min_level = static_cast<int>(l); }

bool enabled(level l) noexcept { return static_cast<int>(l) <= min_level.load(); }

void write(level l, std::string_view component, std::string_view text) noexcept {
  try {
    std::string line;
    if (journal())
      line = fmt::format("<{}>{}: {}\n", static_cast<int>(l), component, text);
    else
      line = fmt::format("{} {} {}: {}\n", format_time(now_ms()), word(l), component, text);
    // One fwrite per line keeps lines whole when several threads log at once.
    static std::mutex m;
    std::lock_guard lock(m);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
  }
}

}  // namespace sb::log
