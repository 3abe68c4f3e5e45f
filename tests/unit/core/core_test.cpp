#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace sb;

TEST_CASE("RFC 3339 times parse and format in UTC") {
  CHECK(parse_time("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_time("2026-11-22T10:00:00Z") == 1795341600000);
  CHECK(parse_time("2026-11-22T10:00:00.5Z") == 1795341600500);
  CHECK(parse_time("2026-11-22T10:00:00.123456Z") == 1795341600123);
  CHECK(parse_time("2026-11-22T12:00:00+02:00") == 1795341600000);
  CHECK(parse_time("2026-11-22T05:30:00-04:30") == 1795341600000);
  CHECK(format_time(1795341600000) == "2026-11-22T10:00:00Z");
  CHECK(format_time(1795341600123) == "2026-11-22T10:00:00.123Z");
  for (const char* bad :
       {"", "2026-11-22", "2026-11-22T10:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-22T25:00:00Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00Zjunk",
        "2026-11-22T10:00:00+2:00", "abcd-11-22T10:00:00Z"})
    CHECK_MESSAGE(!parse_time(bad), bad);
}

TEST_CASE("ids are UUIDv7: unique, time-ordered, well-formed") {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_id(1795341600000 + i);
    CHECK(id.size() == 36);
    CHECK(id[14] == '7');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    CHECK(id > prev);
    prev = id;
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("every error code maps to one HTTP status and name in the single table") {
  CHECK(describe(errc::malformed).http_status == 400);
  CHECK(describe(errc::bad_signature).http_status == 401);
  CHECK(describe(errc::unknown_channel).http_status == 404);
  CHECK(describe(errc::method_not_allowed).http_status == 405);
  CHECK(describe(errc::slow_client).http_status == 408);
  CHECK(describe(errc::too_large).http_status == 413);
  CHECK(describe(errc::unsupported_media_type).http_status == 415);
  CHECK(describe(errc::rate_limited).http_status == 429);
  CHECK(describe(errc::headers_too_large).http_status == 431);
  CHECK(describe(errc::unavailable).http_status == 503);
  std::set<std::string_view> names;
  for (const auto& e : status_table()) names.insert(e.name);
  CHECK(names.size() == status_table().size());
  std::error_code ec = errc::unavailable;
  CHECK(ec.category().name() == std::string("switchboard"));
  // Transient failures must never map to statuses providers treat as final (403, 406).
  for (const auto& e : status_table()) {
    CHECK(e.http_status != 403);
    CHECK(e.http_status != 406);
  }
}
