#include "channels/meta/graph_answer.hpp"

#include <boost/json/parse.hpp>

#include <fmt/core.h>

#include <algorithm>

namespace sb::meta {

graph_answer read_graph_answer(const http_response& r, std::span<const std::int64_t> transient,
                               window_error closed) {
  graph_answer out;
  boost::system::error_code ec;
  out.body = boost::json::parse(r.body, ec);
  if (ec) out.body = nullptr;
  const auto* o = out.body.if_object();
  const auto* err = o ? o->if_contains("error") : nullptr;
  std::int64_t code = 0;
  std::int64_t subcode = 0;
  std::string reason;
  if (err && err->is_object()) {
    const auto& e = err->get_object();
    if (const auto* c = e.if_contains("code"); c && c->is_int64()) code = c->as_int64();
    if (const auto* c = e.if_contains("error_subcode"); c && c->is_int64()) subcode = c->as_int64();
    // Meta's message usually starts with its code already: "(#131047) Re-engagement message".
    const auto message = string_at(e, "message");
    reason =
        message.starts_with("(#") ? std::string(message) : fmt::format("(#{}) {}", code, message);
    if (const auto details = string_at(e, "error_data.details"); !details.empty())
      reason += fmt::format(": {}", details);
  }
  out.outcome = classify_status(r, reason);
  if (out.outcome.what == send_outcome::kind::sent) return out;
  if ((closed.code != 0 && code == closed.code) ||
      (closed.subcode != 0 && subcode == closed.subcode)) {
    out.outcome.what = send_outcome::kind::failed;
    out.outcome.reason = "window_closed: " + out.outcome.reason;
  } else if (std::find(transient.begin(), transient.end(), code) != transient.end()) {
    out.outcome.what = send_outcome::kind::retry;
  }
  return out;
}

}  // namespace sb::meta
