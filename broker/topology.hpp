// What Switchboard declares on the broker, and RabbitMQ's rules for it, in one place: the
// config check refuses what the broker would refuse or mishandle (broker/settings.cpp), and the
// publisher declares exactly these arguments (broker/publisher.cpp). Pure: no broker, no I/O.
#pragma once

#include "routing/rules.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sb::topology {

// A skill's queue: its `queue`, else "switchboard.<name>".
std::string default_queue_name(std::string_view skill);
std::string queue_name(const skill_config& skill);

// AMQP 0-9-1 short strings hold at most 255 bytes; "amq." names are reserved by the broker,
// which answers a declare with access-refused and closes the channel. nullopt: a good name.
std::optional<std::string> amqp_name_problem(std::string_view name);

bool is_queue_type(std::string_view type) noexcept;  // classic | quorum

// Quorum queues have no message priorities on RabbitMQ 3.x (x-max-priority is refused).
std::optional<std::string> priority_problem(std::string_view queue_type, int max_priority);

// x-message-ttl is milliseconds in 32 bits (RabbitMQ refuses more): about 49 days.
std::optional<std::string> ttl_problem(std::chrono::milliseconds ttl);

// A classic queue dead-letters at most once: when the escalation target is full
// (reject-publish) the broker drops the message. Quorum queues dead-letter at least once.
std::optional<std::string> dead_letter_problem(std::string_view source, bool source_quorum,
                                               std::string_view target, bool target_limited);

// One x-argument of a queue declare: 'I' (32-bit), 'l' (64-bit) or a UTF-8 string.
struct queue_argument {
  std::string_view key;
  std::variant<std::int32_t, std::int64_t, std::string> value;
  bool operator==(const queue_argument&) const = default;
};

// The arguments a skill's queue is declared with. Escalation dead-letters through `exchange`
// with the escalation skill's routing key; a length limit refuses publishes (never drop-head),
// so a full queue's message stays in the outbox or overflows.
std::vector<queue_argument> queue_arguments(const skill_config& skill, std::string_view exchange);

}  // namespace sb::topology
