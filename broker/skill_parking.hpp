// Skills whose messages the broker returned: no queue is bound for the skill's routing key.
// Their rows are parked until a retry time; then a single row goes out as a probe, and only
// when the probe is confirmed do the others follow. A skill with a large backlog and no queue
// costs one message per retry, not the whole backlog; each round that comes back doubles the
// wait (backoff.hpp). The rows themselves stay in the outbox: a held row is only rescheduled
// (outbox_cursor.hpp), so this remembers a few fields per skill, never rows.
// Pure: no I/O, the clock is passed in.
#pragma once

#include "broker/backoff.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb {

class skill_parking {
 public:
  using clock = std::chrono::steady_clock;

  // Returns are logged at most once per `log_every` and skill, with the count since.
  explicit skill_parking(std::chrono::milliseconds log_every) : log_every_(log_every) {}

  // Whether a row may be published now. A row that may not is met again from `retry_at` on
  // (time_point::max(): once its skill's probe is settled, see confirmed()).
  struct admission {
    bool publish = true;
    clock::time_point retry_at{};
  };
  // A row of `skill` is about to go out. While the skill is parked its rows wait for the
  // retry time; then the first row met becomes the probe and the others wait for it.
  admission admit(const std::string& skill, std::int64_t seq, clock::time_point now);

  // A basic.return came for routing key `skill`: from now on its rows go one probe at a time.
  // Returns how many returns a log line should report now, or nothing when one was logged
  // within log_every (the count carries over to the next line).
  std::optional<std::uint64_t> return_received(const std::string& skill, clock::time_point now);

  // What settled a row of `skill` (its own skill, not an overflow target):
  // acked and routed. True when the skill was parked: it is routable again (forgotten), and
  // the rows that waited for it may go at once.
  bool confirmed(const std::string& skill);
  // acked after a basic.return. Its rows wait until the returned time: one backoff step per
  // round, so rows returned together do not double the wait per row.
  clock::time_point returned(const std::string& skill, std::int64_t seq, clock::time_point now,
                             backoff& delays);
  // nacked: a nacked probe says nothing about routing; the next row is the next probe.
  void nacked(const std::string& skill, std::int64_t seq);

  // The channel was lost with the probes in flight: each skill's next row is a new probe.
  void forget_probes() noexcept;
  // The connection was lost, or the skills changed (a new queue may be what was missing):
  // every skill is tried again at once.
  void clear() noexcept { health_.clear(); }

  // For tests and logs: the seq of `skill`'s probe in flight (0: none), whether it is known.
  std::int64_t probe(std::string_view skill) const;
  bool watched(std::string_view skill) const;

 private:
  struct skill_health {
    unsigned failures = 0;             // consecutive rounds that came back
    clock::time_point parked_until{};  // rows of this skill are not published before this
    std::int64_t probe = 0;            // seq of the probe in flight (0: none)
    clock::time_point last_log{};
    std::uint64_t unlogged = 0;  // returns since the last log line
  };
  const skill_health* find(std::string_view skill) const;

  std::chrono::milliseconds log_every_;
  std::unordered_map<std::string, skill_health> health_;
};

}  // namespace sb
