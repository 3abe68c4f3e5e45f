#include "broker/outbox_cursor.hpp"

#include <algorithm>

namespace sb {

void outbox_cursor::restart() noexcept {
  cursor_ = 0;
  more_ = true;
}

bool outbox_cursor::fetched(std::span<const outbox_row> rows, std::size_t limit) noexcept {
  const bool reached_end = rows.size() < limit;
  if (reached_end) more_ = false;
  if (!rows.empty()) cursor_ = rows.back().seq;
  return reached_end;
}

void outbox_cursor::stop_before(std::int64_t seq) noexcept {
  cursor_ = seq - 1;
  more_ = true;
}

void outbox_cursor::reschedule(std::int64_t seq, clock::time_point at) noexcept {
  if (rescan_from_ == 0 || seq < rescan_from_) rescan_from_ = seq;
  rescan_at_ = std::min(rescan_at_, at);
}

void outbox_cursor::retry_now(clock::time_point now) noexcept {
  if (rescan_from_ != 0) rescan_at_ = now;
}

bool outbox_cursor::rewind_if_due(clock::time_point now) noexcept {
  if (rescan_from_ == 0 || now < rescan_at_) return false;
  cursor_ = std::min(cursor_, rescan_from_ - 1);
  forget_rescan();
  more_ = true;
  return true;
}

void outbox_cursor::forget_rescan() noexcept {
  rescan_from_ = 0;
  rescan_at_ = clock::time_point::max();
}

}  // namespace sb
