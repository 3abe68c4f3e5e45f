// The routing decision: a pure function of the message, the conversation it joins, the clock
// and the routing table of the config snapshot the request arrived under.
#include "routing/rules.hpp"

#include "channels/channel.hpp"
#include "routing/language.hpp"

#include <fmt/core.h>
#include <re2/re2.h>
#include <boost/json/value.hpp>

#include <algorithm>

namespace sb {

const skill_config* routing_table::find_skill(std::string_view name) const noexcept {
  for (const auto& s : skills)
    if (s.name == name) return &s;
  return nullptr;
}

const schedule* routing_table::find_schedule(std::string_view name) const noexcept {
  for (const auto& s : schedules)
    if (s && s->name == name) return s.get();
  return nullptr;
}

bool is_auto_reply(const inbound_message& m) noexcept {
  const auto* v = m.extra.if_contains("auto_reply");
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::string_view ivr_digits_of(const inbound_message& m) noexcept {
  const auto string_at = [&](std::string_view object, std::string_view key) -> std::string_view {
    const auto* o = m.extra.if_contains(object);
    if (o == nullptr || !o->is_object()) return {};
    const auto* v = o->get_object().if_contains(key);
    if (v == nullptr || !v->is_string()) return {};
    return v->get_string();
  };
  const std::string_view callback = string_at("callback", "ivr_digits");
  return callback.empty() ? string_at("call", "digits") : callback;
}

namespace {

bool ascii_iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto low = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return low(x) == low(y);
         });
}

bool any_of_equal(const std::vector<std::string>& items, std::string_view v) {
  return std::find(items.begin(), items.end(), v) != items.end();
}

// Facts about the message that several routes may ask for; the language is computed at most
// once per decision, and only if a route asks.
class facts {
 public:
  facts(const message_context& msg, const conversation_state& conv, millis now)
      : msg_(msg), conv_(conv), now_(now) {}

  const message_context& msg() const { return msg_; }
  const conversation_state& conv() const { return conv_; }
  millis now() const { return now_; }

  const std::optional<std::string>& language() {
    if (!language_) language_ = msg_.language ? *msg_.language : message_language(msg_.message);
    return *language_;
  }

  std::string_view kind() const {
    const auto* t = find_channel_type(msg_.channel_type);
    return t != nullptr ? t->kind : std::string_view{};
  }

 private:
  const message_context& msg_;
  const conversation_state& conv_;
  millis now_;
  std::optional<std::optional<std::string>> language_;
};

// Every condition given must hold (AND); an absent `when` matches everything. The cheap
// comparisons come first, the regular expressions and the language detector last.
bool matches(const route& r, facts& f) {
  if (!r.when) return true;
  const auto& c = *r.when;
  const auto& m = f.msg().message;
  if (c.channel && *c.channel != f.msg().channel) return false;
  if (c.channel_type && *c.channel_type != f.msg().channel_type) return false;
  if (c.channel_kind && *c.channel_kind != f.kind()) return false;
  if (c.first_message && *c.first_message != f.conv().is_new) return false;
  if (c.auto_reply && *c.auto_reply != is_auto_reply(m)) return false;
  if (!c.recipient.empty() &&
      std::none_of(c.recipient.begin(), c.recipient.end(),
                   [&](const std::string& r) { return ascii_iequal(r, m.recipient); }))
    return false;
  if (!c.ivr_digits.empty()) {
    const auto digits = ivr_digits_of(m);
    if (digits.empty() || !any_of_equal(c.ivr_digits, digits)) return false;
  }
  if (!c.identity_type.empty() &&
      std::none_of(m.identities.begin(), m.identities.end(),
                   [&](const identity& id) { return any_of_equal(c.identity_type, id.type); }))
    return false;
  if (c.customer_in && !c.customer_in->contains_any(m.identities)) return false;
  if (c.during && !c.during->open_at(f.now())) return false;
  if (c.outside && c.outside->open_at(f.now())) return false;
  if (c.subject_matches && !re2::RE2::PartialMatch(m.subject, *c.subject_matches)) return false;
  if (c.text_matches && !re2::RE2::PartialMatch(m.text, *c.text_matches)) return false;
  if (!c.language.empty()) {
    const auto& lang = f.language();
    if (!lang || !any_of_equal(c.language, *lang)) return false;
  }
  return true;
}

std::string quoted_list(const std::vector<std::string>& items) {
  if (items.size() == 1) return fmt::format("\"{}\"", items.front());
  std::string out = "[";
  for (const auto& s : items) {
    if (out.size() > 1) out += ", ";
    out += s;
  }
  return out + "]";
}

// "route #2 (line 14): text_matches "(?i)refund"": what ops need to find the rule in the file.
std::string describe(const route& r, std::size_t index, facts& f) {
  std::string out = fmt::format("route #{} (line {}): ", index + 1, r.line);
  if (!r.when) return out + "default";
  const auto& c = *r.when;
  std::string conds;
  auto add = [&](std::string_view text) {
    if (!conds.empty()) conds += " and ";
    conds += text;
  };
  if (c.channel) add(fmt::format("channel \"{}\"", *c.channel));
  if (c.channel_type) add(fmt::format("channel_type \"{}\"", *c.channel_type));
  if (c.channel_kind) add(fmt::format("channel_kind \"{}\"", *c.channel_kind));
  if (!c.recipient.empty()) add(fmt::format("recipient {}", quoted_list(c.recipient)));
  if (c.text_matches) add(fmt::format("text_matches \"{}\"", c.text_matches->pattern()));
  if (c.subject_matches) add(fmt::format("subject_matches \"{}\"", c.subject_matches->pattern()));
  if (!c.ivr_digits.empty()) add(fmt::format("ivr_digits {}", quoted_list(c.ivr_digits)));
  if (!c.language.empty()) {
    // Say what the message was taken to be: a detected language surprises people.
    const auto& lang = f.language();
    add(fmt::format("language {} (message: {})", quoted_list(c.language),
                    lang ? *lang : std::string("unknown")));
  }
  if (!c.identity_type.empty()) add(fmt::format("identity_type {}", quoted_list(c.identity_type)));
  if (c.customer_in) add(fmt::format("customer_in \"{}\"", c.customer_in->file));
  if (c.during) add(fmt::format("during {}", c.during->name));
  if (c.outside) add(fmt::format("outside {}", c.outside->name));
  if (c.first_message) add(fmt::format("first_message {}", *c.first_message));
  if (c.auto_reply) add(fmt::format("auto_reply {}", *c.auto_reply));
  return out + conds;
}

void set_change(routing_decision& d, const conversation_state& conv) {
  d.previous_skill = conv.skill;
  d.skill_changed = !d.skill.empty() && (!conv.skill || *conv.skill != d.skill);
}

}  // namespace

routing_decision decide(const message_context& msg, const conversation_state& conv, millis now,
                        const routing_table& table) {
  facts f(msg, conv, now);
  routing_decision d;
  const auto it = std::find_if(table.routes.begin(), table.routes.end(),
                               [&](const route& r) { return matches(r, f); });
  if (it == table.routes.end()) {
    // The loader requires a final default route, so only a hand-built table gets here.
    d.reason = "no route matched";
    d.previous_skill = conv.skill;
    return d;
  }
  const auto index = static_cast<std::size_t>(it - table.routes.begin());
  d.skill = it->skill;
  d.priority = it->priority;
  d.route_index = static_cast<int>(index);
  d.reason = describe(*it, index, f);

  if (!conv.skill || it->reroute) {
    set_change(d, conv);
    return d;
  }
  // A skill removed by a reload has no queue binding any more: a message kept there would be
  // returned by the broker and sit in the outbox for ever. Follow the route instead.
  const skill_config* kept = table.find_skill(*conv.skill);
  if (kept == nullptr) {
    d.reason += fmt::format(" (conversation's skill {} is no longer configured)", *conv.skill);
    set_change(d, conv);
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
      kept->name, d.reason, it->skill);
  set_change(d, conv);
  return d;
}

}  // namespace sb
