// The outbox: a row per routed message, committed in the same transaction as the message and
// deleted only after the broker's confirm (see store/writer.hpp). A row names the message and
// the routing decision; the payload is assembled when the publisher reads the row, from the
// committed message, its thread, conversation and customer, so the single writer thread never
// reads the thread back nor writes the payload only to delete it on the confirm.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace sb {

struct outbox_row {
  std::int64_t seq = 0;         // ascending commit order
  std::string message_id;       // AMQP message_id
  std::string conversation_id;  // AMQP correlation_id
  std::string skill;            // the skill the rules chose
  // Publisher only: the overflow skill a full queue sent this row on to (routing key and
  // x-skill when set); never stored, so a retry starts again at `skill`.
  std::string overflow_to;
  std::chrono::steady_clock::time_point published_at{};  // publisher only: confirm latency
  std::string channel;          // header x-channel
  std::string channel_type;     // header x-channel-type
  int priority = 0;
  millis created_at = 0;  // AMQP timestamp
  std::string body;       // switchboard.conversation/v1 JSON
};

// A row the broker refuses for good (its payload is above the broker's max_message_size): the
// publisher hands it to the store, which moves it out of the outbox (store.hpp, park).
struct outbox_parking {
  std::int64_t seq = 0;
  std::size_t bytes = 0;  // the payload's size
  std::string reason;     // what the broker said
};

// A read-only connection for the publisher thread (WAL readers never block the writer).
class outbox_reader {
 public:
  // `thread_limit`: the newest messages a payload's thread carries (store.thread_limit);
  // `max_payload_bytes`: the payload's size bound (store.max_payload_bytes).
  static result<std::unique_ptr<outbox_reader>> open(const std::string& path,
                                                     std::size_t thread_limit,
                                                     std::size_t max_payload_bytes = 4 << 20);
  ~outbox_reader();
  outbox_reader(const outbox_reader&) = delete;
  outbox_reader& operator=(const outbox_reader&) = delete;

  // Up to `limit` rows with seq > `after`, in seq order, each with its payload: the
  // conversation as of that message (its skill and priority are the row's routing decision,
  // message_count its position, the thread ends with it) and the customer as stored now. One
  // read transaction, so the rows and their payloads come from one snapshot. Empty on a read
  // error (logged); the publisher tries again.
  std::vector<outbox_row> fetch(std::int64_t after, std::size_t limit);

 private:
  outbox_reader() = default;
  struct statements;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
  std::size_t thread_limit_ = 50;
  std::size_t max_payload_bytes_ = 4 << 20;
  void assemble(outbox_row& row, std::int64_t position);
};

}  // namespace sb
