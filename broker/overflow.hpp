// What becomes of a row the broker nacks. A nack is a full queue (x-max-length with
// x-overflow: reject-publish): the row goes on to its skill's overflow_to skill when it has
// one, ahead of anything new. Otherwise the nack is back-pressure: the row stays in the outbox
// and goes out again after a delay that grows with each nacked round and starts over once the
// broker acks something. Pure: no I/O, the clock and the delays are passed in.
#pragma once

#include "broker/backoff.hpp"
#include "routing/rules.hpp"
#include "store/outbox.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

// The skill whose queue a row is published to: its own, or the overflow skill a full queue
// sent it on to. It is the routing key and the `skill` label of the publish metrics.
inline const std::string& target_skill(const outbox_row& row) noexcept {
  return row.overflow_to.empty() ? row.skill : row.overflow_to;
}

// The skill a full queue's rows go on to: `skill`'s overflow_to, if that names a configured
// skill (after a reload dropped it, the rows wait in the outbox instead of being unroutable).
const std::string* overflow_skill(std::span<const skill_config> skills, std::string_view skill);

// Rows on their way to an overflow skill, published lowest seq first before any new row. They
// are not in the outbox's order any more, so they are kept here; at most a window's worth,
// since only rows in flight can be nacked.
class overflow_queue {
 public:
  // A row already waiting keeps its place (a seq is in flight at most once).
  void push(outbox_row row);
  outbox_row pop();  // the lowest seq; not empty()
  bool contains(std::int64_t seq) const noexcept { return rows_.contains(seq); }
  // The lowest seq waiting (0: none), to publish again from when the channel is lost.
  std::int64_t lowest() const noexcept { return rows_.empty() ? 0 : rows_.begin()->first; }
  bool empty() const noexcept { return rows_.empty(); }
  std::size_t size() const noexcept { return rows_.size(); }
  void clear() noexcept { rows_.clear(); }

 private:
  std::map<std::int64_t, outbox_row> rows_;
};

class nack_policy {
 public:
  using clock = std::chrono::steady_clock;

  // Nacks are logged at most once per `log_every`, with the counts since.
  explicit nack_policy(std::chrono::milliseconds log_every) : log_every_(log_every) {}

  // What one basic.nack (or one multiple nack) decided for its rows.
  struct round {
    struct overflow {
      std::string from;  // the full skill (the metrics' label)
      outbox_row row;    // overflow_to now names the skill it goes on to
    };
    std::vector<overflow> overflowed;
    std::vector<std::int64_t> retried;  // seqs to publish again, at retry_at
    clock::time_point retry_at{};       // only when retried is not empty
  };
  // Takes the nacked rows: each overflows, or is retried after this round's delay. The delay
  // grows once per round with retried rows, not once per row.
  round settle(std::vector<outbox_row> rows, std::span<const skill_config> skills,
               clock::time_point now, backoff& delays);

  // The broker acked a row: it takes messages again, so the next nack starts from the
  // shortest delay.
  void confirmed() noexcept { rounds_ = 0; }

  // The log lines due at `now`: counts since the last report and an example skill for each.
  struct report {
    std::uint64_t retried = 0, overflowed = 0;
    std::string retried_example, overflowed_example;
  };
  std::optional<report> report_due(clock::time_point now);

 private:
  std::chrono::milliseconds log_every_;
  unsigned rounds_ = 0;  // consecutive nacked rounds with no ack between them
  clock::time_point last_report_{};
  report unlogged_;
};

}  // namespace sb
