#include "broker/confirms.hpp"

#include <algorithm>
#include <limits>

namespace sb {

std::uint64_t confirm_window::add(outbox_row row) {
  const std::uint64_t tag = next_tag_++;
  seqs_.insert(row.seq);
  bytes_ += row.body.size();
  by_message_id_[row.message_id] = tag;
  by_tag_.emplace(tag, entry{std::move(row), false});
  return tag;
}

const std::string* confirm_window::mark_returned(std::string_view message_id) {
  auto id = by_message_id_.find(std::string(message_id));
  if (id == by_message_id_.end()) return nullptr;
  auto it = by_tag_.find(id->second);
  if (it == by_tag_.end()) return nullptr;
  it->second.returned = true;
  return &it->second.row.skill;
}

void confirm_window::take(std::map<std::uint64_t, entry>::iterator it, bool ack, settlement& out) {
  entry& e = it->second;
  seqs_.erase(e.row.seq);
  bytes_ -= e.row.body.size();
  by_message_id_.erase(e.row.message_id);
  // A returned message is acked too ("unroutable messages are confirmed at once"): the ack
  // only says the broker is done with it, not that a queue has it.
  if (!ack)
    out.nacked.push_back(std::move(e.row));
  else if (e.returned)
    out.returned.push_back(std::move(e.row));
  else
    out.confirmed.push_back(std::move(e.row));
  by_tag_.erase(it);
}

void confirm_window::settle(std::uint64_t tag, bool multiple, bool ack, settlement& out) {
  if (!multiple) {
    auto it = by_tag_.find(tag);
    if (it != by_tag_.end()) take(it, ack, out);
    return;
  }
  const std::uint64_t last = tag == 0 ? std::numeric_limits<std::uint64_t>::max() : tag;
  while (!by_tag_.empty() && by_tag_.begin()->first <= last) take(by_tag_.begin(), ack, out);
}

std::int64_t confirm_window::clear() {
  std::int64_t lowest = 0;
  for (const auto& [tag, e] : by_tag_)
    if (lowest == 0 || e.row.seq < lowest) lowest = e.row.seq;
  by_tag_.clear();
  by_message_id_.clear();
  seqs_.clear();
  bytes_ = 0;
  next_tag_ = 1;
  return lowest;
}

void recent_confirms::add(std::int64_t seq, clock::time_point now) {
  if (seqs_.insert(seq).second) added_.emplace_back(now, seq);
}

void recent_confirms::saw_scan(std::int64_t after, std::span<const outbox_row> rows,
                               bool reached_end) {
  if (seqs_.empty()) return;
  if (rows.empty() && !reached_end) return;  // a zero-limit fetch proves nothing
  const std::int64_t upper =
      reached_end ? std::numeric_limits<std::int64_t>::max() : rows.back().seq;
  auto it = seqs_.upper_bound(after);
  auto row = rows.begin();
  while (it != seqs_.end() && *it <= upper) {
    while (row != rows.end() && row->seq < *it) ++row;
    if (row != rows.end() && row->seq == *it)
      ++it;  // still in the outbox: the delete has not happened yet
    else
      it = seqs_.erase(it);
  }
}

void recent_confirms::expire(clock::time_point now) {
  while (!added_.empty() && now - added_.front().first >= ttl_) {
    seqs_.erase(added_.front().second);  // no-op when a scan already forgot it
    added_.pop_front();
  }
}

}  // namespace sb
