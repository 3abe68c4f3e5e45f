#include "channels/unreadable.hpp"

#include <boost/json/serialize.hpp>

namespace sb {

void keep_unreadable(parse_result& out, const result_mark& m, std::string path, const error& e,
                     const boost::json::value* event) {
  out.messages.erase(out.messages.begin() + static_cast<std::ptrdiff_t>(m.messages),
                     out.messages.end());
  out.ignored = m.ignored;
  out.unreadable.erase(out.unreadable.begin() + static_cast<std::ptrdiff_t>(m.unreadable),
                       out.unreadable.end());
  unreadable_event u;
  u.path = std::move(path);
  u.reason = e.detail.empty() ? std::string(describe(e.code).detail) : e.detail;
  if (event != nullptr) {
    u.event = boost::json::serialize(*event);
    if (u.event.size() > max_unreadable_event_bytes) u.event.clear();
  }
  out.unreadable.push_back(std::move(u));
}

}  // namespace sb
