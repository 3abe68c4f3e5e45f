// Events for agents' tools (docs/replies.md, "Events"): the store writes an event row in the
// transaction that made it happen (a reply's status moved: store/delivery.hpp, event_row); this
// thread, with a broker connection of its own, publishes the rows in commit order to a durable
// topic exchange (events.exchange, "switchboard.events"), persistent, with publisher confirms,
// and hands the confirmed ones to the store to delete. At least once: a row whose confirm did
// not arrive (a lost connection, a crash) is published again; consumers dedupe on the event's
// id (its AMQP message_id). An exchange with no queue bound drops them, as topic exchanges do.
#pragma once

#include "broker/options.hpp"
#include "store/delivery.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sb {

class event_publisher {
 public:
  // `confirmed` gets the seqs of the rows the broker confirmed (group_writer::events_published).
  event_publisher(broker_options broker, events_options events,
                  std::unique_ptr<event_reader> reader,
                  std::function<void(std::vector<std::int64_t>)> confirmed);
  ~event_publisher();
  event_publisher(const event_publisher&) = delete;
  event_publisher& operator=(const event_publisher&) = delete;

  void start();
  // Waits up to `deadline` for the confirms of what was published, then closes the connection;
  // rows not confirmed are published again at the next start.
  void stop(std::chrono::milliseconds deadline);

  bool connected() const noexcept;
  // Prometheus text: events published and confirmed, events waiting, the connection.
  void render_metrics(std::string& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sb
