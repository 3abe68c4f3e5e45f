// The routing decision: a pure function of the message, the conversation it joins and the
// routing table of the config snapshot the request arrived under.
#include "routing/rules.hpp"

#include <fmt/core.h>
#include <re2/re2.h>

#include <algorithm>

namespace sb {

const skill_config* routing_table::find_skill(std::string_view name) const noexcept {
  for (const auto& s : skills)
    if (s.name == name) return &s;
  return nullptr;
}

namespace {

// Every condition given must hold (AND); an absent `when` matches everything.
bool matches(const route& r, const message_context& msg) {
  if (!r.when) return true;
  const auto& c = *r.when;
  if (c.channel && *c.channel != msg.channel) return false;
  if (c.channel_type && *c.channel_type != msg.channel_type) return false;
  if (c.text_matches && !re2::RE2::PartialMatch(msg.message.text, *c.text_matches)) return false;
  return true;
}

// "route #2 (line 14): text_matches "(?i)refund"": what ops need to find the rule in the file.
std::string describe(const route& r, std::size_t index) {
  std::string out = fmt::format("route #{} (line {}): ", index + 1, r.line);
  if (!r.when) return out + "default";
  std::string conds;
  auto add = [&](std::string_view text) {
    if (!conds.empty()) conds += " and ";
    conds += text;
  };
  if (r.when->channel) add(fmt::format("channel \"{}\"", *r.when->channel));
  if (r.when->channel_type) add(fmt::format("channel_type \"{}\"", *r.when->channel_type));
  if (r.when->text_matches)
    add(fmt::format("text_matches \"{}\"", r.when->text_matches->pattern()));
  return out + conds;
}

}  // namespace

routing_decision decide(const message_context& msg, const conversation_state& conv,
                        const routing_table& table) {
  routing_decision d;
  const auto it = std::find_if(table.routes.begin(), table.routes.end(),
                               [&](const route& r) { return matches(r, msg); });
  if (it == table.routes.end()) {
    // The loader requires a final default route, so only a hand-built table gets here.
    d.reason = "no route matched";
    return d;
  }
  const auto index = static_cast<std::size_t>(it - table.routes.begin());
  d.skill = it->skill;
  d.priority = it->priority;
  d.route_index = static_cast<int>(index);
  d.reason = describe(*it, index);

  if (!conv.skill || it->reroute) return d;
  // A skill removed by a reload has no queue binding any more: a message kept there would be
  // returned by the broker and sit in the outbox for ever. Follow the route instead.
  const skill_config* kept = table.find_skill(*conv.skill);
  if (kept == nullptr) {
    d.reason += fmt::format(" (conversation's skill {} is no longer configured)", *conv.skill);
    return d;
  }
  d.skill = kept->name;
  // A reload may have lowered max_priority; RabbitMQ would treat a higher value as the maximum
  // anyway, but the payload and the headers should say what the queue does.
  d.priority = std::clamp(conv.priority, 0, kept->max_priority);
  d.sticky = true;
  d.reason = fmt::format(
      "sticky: conversation already with skill {} ({} would pick {}; it has "
      "no reroute)",
      kept->name, describe(*it, index), it->skill);
  return d;
}

}  // namespace sb
