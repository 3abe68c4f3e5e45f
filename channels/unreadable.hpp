// Events that cannot be read never refuse the deliveries that carry them (channel.hpp,
// unreadable_event). An adapter reads each event of a batch through read_or_keep(): when the
// event's reader fails, whatever it had added to the result is taken back and the event is
// kept as unreadable instead, so one bad event costs nothing but itself.
#pragma once

#include "channels/channel.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace sb {

// An event's JSON is kept for the listing up to this size; the whole body is kept anyway.
inline constexpr std::size_t max_unreadable_event_bytes = 64 * 1024;

// How far a parse_result had got before an event's reader ran.
struct result_mark {
  std::size_t messages = 0;
  std::size_t ignored = 0;
  std::size_t unreadable = 0;
};

inline result_mark mark(const parse_result& out) noexcept {
  return {out.messages.size(), out.ignored, out.unreadable.size()};
}

// Rolls `out` back to `m` and keeps the event at `path` as unreadable because of `e`.
// `event` may be null (not JSON, or the whole body).
void keep_unreadable(parse_result& out, const result_mark& m, std::string path, const error& e,
                     const boost::json::value* event);

// Runs `read` (returning sb::error) for the event at `path`; on failure, keep_unreadable().
template <class Read>
void read_or_keep(parse_result& out, std::string path, const boost::json::value* event,
                  Read&& read) {
  const result_mark m = mark(out);
  if (error e = std::forward<Read>(read)(); e.code != errc::ok)
    keep_unreadable(out, m, std::move(path), e, event);
}

}  // namespace sb
