#include "broker/topology.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sb;
using namespace std::chrono_literals;
using arg = topology::queue_argument;

namespace {

skill_config skill(std::string name) {
  skill_config s;
  s.name = std::move(name);
  return s;
}

}  // namespace

TEST_CASE("a skill's queue is its own name or switchboard.<skill>") {
  auto s = skill("billing");
  CHECK(topology::queue_name(s) == "switchboard.billing");
  s.queue = "team.billing";
  CHECK(topology::queue_name(s) == "team.billing");
}

TEST_CASE("a plain classic queue is declared without arguments") {
  CHECK(topology::queue_arguments(skill("general"), "switchboard").empty());
}

TEST_CASE("a classic queue with priorities, escalation and a length limit") {
  auto s = skill("general");
  s.max_priority = 300;  // clamped to RabbitMQ's 255
  s.escalate_after = 5min;
  s.escalate_to = "senior";
  s.max_length = 1000;
  const std::vector<arg> want{{"x-max-priority", std::int32_t{255}},
                              {"x-message-ttl", std::int64_t{300000}},
                              {"x-dead-letter-exchange", std::string("sb")},
                              {"x-dead-letter-routing-key", std::string("senior")},
                              {"x-max-length", std::int64_t{1000}},
                              {"x-overflow", std::string("reject-publish")}};
  CHECK(topology::queue_arguments(s, "sb") == want);
}

TEST_CASE("a quorum queue: no priorities, at-least-once dead-lettering with reject-publish") {
  auto s = skill("general");
  s.queue_type = "quorum";
  s.max_priority = 5;
  s.escalate_after = 1s;
  s.escalate_to = "senior";
  const std::vector<arg> want{{"x-queue-type", std::string("quorum")},
                              {"x-message-ttl", std::int64_t{1000}},
                              {"x-dead-letter-exchange", std::string("switchboard")},
                              {"x-dead-letter-routing-key", std::string("senior")},
                              {"x-dead-letter-strategy", std::string("at-least-once")},
                              {"x-overflow", std::string("reject-publish")}};
  CHECK(topology::queue_arguments(s, "switchboard") == want);
  CHECK(topology::priority_problem("quorum", 5));
  CHECK_FALSE(topology::priority_problem("quorum", 0));
  CHECK_FALSE(topology::priority_problem("classic", 5));
}

TEST_CASE("RabbitMQ's limits on names, TTLs and dead-lettering") {
  CHECK(topology::amqp_name_problem("") == "must not be empty");
  CHECK(topology::amqp_name_problem("amq.x"));
  CHECK(topology::amqp_name_problem(std::string(256, 'q')));
  CHECK_FALSE(topology::amqp_name_problem(std::string(255, 'q')));
  CHECK_FALSE(topology::ttl_problem(std::chrono::milliseconds{4294967295}));
  CHECK(topology::ttl_problem(std::chrono::milliseconds{4294967296}));
  CHECK(topology::dead_letter_problem("a", false, "b", true));
  CHECK_FALSE(topology::dead_letter_problem("a", true, "b", true));
  CHECK_FALSE(topology::dead_letter_problem("a", false, "b", false));
  CHECK(topology::is_queue_type("quorum"));
  CHECK_FALSE(topology::is_queue_type("stream"));
}
