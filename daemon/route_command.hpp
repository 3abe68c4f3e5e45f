// `switchboard route --config FILE MESSAGE.json`: which route a message would match under a
// config, and why, without a broker or a store; ops run it before a reload. The input is a
// payload an agent consumed (switchboard.conversation/v1) or a small hand-written message
// (docs/routing.md, "Trying rules"). Parsing the input and explaining the decision are pure.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "routing/rules.hpp"

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sb {

struct config;

// What the rule engine needs, read from the input JSON.
struct route_input {
  inbound_message message;
  std::string channel;
  std::string channel_type;
  conversation_state conversation;  // is_new unless the input names the conversation's skill
  millis at = 0;                    // the clock `during` / `outside` read
  bool language_given = false;      // the input set "language" (else it is detected)
};

// `now` is used when the input has no "received_at". The channel must be one of the config's
// (its type comes from there); errors say which field is wrong.
result<route_input> parse_route_input(const boost::json::value& input, const config& cfg,
                                      millis now);

// The decision, as printed: skill, queue, priority, the matched route and why, the language.
std::string explain_route(const route_input& in, const routing_decision& d, const config& cfg);

// The command: 0 printed a decision, 2 bad config or input (errors on stderr).
int run_route_command(const std::string& config_path, const std::string& message_path);

}  // namespace sb
