#include "broker/topology.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <limits>

namespace sb::topology {

std::string default_queue_name(std::string_view skill) {
  return fmt::format("switchboard.{}", skill);
}

std::string queue_name(const skill_config& skill) {
  return skill.queue.empty() ? default_queue_name(skill.name) : skill.queue;
}

std::optional<std::string> amqp_name_problem(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 255) return fmt::format("is {} bytes; AMQP names hold at most 255", s.size());
  if (s.substr(0, 4) == "amq.") return "names starting with \"amq.\" are reserved by RabbitMQ";
  return std::nullopt;
}

bool is_queue_type(std::string_view type) noexcept { return type == "classic" || type == "quorum"; }

std::optional<std::string> priority_problem(std::string_view queue_type, int max_priority) {
  if (max_priority > 0 && queue_type == "quorum")
    return "quorum queues have no priorities on RabbitMQ 3.x; remove max_priority or use "
           "queue_type: classic";
  return std::nullopt;
}

std::optional<std::string> ttl_problem(std::chrono::milliseconds ttl) {
  if (ttl.count() > std::numeric_limits<std::uint32_t>::max())
    return "must be at most 49d (RabbitMQ's x-message-ttl limit)";
  return std::nullopt;
}

std::optional<std::string> dead_letter_problem(std::string_view source, bool source_quorum,
                                               std::string_view target, bool target_limited) {
  if (!target_limited || source_quorum) return std::nullopt;
  return fmt::format(
      "skill \"{}\" has max_length: when its queue is full RabbitMQ drops messages "
      "dead-lettered from a classic queue. Remove max_length from \"{}\", or make skill \"{}\" "
      "queue_type: quorum (at-least-once dead-lettering)",
      target, target, source);
}

std::vector<queue_argument> queue_arguments(const skill_config& skill, std::string_view exchange) {
  const bool quorum = skill.queue_type == "quorum";
  std::vector<queue_argument> args;
  // 'I', what pika and the management UI send too.
  if (skill.max_priority > 0 && !quorum)
    args.push_back({"x-max-priority", std::int32_t{std::clamp(skill.max_priority, 1, 255)}});
  if (quorum) args.push_back({"x-queue-type", std::string("quorum")});
  // Escalation is the broker's own: a message nobody consumed within the TTL is dead-lettered
  // through our exchange with the escalation skill's routing key, i.e. into its queue.
  if (skill.escalate_after && skill.escalate_to) {
    // 'l', as pika sends a Python int above 32 bits.
    args.push_back({"x-message-ttl", std::int64_t{skill.escalate_after->count()}});
    args.push_back({"x-dead-letter-exchange", std::string(exchange)});
    args.push_back({"x-dead-letter-routing-key", *skill.escalate_to});
    // Quorum queues can dead-letter at least once, which needs reject-publish (set below).
    if (quorum) args.push_back({"x-dead-letter-strategy", std::string("at-least-once")});
  }
  if (skill.max_length)
    args.push_back({"x-max-length", static_cast<std::int64_t>(*skill.max_length)});
  if (skill.max_length || (quorum && skill.escalate_after))
    args.push_back({"x-overflow", std::string("reject-publish")});
  return args;
}

}  // namespace sb::topology
