// The publisher's retry delay: exponential from broker.reconnect_min, capped at
// broker.reconnect_max, with "equal jitter" (half the delay fixed, half random), so daemons
// restarted together do not reconnect in lockstep. One generator serves every retry the
// publisher schedules: reconnects, channel reopens, nack rounds and parked skills.
// Pure: no clock, no I/O; the seed is a parameter so tests can fix it.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sb {

class backoff {
 public:
  backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
          std::uint64_t seed = std::random_device{}());

  // The delay before retry number `attempt` (0 for the first): in [ceiling/2, ceiling].
  std::chrono::milliseconds operator()(unsigned attempt);

  // The un-jittered delay of `attempt`: min doubled `attempt` times, at most max. A min below
  // 1 ms is 1 ms (doubling 0 would never grow) and a max below min is min.
  std::chrono::milliseconds ceiling(unsigned attempt) const noexcept;

 private:
  std::chrono::milliseconds lo_, hi_;
  std::mt19937_64 rng_;
};

}  // namespace sb
