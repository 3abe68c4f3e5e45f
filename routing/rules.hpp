// Skills, routes and the routing decision. The rule engine is a pure function of
// (message, conversation, clock, config): no I/O, tested without a broker.
#pragma once

#include "channels/message.hpp"
#include "core/time.hpp"
#include "routing/identity_list.hpp"
#include "routing/schedule.hpp"

#include <chrono>
#include <cstdint>
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
  // Escalation: a message left unconsumed this long is dead-lettered by the broker to
  // escalate_to's queue (x-message-ttl + x-dead-letter-exchange). Both set or neither.
  std::optional<std::chrono::milliseconds> escalate_after;
  std::optional<std::string> escalate_to;
  // Queue length limit (x-max-length, x-overflow: reject-publish). A publish the broker nacks
  // because the queue is full goes to overflow_to's queue; without overflow_to it stays in the
  // outbox and is retried (back-pressure). overflow_to requires max_length.
  std::optional<std::uint64_t> max_length;
  std::optional<std::string> overflow_to;
};

// Every condition given must hold (AND). A list condition holds when any of its items does.
struct route_condition {
  std::optional<std::string> channel;                // channel name
  std::optional<std::string> channel_type;           // chat, mailgun, ...
  std::optional<std::string> channel_kind;           // email | chat | phone | social
  std::vector<std::string> recipient;                // address, page, bot or number written to
  std::shared_ptr<const re2::RE2> text_matches;      // compiled once at load
  std::shared_ptr<const re2::RE2> subject_matches;   // compiled once at load
  std::vector<std::string> ivr_digits;               // the keys the caller pressed, e.g. "1"
  std::vector<std::string> language;                 // ISO 639-1 codes
  std::vector<std::string> identity_type;            // any of the sender's identities' types
  std::shared_ptr<const identity_list> customer_in;  // any of the sender's identities in it
  std::shared_ptr<const schedule> during;            // open at the clock's time
  std::shared_ptr<const schedule> outside;           // closed at the clock's time
  std::optional<bool> first_message;                 // the message opens a new conversation
  std::optional<bool> auto_reply;                    // extra["auto_reply"]: a machine wrote it
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
  std::vector<std::shared_ptr<const schedule>> schedules;
  const skill_config* find_skill(std::string_view name) const noexcept;
  const schedule* find_schedule(std::string_view name) const noexcept;
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
  // message_language(message) when the caller has it already (the ingest path computes it once
  // for the payload). Left unset, decide() computes it itself, only if a route asks.
  std::optional<std::optional<std::string>> language = std::nullopt;
};

struct routing_decision {
  std::string skill;
  int priority = 0;
  int route_index = -1;        // which route matched (0-based), -1 if none
  bool sticky = false;         // kept the conversation's skill instead of the route's
  bool skill_changed = false;  // skill differs from the conversation's (a first skill counts)
  std::optional<std::string> previous_skill;  // the conversation's skill before this message
  std::string reason;                         // human explanation, for logs and `switchboard route`
};

// `now` is the clock the `during` / `outside` conditions read: the time the message was
// received, so a replay decides as the original did.
routing_decision decide(const message_context& msg, const conversation_state& conv, millis now,
                        const routing_table& table);

// True when the message says a machine wrote it (extra["auto_reply"]: an e-mail out-of-office or
// autoresponder, channels/email/email.hpp).
bool is_auto_reply(const inbound_message& m) noexcept;

// The digits a phone message's caller pressed: extra.callback.ivr_digits (callback, twilio),
// else extra.call.digits; empty when there are none.
std::string_view ivr_digits_of(const inbound_message& m) noexcept;

}  // namespace sb
