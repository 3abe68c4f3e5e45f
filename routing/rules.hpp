// Skills, routes and the routing decision. The rule engine is a pure function of
// (message, conversation, config): no I/O, tested without a broker.
#pragma once

#include "channels/message.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace sb {

struct skill_config {
  std::string name;
  std::string queue;                   // default "switchboard.<name>"
  std::string queue_type = "classic";  // classic | quorum
  int max_priority = 0;                // 0: no priority queue (x-max-priority not set)
  int line = 0;
};

struct route_condition {
  std::optional<std::string> channel;            // channel name
  std::optional<std::string> channel_type;       // chat, mailgun, ...
  std::shared_ptr<const re2::RE2> text_matches;  // compiled once at load
};

struct route {
  std::optional<route_condition> when;  // absent: matches everything (the default route)
  std::string skill;
  int priority = 0;
  bool reroute = false;
  int line = 0;
};

struct routing_table {
  std::vector<skill_config> skills;
  std::vector<route> routes;  // first match wins; the loader requires a final default route
  const skill_config* find_skill(std::string_view name) const noexcept;
};

// What the router needs to know of the conversation the message joins.
struct conversation_state {
  bool is_new = true;
  std::optional<std::string> skill;  // the skill it already has, if any
  int priority = 0;
};

struct message_context {
  const inbound_message& message;
  std::string_view channel;
  std::string_view channel_type;
};

struct routing_decision {
  std::string skill;
  int priority = 0;
  int route_index = -1;  // which route matched (0-based), -1 if none
  bool sticky = false;   // kept the conversation's skill instead of the route's
  std::string reason;    // human explanation, for logs and `switchboard route`
};

routing_decision decide(const message_context& msg, const conversation_state& conv,
                        const routing_table& table);

}  // namespace sb
