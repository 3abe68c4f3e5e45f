// Named schedules of business hours in an IANA time zone, for the `during` / `outside` route
// conditions. Hours are local wall-clock time, so a DST change moves them with the clock on the
// wall, as ops expect; the zone rules come from the system tzdata through Howard Hinnant's
// date/tz, never from hand-written offsets.
#pragma once

#include "core/time.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace sb {

// Minutes since local midnight, [start, end). end <= start means the range runs past midnight
// into the next day ("22:00-06:00"); end may be 1440 ("18:00-24:00").
struct time_range {
  int start = 0;
  int end = 0;
  bool operator==(const time_range&) const = default;
};

struct schedule {
  std::string name;
  std::string timezone;                         // the IANA name, as configured
  const date::time_zone* zone = nullptr;        // from the tzdb; lives as long as the program
  std::array<std::vector<time_range>, 7> days;  // [0] = Monday ... [6] = Sunday
  std::vector<std::int32_t> closed;             // local dates (days since 1970-01-01), sorted
  int line = 0;

  // Whether the instant `t` falls in open hours. Pure: the zone rules are data.
  bool open_at(millis t) const;
};

// Parsers for the config loader. Each returns nullopt and sets `problem` on bad input.

// "09:00-18:00", "22:00-06:00" (past midnight), "00:00-24:00" (all day).
std::optional<time_range> parse_time_range(std::string_view s, std::string& problem);
// "mon", "mon-fri", "fri-mon" (wrapping): the day indexes (0 = Monday) in order.
std::optional<std::vector<int>> parse_days(std::string_view s, std::string& problem);
// "2026-12-24": days since 1970-01-01.
std::optional<std::int32_t> parse_local_date(std::string_view s, std::string& problem);
// Looks the zone up in the system tzdata.
const date::time_zone* find_time_zone(const std::string& name, std::string& problem);

std::string_view day_name(int day) noexcept;  // 0 → "mon"
std::string format_time_range(const time_range& r);

}  // namespace sb
