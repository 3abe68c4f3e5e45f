#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/rate_limit.hpp"
#include "core/time.hpp"

#include <doctest/doctest.h>
#include <fmt/chrono.h>
#include <fmt/core.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <thread>

using namespace sb;

// format_time writes its digits by hand: the same text as the fmt version it replaced, over
// the years 1 to 9999, before and after 1970, with and without milliseconds.
TEST_CASE("format_time writes what fmt wrote, and parse_time reads it back") {
  using namespace std::chrono;
  const auto reference = [](millis t) {
    const sys_time<milliseconds> tp{milliseconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss hms{tp - day};
    std::string out =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    hms.hours().count(), hms.minutes().count(), hms.seconds().count());
    if (auto ms = hms.subseconds().count(); ms != 0) out += fmt::format(".{:03}", ms);
    return out + 'Z';
  };
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<millis> any(-62135596800000, 253402300799999);
  for (int i = 0; i < 100000; ++i) {
    millis t = any(rng);
    if (i % 3 == 0) t -= t % 1000;  // whole seconds too
    REQUIRE(format_time(t) == reference(t));
    REQUIRE(parse_time(format_time(t)) == t);
  }
  CHECK(format_time(0) == "1970-01-01T00:00:00Z");
  CHECK(format_time(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_time(-62135596800001) == reference(-62135596800001));  // year 0: fmt writes it
}

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

TEST_CASE("is_id: what new_id() makes, nothing else") {
  for (int i = 0; i < 100; ++i) CHECK(is_id(new_id()));
  CHECK(is_id("0194f7a2-8c1e-7b3d-9a4f-1c2d3e4f5a6b"));
  CHECK(is_id("0194f7a2-8c1f-7000-b000-0123456789ab"));
  CHECK_FALSE(is_id("0194f7a2-8c1f-4000-8000-0123456789ab"));  // version 4
  CHECK_FALSE(is_id("0194f7a2-8c1f-7000-c000-0123456789ab"));  // another variant
  CHECK_FALSE(is_id("0194F7A2-8C1F-7000-8000-0123456789AB"));  // upper case
  CHECK_FALSE(is_id("0194f7a28c1f70008000-0123456789ab-ab"));  // dashes misplaced
  CHECK_FALSE(is_id(""));
}

TEST_CASE("ids made in the same millisecond differ, across threads and random-pool refills") {
  // 74 random bits per id; the pool is drawn in blocks, so thousands of ids cross refills.
  constexpr int per_thread = 5000;
  std::vector<std::string> a, b;
  std::thread other([&] {
    for (int i = 0; i < per_thread; ++i) b.push_back(new_id(1795341600000));
  });
  for (int i = 0; i < per_thread; ++i) a.push_back(new_id(1795341600000));
  other.join();
  std::set<std::string> seen(a.begin(), a.end());
  seen.insert(b.begin(), b.end());
  CHECK(seen.size() == 2 * per_thread);
}

TEST_CASE("every error code maps to one HTTP status and name in the single table") {
  CHECK(describe(errc::malformed).http_status == 400);
  CHECK(describe(errc::bad_signature).http_status == 401);
  CHECK(describe(errc::unknown_channel).http_status == 404);
  CHECK(describe(errc::method_not_allowed).http_status == 405);
  CHECK(describe(errc::conflict).http_status == 409);
  CHECK(describe(errc::slow_client).http_status == 408);
  CHECK(describe(errc::too_large).http_status == 413);
  CHECK(describe(errc::unsupported_media_type).http_status == 415);
  CHECK(describe(errc::undeliverable).http_status == 422);
  CHECK(describe(errc::window_closed).http_status == 422);
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

TEST_CASE("metrics: labels are escaped, counters and histograms render the text format") {
  using namespace sb::metrics;
  CHECK(labels({{"channel", "web-chat"}, {"code", "202"}}) == R"(channel="web-chat",code="202")");
  CHECK(labels({{"v", "a\"b\\c\nd"}}) == R"(v="a\"b\\c\nd")");

  counter_family c("test_requests_total", "Requests.");
  c.add(labels({{"code", "200"}}));
  c.add(labels({{"code", "200"}}), 2);
  c.add(labels({{"code", "500"}}));
  CHECK(c.value(labels({{"code", "200"}})) == 3);
  std::string out;
  c.render(out);
  CHECK(out ==
        "# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n"
        "test_requests_total{code=\"200\"} 3\ntest_requests_total{code=\"500\"} 1\n");

  histogram_family h("test_seconds", "Latency.", {0.1, 1});
  h.observe("", 0.05);
  h.observe("", 0.5);
  h.observe("", 0.5);
  h.observe("", 7);
  out.clear();
  h.render(out);
  CHECK(out ==
        "# HELP test_seconds Latency.\n# TYPE test_seconds histogram\n"
        "test_seconds_bucket{le=\"0.1\"} 1\ntest_seconds_bucket{le=\"1\"} 3\n"
        "test_seconds_bucket{le=\"+Inf\"} 4\ntest_seconds_sum 8.05\ntest_seconds_count 4\n");
  CHECK(h.count_sum("").first == 4);

  out.clear();
  gauge(out, "test_ready", "1 when ready.", 1);
  counter(out, "test_reconnects_total", "Reconnects.", 12);
  CHECK(out ==
        "# HELP test_ready 1 when ready.\n# TYPE test_ready gauge\ntest_ready 1\n"
        "# HELP test_reconnects_total Reconnects.\n# TYPE test_reconnects_total counter\n"
        "test_reconnects_total 12\n");
}

TEST_CASE("metrics: process metrics come from /proc/self") {
  std::string out;
  sb::metrics::render_process_metrics(out);
  CHECK(out.find("\nprocess_resident_memory_bytes ") != std::string::npos);
  CHECK(out.find("\nprocess_cpu_seconds_total ") != std::string::npos);
  CHECK(out.find("\nprocess_open_fds ") != std::string::npos);
}

TEST_CASE("metrics: the heap in use follows what is allocated and freed") {
  const auto heap = [] {
    std::string out;
    sb::metrics::render_process_metrics(out);
    const auto at = out.find("\nswitchboard_heap_bytes ");
    REQUIRE(at != std::string::npos);
    return std::stod(out.substr(at + std::string_view("\nswitchboard_heap_bytes ").size()));
  };
  const double before = heap();
  auto block = std::make_unique<char[]>(64 << 20);
  asm volatile("" : : "r"(block.get()) : "memory");  // the allocation may not be elided
  const double during = heap();
  block.reset();
  const double after = heap();
  CHECK(during - before >= 64 << 20);
  CHECK(during - after >= 64 << 20);
}

TEST_CASE("log limiter: a burst per key and window, then a count of what was left out") {
  sb::log::limiter lim(std::chrono::milliseconds(200), 2);
  CHECK(lim.allow("a") == std::optional<std::uint64_t>(0));
  CHECK(lim.allow("a") == std::optional<std::uint64_t>(0));
  CHECK_FALSE(lim.allow("a"));
  CHECK_FALSE(lim.allow("a"));
  CHECK(lim.allow("b") == std::optional<std::uint64_t>(0));  // keys are independent
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(lim.allow("a") == std::optional<std::uint64_t>(2));  // the next window reports them
  CHECK(lim.allow("a") == std::optional<std::uint64_t>(0));
}

TEST_CASE("log formats and levels parse from the command line's words") {
  CHECK(sb::log::parse_format("json") == sb::log::format::json);
  CHECK(sb::log::parse_format("journal") == sb::log::format::journal);
  CHECK_FALSE(sb::log::parse_format("xml"));
  CHECK(sb::log::parse_level("warn") == sb::log::level::warning);
  CHECK_FALSE(sb::log::parse_level("verbose"));
}

TEST_CASE("rate limiter: a burst, then the rate; keys are independent; memory is bounded") {
  using namespace std::chrono_literals;
  sb::rate_limiter lim(4);
  const auto t0 = sb::rate_limiter::clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) CHECK(lim.take("a", 10, 3, t0) == 0ms);  // the burst
  CHECK(lim.take("a", 10, 3, t0) == 100ms);                            // next token in 1/rate
  CHECK(lim.take("a", 10, 3, t0 + 50ms) == 50ms);
  CHECK(lim.take("a", 10, 3, t0 + 100ms) == 0ms);
  CHECK(lim.take("b", 10, 3, t0 + 100ms) == 0ms);
  CHECK(lim.take("a", 0, 0, t0) == 0ms);  // rate 0: no limit
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 3; ++i) CHECK(lim.take("a", 10, 3, t0 + 1h) == 0ms);
  CHECK(lim.take("a", 10, 3, t0 + 1h) > 0ms);
  // Many distinct keys: refilled ones are forgotten, the count stays bounded.
  for (int i = 0; i < 100; ++i) lim.take("k" + std::to_string(i), 10, 3, t0 + 2h + i * 1s);
  CHECK(lim.keys() <= 4);
}

TEST_CASE("rate limiter: wait() tells when a token will be there and takes none") {
  using namespace std::chrono_literals;
  sb::rate_limiter lim;
  const auto t0 = sb::rate_limiter::clock::time_point{} + 1h;
  CHECK(lim.wait("never-charged", 10, 2, t0) == 0ms);
  CHECK(lim.keys() == 0);  // asking remembers nothing
  CHECK(lim.take("a", 10, 2, t0) == 0ms);
  CHECK(lim.wait("a", 10, 2, t0) == 0ms);  // one token left, still there after asking
  CHECK(lim.wait("a", 10, 2, t0) == 0ms);
  CHECK(lim.take("a", 10, 2, t0) == 0ms);
  CHECK(lim.wait("a", 10, 2, t0) == 100ms);
  CHECK(lim.wait("a", 10, 2, t0 + 60ms) == 40ms);
  CHECK(lim.wait("a", 10, 2, t0 + 100ms) == 0ms);
  CHECK(lim.wait("a", 0, 0, t0) == 0ms);  // rate 0: no limit
}

// The payload writes its JSON strings itself (store/payload.cpp): they must be what Boost.JSON
// wrote before, byte for byte.
TEST_CASE("append_json_string escapes as Boost.JSON's serializer does") {
  const auto boost_text = [](std::string_view s) {
    return boost::json::serialize(boost::json::value(boost::json::string_view(s)));
  };
  const auto ours = [](std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
  };
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    CHECK_MESSAGE(ours(one) == boost_text(one), c);
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 40, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng() % 4 == 0 ? rng() % 0x30 : 'a' + rng() % 26);
    REQUIRE(ours(s) == boost_text(s));
  }
  CHECK(ours("Ann \"Lee\"\n\xc3\xa9") == R"("Ann \"Lee\"\n)"
                                         "\xc3\xa9\"");
}
