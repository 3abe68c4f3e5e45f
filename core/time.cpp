#include "core/time.hpp"

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <charconv>
#include <chrono>
#include <limits>
#include <utility>

namespace sb {

millis now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_time(millis t) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{t}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  const int year = static_cast<int>(ymd.year());
  const auto ms = static_cast<unsigned>(hms.subseconds().count());
  if (year < 0 || year > 9999) {  // not a time a message has; written as fmt writes it
    std::string out =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", year,
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    hms.hours().count(), hms.minutes().count(), hms.seconds().count());
    if (ms != 0) out += fmt::format(".{:03}", ms);
    out += 'Z';
    return out;
  }
  // Every payload carries several of these: digits by hand, one allocation (within SSO).
  char buf[24];
  const auto put = [](char* p, unsigned v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  };
  put(buf, static_cast<unsigned>(year), 4);
  buf[4] = '-';
  put(buf + 5, static_cast<unsigned>(ymd.month()), 2);
  buf[7] = '-';
  put(buf + 8, static_cast<unsigned>(ymd.day()), 2);
  buf[10] = 'T';
  put(buf + 11, static_cast<unsigned>(hms.hours().count()), 2);
  buf[13] = ':';
  put(buf + 14, static_cast<unsigned>(hms.minutes().count()), 2);
  buf[16] = ':';
  put(buf + 17, static_cast<unsigned>(hms.seconds().count()), 2);
  std::size_t n = 19;
  if (ms != 0) {
    buf[n++] = '.';
    put(buf + n, ms, 3);
    n += 3;
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<millis> parse_time(std::string_view s) noexcept {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  int frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) frac_ms *= 10;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{frac_ms} -
                  minutes{offset_min};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) noexcept {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t n = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n); ec != std::errc{})
    return std::nullopt;  // more digits than 64 bits hold
  const std::string_view unit = s.substr(digits);
  constexpr std::pair<std::string_view, std::int64_t> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};
  std::int64_t factor = 0;
  for (const auto& [name, f] : units)
    if (unit == name) factor = f;
  if (factor == 0) return std::nullopt;  // includes the bare number: the unit must be explicit
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  if (n > static_cast<std::uint64_t>(max / factor)) return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(n) * factor};
}

}  // namespace sb
