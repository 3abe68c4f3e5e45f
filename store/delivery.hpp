// Agents' replies on their way to the customer (docs/replies.md, "Delivery"): the delivery rows
// the store keeps beside each reply, as the delivery engine reads and moves them. Status only
// moves forward: queued -> sent -> delivered -> read, or failed from queued or sent.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

// A reply due for an attempt, with what its request is built from.
struct delivery_job {
  std::string message_id;
  std::string conversation_id;
  std::string channel;
  std::string channel_type;
  std::string reply;    // the reply's stored message JSON (text, attachments, author, subject)
  std::string answers;  // the customer's message it answers, stored JSON (sender, recipient,
                        // provider ids, e-mail ids): whom to send to, and from where
  std::int64_t attempts = 0;  // made so far
  millis created_at = 0;      // when the reply was committed (max_age runs from it)
};

// What an attempt (or a provider's status webhook) says of a delivery.
struct delivery_update {
  std::string message_id;
  std::string status;  // queued (to try again) | sent | delivered | read | failed
  millis at = 0;
  millis next_attempt_at = 0;       // queued: when to try again
  std::string provider_message_id;  // sent: the provider's id for it
  std::string reason;               // failed: why, in the provider's words; queued: the last error
  bool attempted = true;            // counts as an attempt (a status webhook does not)
  std::string channel;              // an attempt's: the channel it went out on (else empty)
};

// The order statuses move in; an update to a status not after the current one is ignored
// (failed comes after queued and sent, never after delivered or read).
bool status_moves_forward(std::string_view from, std::string_view to) noexcept;

// An event for agents' tools (docs/replies.md, "Events"), as the store keeps it until the
// broker confirmed its publish to the events exchange.
struct event_row {
  std::int64_t seq = 0;     // commit order
  std::string id;           // AMQP message_id (consumers dedupe on it: delivery is at least once)
  std::string routing_key;  // AMQP routing key and type: message.status.sent, ...
  std::string body;         // switchboard.event/v1 JSON
  millis created_at = 0;    // AMQP timestamp
};

// What a reply's status move says (switchboard.event/v1, type message.status.<status>).
struct status_event {
  std::string message_id;
  std::string conversation_id;
  std::string channel;
  std::string status;
  std::string previous_status;
  std::string provider_message_id;  // "" when the provider gave none (yet)
  std::string reason;               // failed: why
  std::int64_t attempts = 0;
  millis at = 0;
};

// The event's row (its id a UUIDv7 of `e.at`), ready to be stored.
event_row make_status_event(const status_event& e);
// The customer.erased event (DELETE /v1/customers/{id}): the customer, those merged into it and
// every conversation erased, for agents' tools to purge their copies.
event_row make_customer_erased_event(const std::string& customer_id,
                                     const std::vector<std::string>& merged_ids,
                                     const std::vector<std::string>& conversation_ids, millis at);

// The event publisher's reader (store_backend::open_event_reader): a connection of its own.
class event_reader {
 public:
  virtual ~event_reader() = default;
  // Up to `limit` events with seq > `after`, in seq order. Empty on a read error (logged).
  virtual std::vector<event_row> fetch(std::int64_t after, std::size_t limit) = 0;
  // Events not confirmed by the broker yet.
  virtual std::int64_t backlog() = 0;
};

// The delivery engine's reader (store_backend::open_delivery_reader): a connection of its own.
class delivery_reader {
 public:
  virtual ~delivery_reader() = default;
  // Up to `limit` queued deliveries whose next attempt is due at `now`, the longest waiting
  // first. Empty on a read error (logged).
  virtual std::vector<delivery_job> due(millis now, std::size_t limit) = 0;
  // Deliveries not sent yet (queued), and when the oldest of them was committed (0: none).
  struct backlog_info {
    std::int64_t queued = 0;
    millis oldest = 0;
  };
  virtual backlog_info backlog() = 0;
};

}  // namespace sb
