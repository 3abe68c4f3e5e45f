// Where the publisher is in the outbox, and from where it must publish again.
//
// The thread reads the outbox in ascending seq behind a cursor. Rows that must go out again
// (nacked, returned, in flight on a lost channel, held back by a parked skill) are not kept in
// memory: only the lowest such seq and the earliest time one of them is due. When that time
// comes the cursor rewinds to just below that seq and reads on from there; the caller skips
// the rows it meets again that are in flight or already confirmed. Memory stays bounded
// whatever the backlog. Pure: no I/O, the clock is passed in.
#pragma once

#include "store/outbox.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sb {

class outbox_cursor {
 public:
  using clock = std::chrono::steady_clock;

  // The next fetch reads rows with seq > after().
  std::int64_t after() const noexcept { return cursor_; }
  // The outbox may hold rows above after(): fetching again may find some.
  bool more() const noexcept { return more_; }
  // New rows may have been committed (a notify(), the periodic refresh, a skill reload).
  void wake() noexcept { more_ = true; }
  // A fresh connection knows nothing of what the previous one published: read from seq 0.
  void restart() noexcept;

  // A fetch of at most `limit` rows after after() returned `rows` (ascending): the cursor
  // moves to the last of them. Returns whether the fetch reached the end of the outbox (it
  // returned fewer rows than asked for); then nothing more is fetched until wake().
  bool fetched(std::span<const outbox_row> rows, std::size_t limit) noexcept;
  // The window filled before the fetched row `seq` could go out: it and the rows after it
  // are read again next time.
  void stop_before(std::int64_t seq) noexcept;

  // Row `seq` must be published again, not before `at` (time_point::max(): only once
  // retry_now() says what held it back is gone). Keeps the lowest seq and the earliest time.
  void reschedule(std::int64_t seq, clock::time_point at) noexcept;
  // What held rescheduled rows back is gone (a parked skill is routable again, the skills
  // were reloaded): a pending rescan is due at `now`.
  void retry_now(clock::time_point now) noexcept;
  // If a rescan is due at `now`: rewind to just below its lowest seq (never forward: rows
  // below the cursor not read yet stay to be read), forget it, and return true.
  bool rewind_if_due(clock::time_point now) noexcept;
  // The connection was lost: the next one reads from seq 0 (restart) in any case.
  void forget_rescan() noexcept;

  bool rescan_pending() const noexcept { return rescan_from_ != 0; }
  // The lowest seq to publish again (0: none), and when (time_point::max(): none, or not
  // before retry_now()).
  std::int64_t rescan_from() const noexcept { return rescan_from_; }
  clock::time_point rescan_at() const noexcept { return rescan_at_; }

 private:
  std::int64_t cursor_ = 0;       // highest seq fetched in this pass
  bool more_ = true;              // the outbox may hold rows above cursor_
  std::int64_t rescan_from_ = 0;  // lowest seq to publish again (0: none)
  clock::time_point rescan_at_ = clock::time_point::max();
};

}  // namespace sb
