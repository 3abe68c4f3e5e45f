#include "broker/overflow.hpp"

#include <algorithm>
#include <utility>

namespace sb {

const std::string* overflow_skill(std::span<const skill_config> skills, std::string_view skill) {
  for (const auto& s : skills)
    if (s.name == skill)
      return s.overflow_to &&
                     std::any_of(skills.begin(), skills.end(),
                                 [&](const skill_config& o) { return o.name == *s.overflow_to; })
                 ? &*s.overflow_to
                 : nullptr;
  return nullptr;
}

void overflow_queue::push(outbox_row row) {
  const auto seq = row.seq;
  rows_.emplace(seq, std::move(row));
}

outbox_row overflow_queue::pop() { return std::move(rows_.extract(rows_.begin()).mapped()); }

nack_policy::round nack_policy::settle(std::vector<outbox_row> rows,
                                       std::span<const skill_config> skills, clock::time_point now,
                                       backoff& delays) {
  round r;
  for (auto& row : rows) {
    std::string refused_by = target_skill(row);
    if (const auto* next = overflow_skill(skills, refused_by)) {
      ++unlogged_.overflowed;
      unlogged_.overflowed_example = refused_by;
      row.overflow_to = *next;
      r.overflowed.push_back({std::move(refused_by), std::move(row)});
      continue;
    }
    if (r.retried.empty()) r.retry_at = now + delays(rounds_++);
    ++unlogged_.retried;
    unlogged_.retried_example = std::move(refused_by);
    r.retried.push_back(row.seq);
  }
  return r;
}

std::optional<nack_policy::report> nack_policy::report_due(clock::time_point now) {
  if (now - last_report_ < log_every_ || (!unlogged_.retried && !unlogged_.overflowed))
    return std::nullopt;
  last_report_ = now;
  report r = std::exchange(unlogged_, {});
  // The examples are kept: a later line with a count but no new example names the last one.
  unlogged_.retried_example = r.retried_example;
  unlogged_.overflowed_example = r.overflowed_example;
  return r;
}

}  // namespace sb
