#include "broker/skill_parking.hpp"

#include <doctest/doctest.h>

using namespace sb;
using std::chrono::milliseconds;
using steady = skill_parking::clock;

namespace {

const steady::time_point t0{std::chrono::hours{1}};
constexpr milliseconds log_every{60000};

}  // namespace

TEST_CASE("skill_parking lets every row of a skill never returned through") {
  skill_parking p(log_every);
  for (std::int64_t seq = 1; seq <= 5; ++seq) {
    const auto a = p.admit("sales", seq, t0);
    CHECK(a.publish);
  }
  CHECK_FALSE(p.watched("sales"));
  CHECK(p.probe("sales") == 0);
  CHECK_FALSE(p.confirmed("sales"));  // acks of a healthy skill change nothing
}

TEST_CASE("skill_parking parks a returned skill, then sends one probe, then the rest") {
  skill_parking p(log_every);
  backoff delays(milliseconds{1000}, milliseconds{8000}, /*seed=*/1);

  // The round that came back: rows 1 and 2, settled together.
  const auto until = p.returned("sales", 1, t0, delays);
  CHECK(until >= t0 + milliseconds{500});
  CHECK(until <= t0 + milliseconds{1000});
  CHECK(p.returned("sales", 2, t0, delays) == until);  // one backoff step per round

  // Parked: held until the retry time, which is when they are met again.
  auto a = p.admit("sales", 3, t0 + milliseconds{100});
  CHECK_FALSE(a.publish);
  CHECK(a.retry_at == until);
  CHECK(p.admit("other", 4, t0 + milliseconds{100}).publish);  // other skills go on

  // Due: one row goes as the probe; the others wait for it, with no time of their own.
  a = p.admit("sales", 3, until);
  CHECK(a.publish);
  CHECK(p.probe("sales") == 3);
  a = p.admit("sales", 5, until);
  CHECK_FALSE(a.publish);
  CHECK(a.retry_at == steady::time_point::max());

  // The probe came back too: the next wait is one step longer, and the probe slot is free.
  const auto later = until + milliseconds{10};
  const auto until2 = p.returned("sales", 3, later, delays);
  CHECK(p.probe("sales") == 0);
  CHECK(until2 >= later + milliseconds{1000});
  CHECK(until2 <= later + milliseconds{2000});
  CHECK_FALSE(p.admit("sales", 5, later).publish);

  // The next probe gets through: the skill is routable again and forgotten.
  CHECK(p.admit("sales", 5, until2).publish);
  CHECK(p.confirmed("sales"));
  CHECK_FALSE(p.watched("sales"));
  CHECK(p.admit("sales", 6, until2).publish);
  CHECK(p.admit("sales", 7, until2).publish);  // no probe any more: all at once
  CHECK(p.probe("sales") == 0);
}

TEST_CASE("skill_parking goes probe by probe as soon as a basic.return arrives") {
  // The return frame comes before the ack that settles the row: from then on, one probe.
  skill_parking p(log_every);
  CHECK(p.return_received("sales", t0).has_value());
  CHECK(p.watched("sales"));
  CHECK(p.admit("sales", 10, t0).publish);
  CHECK(p.probe("sales") == 10);
  CHECK_FALSE(p.admit("sales", 11, t0).publish);
  // Not parked by a failed round yet: an ack does not count as "routable again".
  CHECK_FALSE(p.confirmed("sales"));
  CHECK(p.watched("sales"));
}

TEST_CASE("skill_parking frees the probe slot when the probe is nacked or the channel lost") {
  skill_parking p(log_every);
  backoff delays(milliseconds{1000}, milliseconds{8000}, 1);
  const auto until = p.returned("sales", 1, t0, delays);
  REQUIRE(p.admit("sales", 2, until).publish);
  REQUIRE(p.probe("sales") == 2);

  p.nacked("sales", 3);  // not the probe: still waiting for it
  CHECK(p.probe("sales") == 2);
  CHECK_FALSE(p.admit("sales", 3, until).publish);
  p.nacked("sales", 2);
  CHECK(p.probe("sales") == 0);
  CHECK(p.admit("sales", 3, until).publish);  // the next probe
  CHECK(p.probe("sales") == 3);

  p.forget_probes();  // the channel went with probe 3
  CHECK(p.probe("sales") == 0);
  CHECK(p.admit("sales", 3, until).publish);
  CHECK(p.watched("sales"));  // still parked-then-probing, not routable

  p.clear();
  CHECK_FALSE(p.watched("sales"));
}

TEST_CASE("skill_parking logs returns at most once per interval and skill, with the count") {
  skill_parking p(milliseconds{60000});
  auto n = p.return_received("sales", t0);
  REQUIRE(n.has_value());
  CHECK(*n == 1);
  CHECK_FALSE(p.return_received("sales", t0 + milliseconds{1}).has_value());
  CHECK_FALSE(p.return_received("sales", t0 + milliseconds{59999}).has_value());
  n = p.return_received("other", t0 + milliseconds{2});  // its own interval
  REQUIRE(n.has_value());
  CHECK(*n == 1);
  n = p.return_received("sales", t0 + milliseconds{60000});
  REQUIRE(n.has_value());
  CHECK(*n == 3);  // the two held back and this one
  CHECK_FALSE(p.return_received("sales", t0 + milliseconds{60001}).has_value());
}
