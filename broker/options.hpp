// The broker section of the config (broker/settings.cpp parses it), apart from the publisher
// so that the config does not need the publisher to hold it.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace sb {

struct broker_options {
  std::string url = "amqp://guest:guest@127.0.0.1:5672/%2f";
  std::string exchange = "switchboard";
  unsigned confirm_window = 512;
  // The payload bytes in flight at once (broker.confirm_window_bytes): with payloads of up to
  // store.max_payload_bytes, the count alone would let the window hold 512 MiB. At least one
  // row is always in flight, whatever its size.
  std::size_t confirm_window_bytes = 64 << 20;
  std::chrono::milliseconds reconnect_min{200};
  std::chrono::milliseconds reconnect_max{30000};
};

// The `events:` section (broker/settings.cpp): where events for agents' tools are published
// (broker/event_publisher.hpp).
struct events_options {
  std::string exchange = "switchboard.events";  // a durable topic exchange
};

}  // namespace sb
