#include "broker/overflow.hpp"

#include <doctest/doctest.h>

using namespace sb;
using std::chrono::milliseconds;
using steady = nack_policy::clock;

namespace {

const steady::time_point t0{std::chrono::hours{1}};
constexpr milliseconds log_every{10000};

skill_config skill(std::string name, std::optional<std::string> overflow_to = std::nullopt) {
  skill_config s;
  s.name = std::move(name);
  if (overflow_to) s.max_length = 10;
  s.overflow_to = std::move(overflow_to);
  return s;
}

outbox_row row(std::int64_t seq, std::string skill, std::string overflow_to = {}) {
  outbox_row r;
  r.seq = seq;
  r.message_id = "m-" + std::to_string(seq);
  r.skill = std::move(skill);
  r.overflow_to = std::move(overflow_to);
  return r;
}

std::vector<outbox_row> rows(std::vector<outbox_row> r) { return r; }

// sales overflows to general, general to night; support has no overflow; orphan names a
// skill the config does not have (any more).
const std::vector<skill_config> skills = {skill("sales", "general"), skill("general", "night"),
                                          skill("night"), skill("support"),
                                          skill("orphan", "gone")};

}  // namespace

TEST_CASE("overflow_skill is the full skill's overflow_to, when that skill is configured") {
  REQUIRE(overflow_skill(skills, "sales") != nullptr);
  CHECK(*overflow_skill(skills, "sales") == "general");
  CHECK(*overflow_skill(skills, "general") == "night");
  CHECK(overflow_skill(skills, "support") == nullptr);
  CHECK(overflow_skill(skills, "orphan") == nullptr);
  CHECK(overflow_skill(skills, "unknown") == nullptr);
  CHECK(overflow_skill({}, "sales") == nullptr);
}

TEST_CASE("a nacked row of a full queue goes on to its skill's overflow_to") {
  nack_policy nacks(log_every);
  backoff delays(milliseconds{1000}, milliseconds{64000}, 3);
  auto r =
      nacks.settle(rows({row(1, "sales"), row(2, "support"), row(3, "sales")}), skills, t0, delays);
  REQUIRE(r.overflowed.size() == 2);
  CHECK(r.overflowed[0].from == "sales");
  CHECK(r.overflowed[0].row.seq == 1);
  CHECK(r.overflowed[0].row.skill == "sales");  // still its own skill: the outbox's row
  CHECK(r.overflowed[0].row.overflow_to == "general");
  CHECK(target_skill(r.overflowed[0].row) == "general");
  CHECK(r.overflowed[1].row.seq == 3);
  REQUIRE(r.retried.size() == 1);
  CHECK(r.retried[0] == 2);
  CHECK(r.retry_at >= t0 + milliseconds{500});
  CHECK(r.retry_at <= t0 + milliseconds{1000});
}

TEST_CASE("a row nacked by the overflow skill's full queue goes on down the chain") {
  nack_policy nacks(log_every);
  backoff delays(milliseconds{1000}, milliseconds{64000}, 3);
  // Sent on to general, whose queue is full too: on to night.
  auto r = nacks.settle(rows({row(4, "sales", "general")}), skills, t0, delays);
  REQUIRE(r.overflowed.size() == 1);
  CHECK(r.overflowed[0].from == "general");
  CHECK(r.overflowed[0].row.overflow_to == "night");
  CHECK(r.retried.empty());
  // night is full as well and has nowhere to go: back-pressure, from the outbox.
  r = nacks.settle(rows({row(4, "sales", "night")}), skills, t0, delays);
  CHECK(r.overflowed.empty());
  REQUIRE(r.retried.size() == 1);
  const auto report = nacks.report_due(t0);
  REQUIRE(report.has_value());
  CHECK(report->retried == 1);
  CHECK(report->retried_example == "night");  // the full queue, not the row's own skill
  CHECK(report->overflowed == 1);
  CHECK(report->overflowed_example == "general");
}

TEST_CASE("nack backoff grows once per round and starts over after an ack") {
  nack_policy nacks(log_every);
  backoff delays(milliseconds{1000}, milliseconds{64000}, 5);
  const auto retry_in = [&](std::vector<outbox_row> nacked, steady::time_point now) {
    auto r = nacks.settle(std::move(nacked), skills, now, delays);
    REQUIRE_FALSE(r.retried.empty());
    return r.retry_at - now;
  };
  // Round 0: [500, 1000] ms, shared by every row of the round.
  auto r = nacks.settle(rows({row(1, "support"), row(2, "support"), row(3, "night")}), skills, t0,
                        delays);
  CHECK(r.retried == std::vector<std::int64_t>{1, 2, 3});
  CHECK(r.retry_at - t0 >= milliseconds{500});
  CHECK(r.retry_at - t0 <= milliseconds{1000});
  // Round 1 and 2 double it.
  auto d = retry_in(rows({row(1, "support")}), t0);
  CHECK(d >= milliseconds{1000});
  CHECK(d <= milliseconds{2000});
  d = retry_in(rows({row(1, "support")}), t0);
  CHECK(d >= milliseconds{2000});
  CHECK(d <= milliseconds{4000});
  // A round that only overflowed takes no step.
  CHECK(nacks.settle(rows({row(5, "sales")}), skills, t0, delays).retried.empty());
  d = retry_in(rows({row(1, "support")}), t0);
  CHECK(d >= milliseconds{4000});
  CHECK(d <= milliseconds{8000});
  // The broker took a message: the queue drains, the next nack waits the shortest delay.
  nacks.confirmed();
  d = retry_in(rows({row(1, "support")}), t0);
  CHECK(d >= milliseconds{500});
  CHECK(d <= milliseconds{1000});
}

TEST_CASE("nack_policy reports nacks at most once per interval, with the counts since") {
  nack_policy nacks(milliseconds{10000});
  backoff delays(milliseconds{100}, milliseconds{1000}, 1);
  CHECK_FALSE(nacks.report_due(t0).has_value());  // nothing nacked yet
  nacks.settle(rows({row(1, "support"), row(2, "sales")}), skills, t0, delays);
  auto report = nacks.report_due(t0);
  REQUIRE(report.has_value());
  CHECK(report->retried == 1);
  CHECK(report->overflowed == 1);
  CHECK(report->retried_example == "support");
  CHECK(report->overflowed_example == "sales");

  nacks.settle(rows({row(3, "support")}), skills, t0 + milliseconds{1}, delays);
  CHECK_FALSE(nacks.report_due(t0 + milliseconds{1}).has_value());
  nacks.settle(rows({row(4, "night"), row(5, "support")}), skills, t0 + milliseconds{2}, delays);
  CHECK_FALSE(nacks.report_due(t0 + milliseconds{9999}).has_value());
  report = nacks.report_due(t0 + milliseconds{10000});
  REQUIRE(report.has_value());
  CHECK(report->retried == 3);
  CHECK(report->overflowed == 0);
  CHECK(report->retried_example == "support");                          // the last one
  CHECK_FALSE(nacks.report_due(t0 + milliseconds{30000}).has_value());  // nothing new
}

TEST_CASE("overflow_queue hands out the lowest seq first and holds a seq once") {
  overflow_queue q;
  CHECK(q.empty());
  CHECK(q.lowest() == 0);
  q.push(row(9, "sales", "general"));
  q.push(row(4, "sales", "general"));
  q.push(row(7, "general", "night"));
  q.push(row(4, "sales", "night"));  // already waiting: keeps its first target
  CHECK(q.size() == 3);
  CHECK(q.contains(7));
  CHECK_FALSE(q.contains(5));
  CHECK(q.lowest() == 4);
  auto r = q.pop();
  CHECK(r.seq == 4);
  CHECK(r.overflow_to == "general");
  CHECK(q.pop().seq == 7);
  CHECK(q.lowest() == 9);
  CHECK_FALSE(q.contains(4));
  q.clear();
  CHECK(q.empty());
  CHECK(q.lowest() == 0);
}
