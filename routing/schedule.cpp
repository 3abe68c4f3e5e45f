// Business hours: local wall-clock ranges per weekday, evaluated in the schedule's zone.
#include "routing/schedule.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>

namespace sb {

namespace {

constexpr std::array<std::string_view, 7> day_names = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

bool in_range(const time_range& r, int minute) {
  if (r.start < r.end) return minute >= r.start && minute < r.end;
  return minute >= r.start;  // the part before midnight of a range running past it
}

// "HH:MM" with 00 <= HH <= 24 and 24 only as "24:00".
std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0;
  int m = 0;
  if (std::from_chars(s.data(), s.data() + 2, h).ptr != s.data() + 2) return std::nullopt;
  if (std::from_chars(s.data() + 3, s.data() + 5, m).ptr != s.data() + 5) return std::nullopt;
  if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<int> parse_day(std::string_view s) {
  for (std::size_t i = 0; i < day_names.size(); ++i)
    if (s == day_names[i]) return static_cast<int>(i);
  return std::nullopt;
}

}  // namespace

std::string_view day_name(int day) noexcept {
  return day >= 0 && day < 7 ? day_names[static_cast<std::size_t>(day)] : std::string_view("?");
}

std::string format_time_range(const time_range& r) {
  return fmt::format("{:02}:{:02}-{:02}:{:02}", r.start / 60, r.start % 60, r.end / 60, r.end % 60);
}

bool schedule::open_at(millis t) const {
  if (zone == nullptr) return false;
  using namespace std::chrono;
  const auto local = zone->to_local(sys_time<milliseconds>{milliseconds{t}});
  // `days` is also a member here: name the chrono type in full.
  const auto today = date::floor<date::days>(local);
  const int minute = static_cast<int>(floor<minutes>(local - today).count());
  const auto is_closed = [&](date::local_days d) {
    return std::binary_search(closed.begin(), closed.end(),
                              static_cast<std::int32_t>(d.time_since_epoch().count()));
  };
  if (is_closed(today)) return false;
  // date::weekday: Sunday = 0; ours: Monday = 0.
  const int wd = static_cast<int>((date::weekday{today}.c_encoding() + 6) % 7);
  for (const auto& r : days[static_cast<std::size_t>(wd)])
    if (in_range(r, minute)) return true;
  // Yesterday's ranges that run past midnight, unless yesterday was closed.
  const auto yesterday = today - date::days{1};
  if (is_closed(yesterday)) return false;
  for (const auto& r : days[static_cast<std::size_t>((wd + 6) % 7)])
    if (r.end <= r.start && minute < r.end) return true;
  return false;
}

std::optional<time_range> parse_time_range(std::string_view s, std::string& problem) {
  const auto dash = s.find('-');
  std::optional<int> start;
  std::optional<int> end;
  if (dash != std::string_view::npos) {
    start = parse_clock(s.substr(0, dash));
    end = parse_clock(s.substr(dash + 1));
  }
  if (!start || !end) {
    problem = fmt::format(
        "\"{}\" is not a time range; write \"HH:MM-HH:MM\" in 24-hour local time, e.g. "
        "\"09:00-18:00\"",
        s);
    return std::nullopt;
  }
  if (*start == 24 * 60) {
    problem = fmt::format("\"{}\" starts at 24:00; start at 00:00 instead", s);
    return std::nullopt;
  }
  if (*start == *end) {
    problem = fmt::format("\"{}\" is empty; write \"00:00-24:00\" for the whole day", s);
    return std::nullopt;
  }
  return time_range{*start, *end};
}

std::optional<std::vector<int>> parse_days(std::string_view s, std::string& problem) {
  const auto dash = s.find('-');
  const auto first = parse_day(s.substr(0, dash));
  const auto last = dash == std::string_view::npos ? first : parse_day(s.substr(dash + 1));
  if (!first || !last) {
    problem = fmt::format(
        "\"{}\" is not a day or a range of days; write mon, tue, wed, thu, fri, sat, sun or a "
        "range such as mon-fri",
        s);
    return std::nullopt;
  }
  std::vector<int> out;
  for (int d = *first;; d = (d + 1) % 7) {
    out.push_back(d);
    if (d == *last) break;
  }
  return out;
}

std::optional<std::int32_t> parse_local_date(std::string_view s, std::string& problem) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  const char* p = s.data();
  const char* e = s.data() + s.size();
  bool ok = s.size() == 10 && s[4] == '-' && s[7] == '-';
  ok = ok && std::from_chars(p, p + 4, y).ptr == p + 4;
  ok = ok && std::from_chars(p + 5, p + 7, m).ptr == p + 7;
  ok = ok && std::from_chars(p + 8, e, d).ptr == e;
  const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ok || !ymd.ok()) {
    problem = fmt::format("\"{}\" is not a date; write YYYY-MM-DD, e.g. 2026-12-24", s);
    return std::nullopt;
  }
  return static_cast<std::int32_t>(date::local_days{ymd}.time_since_epoch().count());
}

const date::time_zone* find_time_zone(const std::string& name, std::string& problem) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    problem = fmt::format(
        "unknown time zone \"{}\"; use an IANA name from the system tzdata, e.g. Europe/Riga "
        "or America/New_York (see /usr/share/zoneinfo)",
        name);
    return nullptr;
  }
}

}  // namespace sb
