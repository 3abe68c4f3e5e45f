// The Graph API's answers to a send (Messenger, Instagram, WhatsApp): an error body
// {"error": {"message", "type", "code", "error_subcode", "error_data": {"details"},
// "fbtrace_id"}} read into a send_outcome, the same way for every Meta product.
#pragma once

#include "channels/send.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <span>

namespace sb::meta {

// What says that a reply can never go because the customer's window closed: an error code
// (WhatsApp's 131047) or an error subcode (the Send API's 2018278); 0 matches nothing.
struct window_error {
  std::int64_t code = 0;
  std::int64_t subcode = 0;
};

struct graph_answer {
  send_outcome outcome;  // sent, or failed / retry with Meta's words ("(#code) message: details")
  boost::json::value body;  // the answer parsed (null when it was not JSON): the caller reads
                            // its own id for the message from it
};

// `transient`: the error codes that pass (rate limits, temporary errors): retry. Outside the
// window: failed, "window_closed: ...". Otherwise the status decides (classify_status).
graph_answer read_graph_answer(const http_response& r, std::span<const std::int64_t> transient,
                               window_error closed);

}  // namespace sb::meta
