// The publisher: one thread that owns the rabbitmq-c connection. It declares the exchange and
// every skill's durable queue at connect, publishes outbox rows as persistent + mandatory
// messages with publisher confirms inside a window, and reports a row as confirmed only on the
// broker's basic.ack. nack, basic.return, channel or connection loss: the row stays in the
// outbox and is published again after reconnecting (exponential backoff with jitter).
#pragma once

#include "broker/options.hpp"
#include "routing/rules.hpp"
#include "store/outbox.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sb {

// How the publisher reaches the outbox without knowing the store.
struct outbox_source {
  // Rows with seq > after, ascending, at most `limit`. Called on the publisher thread.
  std::function<std::vector<outbox_row>(std::int64_t after, std::size_t limit)> fetch;
  // Rows the broker confirmed; the store deletes them. Called on the publisher thread.
  std::function<void(std::vector<std::int64_t> seqs)> confirmed;
  // Rows the broker refuses for good (a payload above its max_message_size): the store moves
  // them out of the outbox, where they would stall nothing but be retried for ever. Called on
  // the publisher thread; a row whose parking is lost stays in the outbox and is met again.
  std::function<void(std::vector<outbox_parking> rows)> parked;
};

// Counters for /metrics and /readyz. Degraded states are counted here, not only logged.
struct publisher_stats {
  bool connected = false;
  bool blocked = false;                // connection.blocked: the broker's disk or memory alarm
  std::size_t in_flight = 0;           // published, confirm not yet received
  std::uint64_t confirmed = 0;         // rows acked and handed to outbox_source::confirmed
  std::uint64_t returned = 0;          // basic.return: no queue bound for the skill
  std::uint64_t nacked = 0;            // basic.nack: the broker refused responsibility
  std::uint64_t overflowed = 0;        // of those, sent on to the full queue's overflow_to skill
  std::uint64_t parked = 0;            // rows above the broker's max_message_size, parked
  std::uint64_t reconnects = 0;        // established connections that were lost
  std::uint64_t declare_failures = 0;  // exchange/queue declares or binds the broker refused
};

class publisher {
 public:
  publisher(broker_options opts, std::vector<skill_config> skills, outbox_source source);
  ~publisher();
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  void start();
  // New rows were committed: wake the thread.
  void notify() noexcept;
  // A config reload changed the skills: the thread declares and binds their queues on its
  // current connection (and on every later one). Safe from any thread.
  void update_skills(std::vector<skill_config> skills);
  // Stop taking new rows, wait up to `deadline` for outstanding confirms, close, join.
  // Whatever is unconfirmed stays in the outbox for the next start. Safe to call twice.
  void stop(std::chrono::milliseconds deadline);

  bool connected() const noexcept;
  std::size_t in_flight() const noexcept;
  std::uint64_t confirmed_total() const noexcept;
  publisher_stats stats() const noexcept;
  // Prometheus text: published/confirmed/returned/nacked/overflowed by skill, the confirm
  // latency histogram, connection state. Safe from any thread.
  void render_metrics(std::string& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sb
