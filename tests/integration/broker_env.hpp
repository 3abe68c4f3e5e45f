// What the integration tests share: the broker scripts/test.sh starts (SB_TEST_AMQP_URL,
// SB_TEST_BROKER_NODE), names unique to the run, and waiting for a condition. Missing
// environment means failure, not a skip: a green run must mean the broker was really used.
#pragma once

#include <doctest/doctest.h>
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

namespace itest {

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

inline std::string broker_url() {
  auto url = env_or_empty("SB_TEST_AMQP_URL");
  REQUIRE_MESSAGE(!url.empty(),
                  "SB_TEST_AMQP_URL is not set: run the tests through scripts/test.sh, which "
                  "starts a private RabbitMQ (scripts/broker.sh)");
  return url;
}

inline std::string broker_node() {
  auto node = env_or_empty("SB_TEST_BROKER_NODE");
  REQUIRE_MESSAGE(!node.empty(),
                  "SB_TEST_BROKER_NODE is not set: the outage test needs rabbitmqctl -n NODE");
  return node;
}

// Names unique to this run, so reruns against the same broker never collide.
inline std::string run_prefix() {
  static const std::string prefix =
      fmt::format("sbtest-{}-{:08x}", ::getpid(), std::random_device{}());
  return prefix;
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace itest
