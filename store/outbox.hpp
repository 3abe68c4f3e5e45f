// The outbox: a row per routed message, committed in the same transaction as the message and
// deleted only after the broker's confirm (see store/writer.hpp). A row names the message and
// the routing decision; the payload is assembled when the publisher reads the row, so the
// single writer thread never reads the thread back nor writes the payload only to delete it
// on the confirm. What the writer knew of each row (the conversation as of the message, the
// message, a new customer) it hands to the reader after the commit (store/handoff.hpp), which
// reads only what that leaves out; rows it was not handed are assembled from the store.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "store/payload.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sb {

struct committed_batch;
struct committed_row;

struct outbox_row {
  std::int64_t seq = 0;         // ascending commit order
  std::string message_id;       // AMQP message_id
  std::string conversation_id;  // AMQP correlation_id
  std::string skill;            // the skill the rules chose
  // Publisher only: the overflow skill a full queue sent this row on to (routing key and
  // x-skill when set); never stored, so a retry starts again at `skill`.
  std::string overflow_to;
  std::chrono::steady_clock::time_point published_at{};  // publisher only: confirm latency
  std::string channel;                                   // header x-channel
  std::string channel_type;                              // header x-channel-type
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

// The publisher thread's reader (store_backend::open_outbox_reader). This class keeps what
// every backend shares: the rows handed over by the writer and the payloads assembled from
// them (store/handoff.hpp); a backend provides the reads, on a connection of its own that
// never blocks the writer.
class outbox_reader {
 public:
  virtual ~outbox_reader();
  outbox_reader(const outbox_reader&) = delete;
  outbox_reader& operator=(const outbox_reader&) = delete;

  // Up to `limit` rows with seq > `after`, in seq order, each with its payload: the
  // conversation as of that message (its skill and priority are the row's routing decision,
  // message_count its position, the thread ends with it) and the customer as stored now. One
  // read snapshot, so the rows and their payloads agree. Empty on a read error (logged); the
  // publisher tries again.
  // Rows the writer handed over are assembled from what it knew, with a read only for what
  // it did not (a customer or a thread not seen lately).
  std::vector<outbox_row> fetch(std::int64_t after, std::size_t limit);

  // What a commit wrote (group_writer::hand_off); any thread.
  void take(committed_batch b);
  // Rows fetch() assembled from handed rows so far.
  std::uint64_t handed_rows() const noexcept { return handed_rows_; }

 protected:
  // `thread_limit`: the newest messages a payload's thread carries (store.thread_limit);
  // `max_payload_bytes`: the payload's size bound (store.max_payload_bytes).
  outbox_reader(std::size_t thread_limit, std::size_t max_payload_bytes);
  const std::size_t thread_limit_;
  const std::size_t max_payload_bytes_;

  // ---- What a backend provides (the publisher thread only) ----
  // fetch() from the store alone: every row assembled from what is stored now, in one read
  // snapshot. Empty on a read error (logged).
  virtual std::vector<outbox_row> fetch_stored(std::int64_t after, std::size_t limit) = 0;
  // A read snapshot for the reads below: begun before the first, ended after the last (or
  // abandoned when one failed or found the hand-off outdated). An error is logged.
  virtual result<void> begin_read() = 0;
  virtual result<void> end_read() = 0;
  virtual void abandon_read() noexcept = 0;
  // A handed row's customer as stored now; nullopt when it was merged since.
  virtual result<std::optional<customer_view>> read_customer(const std::string& id) = 0;
  // A handed row's thread up to its message, oldest first (at most thread_limit_ messages);
  // nullopt when the message is no longer at its position (a merge renumbered the thread).
  virtual result<std::optional<std::vector<std::string>>> read_thread(const committed_row& r) = 0;

 private:
  struct handed;
  std::unique_ptr<handed> handed_;
  std::uint64_t handed_rows_ = 0;
  // fetch() from handed rows; nullopt when the row after `after` is not one (or a read found
  // the store moved on: everything handed is then forgotten).
  std::optional<std::vector<outbox_row>> fetch_handed(std::int64_t after, std::size_t limit);
};

}  // namespace sb
