#include "routing/schedule.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace sb;

millis at(const char* rfc3339) {
  const auto t = parse_time(rfc3339);
  REQUIRE_MESSAGE(t.has_value(), rfc3339);
  return *t;
}

time_range range(const char* s) {
  std::string problem;
  const auto r = parse_time_range(s, problem);
  REQUIRE_MESSAGE(r.has_value(), problem);
  return *r;
}

schedule make(const char* zone) {
  schedule s;
  s.name = "hours";
  s.timezone = zone;
  std::string problem;
  s.zone = find_time_zone(zone, problem);
  REQUIRE_MESSAGE(s.zone != nullptr, problem);
  return s;
}

void weekdays(schedule& s, const char* hours) {
  for (int d = 0; d < 5; ++d) s.days[static_cast<std::size_t>(d)].push_back(range(hours));
}

}  // namespace

TEST_CASE("parse_time_range") {
  CHECK(range("09:00-18:00") == time_range{540, 1080});
  CHECK(range("00:00-24:00") == time_range{0, 1440});
  CHECK(range("22:00-06:00") == time_range{1320, 360});  // past midnight
  std::string problem;
  for (const char* bad : {"9-18", "09:00", "09:00-", "09:60-10:00", "25:00-26:00", "24:00-06:00",
                          "09:00-09:00", "24:30-01:00", "9:00-18:00", "09:00 - 18:00", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time_range(bad, problem).has_value());
    CHECK_FALSE(problem.empty());
  }
  CHECK_FALSE(parse_time_range("10:00-10:00", problem).has_value());
  CHECK(problem.find("00:00-24:00") != std::string::npos);
}

TEST_CASE("parse_days") {
  std::string problem;
  CHECK(parse_days("mon", problem) == std::vector<int>{0});
  CHECK(parse_days("mon-fri", problem) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(parse_days("sat-sun", problem) == std::vector<int>{5, 6});
  CHECK(parse_days("fri-mon", problem) == std::vector<int>{4, 5, 6, 0});  // wraps
  for (const char* bad : {"monday", "Mon", "mon-", "-fri", "mon-xyz", "", "mon,tue"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_days(bad, problem).has_value());
  }
  CHECK(day_name(0) == "mon");
  CHECK(day_name(6) == "sun");
}

TEST_CASE("parse_local_date and find_time_zone") {
  std::string problem;
  CHECK(parse_local_date("1970-01-02", problem) == 1);
  CHECK(parse_local_date("2026-12-24", problem) == 20811);
  for (const char* bad : {"2026-02-30", "2026-13-01", "26-12-24", "2026/12/24", "2026-12-24x"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_local_date(bad, problem).has_value());
  }
  CHECK(find_time_zone("Europe/Riga", problem) != nullptr);
  CHECK(find_time_zone("America/New_York", problem) != nullptr);
  CHECK(find_time_zone("UTC", problem) != nullptr);
  CHECK(find_time_zone("Europe/Atlantis", problem) == nullptr);
  CHECK(problem.find("unknown time zone \"Europe/Atlantis\"") != std::string::npos);
  CHECK(find_time_zone("", problem) == nullptr);
}

TEST_CASE("schedule::open_at: Europe/Riga across the DST changes") {
  auto s = make("Europe/Riga");
  weekdays(s, "09:00-18:00");
  s.days[5].push_back(range("10:00-14:00"));  // Saturday

  SUBCASE("winter time, UTC+2") {
    CHECK_FALSE(s.open_at(at("2026-03-27T06:59:00Z")));  // Fri 08:59
    CHECK(s.open_at(at("2026-03-27T07:00:00Z")));        // Fri 09:00
    CHECK(s.open_at(at("2026-03-27T15:59:59Z")));        // Fri 17:59:59
    CHECK_FALSE(s.open_at(at("2026-03-27T16:00:00Z")));  // Fri 18:00
    CHECK(s.open_at(at("2026-03-28T08:00:00Z")));        // Sat 10:00
    CHECK_FALSE(s.open_at(at("2026-03-28T12:00:00Z")));  // Sat 14:00
  }
  SUBCASE("summer time from Sunday 29 March 2026, UTC+3: the same UTC hour answers otherwise") {
    CHECK_FALSE(s.open_at(at("2026-03-27T06:00:00Z")));  // Fri 08:00 EET
    CHECK(s.open_at(at("2026-03-30T06:00:00Z")));        // Mon 09:00 EEST
    CHECK(s.open_at(at("2026-03-27T15:30:00Z")));        // Fri 17:30 EET
    CHECK_FALSE(s.open_at(at("2026-03-30T15:30:00Z")));  // Mon 18:30 EEST
  }
  SUBCASE("back to winter time on Sunday 25 October 2026") {
    CHECK(s.open_at(at("2026-10-23T14:30:00Z")));        // Fri 17:30 EEST
    CHECK_FALSE(s.open_at(at("2026-10-23T15:30:00Z")));  // Fri 18:30 EEST
    CHECK(s.open_at(at("2026-10-26T15:30:00Z")));        // Mon 17:30 EET
    CHECK_FALSE(s.open_at(at("2026-10-26T06:30:00Z")));  // Mon 08:30 EET
    CHECK(s.open_at(at("2026-10-23T06:30:00Z")));        // Fri 09:30 EEST
  }
  SUBCASE("hours on the night of the change itself") {
    schedule night = make("Europe/Riga");
    night.days[6].push_back(
        range("03:30-05:00"));  // Sunday; 03:00-04:00 does not exist on 29 March
    CHECK_FALSE(night.open_at(at("2026-03-29T00:59:59Z")));  // 02:59:59 EET
    CHECK(night.open_at(at("2026-03-29T01:00:00Z")));        // 04:00 EEST (03:00 skipped)
    CHECK_FALSE(night.open_at(at("2026-03-29T02:00:00Z")));  // 05:00 EEST
    // 25 October: 03:00-04:00 happens twice; both are open.
    CHECK(night.open_at(at("2026-10-25T00:30:00Z")));        // 03:30 EEST
    CHECK(night.open_at(at("2026-10-25T01:30:00Z")));        // 03:30 EET
    CHECK(night.open_at(at("2026-10-25T02:30:00Z")));        // 04:30 EET
    CHECK_FALSE(night.open_at(at("2026-10-25T03:00:00Z")));  // 05:00 EET
  }
}

TEST_CASE("schedule::open_at: America/New_York across the DST changes") {
  auto s = make("America/New_York");
  weekdays(s, "09:00-17:00");
  CHECK_FALSE(s.open_at(at("2026-03-06T13:30:00Z")));  // Fri 08:30 EST
  CHECK(s.open_at(at("2026-03-09T13:30:00Z")));        // Mon 09:30 EDT (from 8 March)
  CHECK(s.open_at(at("2026-10-30T13:30:00Z")));        // Fri 09:30 EDT
  CHECK_FALSE(s.open_at(at("2026-11-02T13:30:00Z")));  // Mon 08:30 EST (from 1 November)
  CHECK_FALSE(s.open_at(at("2026-03-07T15:00:00Z")));  // Saturday
}

TEST_CASE("schedule::open_at: ranges past midnight, several ranges, closed dates") {
  auto s = make("Europe/Riga");
  s.days[4].push_back(range("22:00-02:00"));  // Friday night into Saturday
  s.days[0].push_back(range("09:00-12:00"));  // Monday, with a lunch break
  s.days[0].push_back(range("13:00-18:00"));
  s.days[3].push_back(range("00:00-24:00"));  // all Thursday

  CHECK(s.open_at(at("2026-01-09T20:30:00Z")));        // Fri 22:30
  CHECK(s.open_at(at("2026-01-09T23:59:00Z")));        // Sat 01:59
  CHECK_FALSE(s.open_at(at("2026-01-10T00:00:00Z")));  // Sat 02:00
  CHECK_FALSE(s.open_at(at("2026-01-09T19:59:00Z")));  // Fri 21:59
  CHECK(s.open_at(at("2026-01-12T09:00:00Z")));        // Mon 11:00
  CHECK_FALSE(s.open_at(at("2026-01-12T10:30:00Z")));  // Mon 12:30
  CHECK(s.open_at(at("2026-01-12T11:00:00Z")));        // Mon 13:00
  CHECK(s.open_at(at("2026-01-07T22:00:00Z")));        // Thu 00:00
  CHECK(s.open_at(at("2026-01-08T21:59:59Z")));        // Thu 23:59:59
  CHECK_FALSE(s.open_at(at("2026-01-08T22:00:00Z")));  // Fri 00:00

  std::string problem;
  s.closed = {*parse_local_date("2026-01-08", problem), *parse_local_date("2026-01-16", problem)};
  CHECK_FALSE(s.open_at(at("2026-01-08T10:00:00Z")));  // the closed Thursday
  CHECK(s.open_at(at("2026-01-15T10:00:00Z")));        // the next Thursday
  // A closed Friday's night shift does not run into Saturday.
  CHECK_FALSE(s.open_at(at("2026-01-16T20:30:00Z")));
  CHECK_FALSE(s.open_at(at("2026-01-16T23:30:00Z")));

  schedule no_zone;
  CHECK_FALSE(no_zone.open_at(at("2026-01-08T10:00:00Z")));
}
