// The publisher's bookkeeping, apart from any I/O so it can be tested without a broker:
// - confirm_window: rows published on the current channel and not yet settled, by delivery
//   tag. Publishing counts only when the broker acks; basic.return marks a row so the ack that
//   follows it does not count.
// - recent_confirms: seqs confirmed but perhaps not yet deleted by the store's writer, so a
//   rescan of the outbox does not publish them again.
#pragma once

#include "store/outbox.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sb {

// What one basic.ack or basic.nack settled.
struct settlement {
  std::vector<outbox_row> confirmed;  // acked and not returned: the store may delete them
  std::vector<outbox_row> returned;   // acked after a basic.return: unroutable, stay in outbox
  std::vector<outbox_row> nacked;     // the broker refused responsibility: publish again
};

class confirm_window {
 public:
  // Records a row just published and returns its delivery tag. After confirm.select the
  // broker numbers the channel's publishes 1, 2, 3, ...; this mirrors that count.
  std::uint64_t add(outbox_row row);

  // basic.return carries no delivery tag, only the message: find the row by message_id.
  // Returns the row's skill, or nullptr when no row in flight has that id.
  const std::string* mark_returned(std::string_view message_id);

  // basic.ack / basic.nack. `multiple` settles every tag up to `tag`; tag 0 with multiple
  // settles everything outstanding. Unknown tags are ignored (already settled).
  void settle(std::uint64_t tag, bool multiple, bool ack, settlement& out);

  // The channel (or connection) is gone: every row in flight has an unknown fate. Returns the
  // smallest seq that was in flight (or 0 when none) and restarts tags at 1.
  std::int64_t clear();

  bool holds(std::int64_t seq) const noexcept { return seqs_.contains(seq); }
  std::size_t size() const noexcept { return by_tag_.size(); }
  // The payload bytes of the rows in flight.
  std::size_t bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return by_tag_.empty(); }

 private:
  struct entry {
    outbox_row row;
    bool returned = false;
  };
  void take(std::map<std::uint64_t, entry>::iterator it, bool ack, settlement& out);

  std::uint64_t next_tag_ = 1;
  std::size_t bytes_ = 0;
  std::map<std::uint64_t, entry> by_tag_;  // ordered: `multiple` settles a prefix
  std::unordered_map<std::string, std::uint64_t> by_message_id_;
  std::unordered_set<std::int64_t> seqs_;
};

class recent_confirms {
 public:
  using clock = std::chrono::steady_clock;

  // After `ttl` an entry is dropped even if no scan proved the row deleted: by then the
  // writer has deleted it, and if it has not, publishing it again is a duplicate that
  // consumers drop by message_id. This bounds memory when no rescan ever happens.
  explicit recent_confirms(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  void add(std::int64_t seq, clock::time_point now);
  bool contains(std::int64_t seq) const noexcept { return seqs_.contains(seq); }

  // A fetch of rows with seq > `after` returned `rows` (ascending). Every remembered seq in
  // the range the fetch covered that it did not return has been deleted: forget it. The fetch
  // covered (after, last returned seq], or everything above `after` when it reached the end.
  void saw_scan(std::int64_t after, std::span<const outbox_row> rows, bool reached_end);

  void expire(clock::time_point now);
  std::size_t size() const noexcept { return seqs_.size(); }

 private:
  std::chrono::milliseconds ttl_;
  std::set<std::int64_t> seqs_;
  std::deque<std::pair<clock::time_point, std::int64_t>> added_;  // oldest first
};

}  // namespace sb
