#include "daemon/route_command.hpp"

#include "daemon/config.hpp"
#include "routing/language.hpp"

#include <fmt/core.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace sb {
namespace {

namespace json = boost::json;

error bad_input(std::string detail) { return error{errc::malformed, std::move(detail)}; }

// A string field, absent or null → empty; anything else but a string is an error.
result<std::string> string_field(const json::object& o, std::string_view key,
                                 std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return bad_input(fmt::format("{}{} must be a string", where, key));
  return std::string(v->get_string());
}

result<std::vector<identity>> identities_field(const json::value& v, std::string_view where) {
  const json::array* a = v.if_array();
  if (a == nullptr) return bad_input(fmt::format("{} must be an array of {{type, value}}", where));
  std::vector<identity> out;
  for (const auto& item : *a) {
    const json::object* o = item.if_object();
    const json::value* type = o ? o->if_contains("type") : nullptr;
    const json::value* value = o ? o->if_contains("value") : nullptr;
    if (!type || !value || !type->is_string() || !value->is_string())
      return bad_input(fmt::format("{} items must be {{\"type\": ..., \"value\": ...}}", where));
    out.push_back({std::string(type->get_string()), std::string(value->get_string())});
  }
  return out;
}

}  // namespace

result<route_input> parse_route_input(const json::value& input, const config& cfg, millis now) {
  const json::object* root = input.if_object();
  if (root == nullptr) return bad_input("the input must be a JSON object");

  // A consumed payload carries the message, the customer and the conversation after routing;
  // a hand-written input is the message itself, with optional "identities" and "conversation".
  const json::object* msg = root;
  const json::value* idents = root->if_contains("identities");
  const json::object* conv = nullptr;
  std::string where;
  if (const json::value* m = root->if_contains("message")) {
    msg = m->if_object();
    if (msg == nullptr) return bad_input("message must be an object");
    where = "message.";
    if (const json::value* c = root->if_contains("customer"); c && c->is_object())
      if (const json::value* i = c->get_object().if_contains("identities")) idents = i;
    if (const json::value* i = msg->if_contains("identities")) idents = i;
  }
  if (const json::value* c = root->if_contains("conversation")) {
    conv = c->if_object();
    if (conv == nullptr) return bad_input("conversation must be an object");
  }

  route_input in;
  SB_TRY(channel, string_field(*msg, "channel", where));
  if (channel->empty()) return bad_input(fmt::format("{}channel is required", where));
  const auto* ch = cfg.find_channel(*channel);
  if (ch == nullptr) {
    std::string names;
    for (const auto& c : cfg.channels) names += (names.empty() ? "" : ", ") + c.config.name;
    return bad_input(fmt::format("{}channel \"{}\" is not in the config; channels: {}", where,
                                 *channel, names));
  }
  in.channel = *channel;
  in.channel_type = ch->config.type;

  inbound_message& m = in.message;
  for (auto [key, out] : {std::pair{"text", &m.text}, std::pair{"subject", &m.subject},
                          std::pair{"recipient", &m.recipient}}) {
    SB_TRY(s, string_field(*msg, key, where));
    *out = std::move(*s);
  }
  if (idents != nullptr) {
    SB_TRY(ids, identities_field(*idents, "identities"));
    m.identities = std::move(*ids);
  } else if (const json::value* from = msg->if_contains("from"); from && from->is_object()) {
    auto ids = identities_field(json::array{*from}, where + "from");
    if (ids) m.identities = std::move(*ids);
  }
  // The extras (callback, call, email, auto_reply, ...) as the payload has them; ivr_digits at
  // the top of a hand-written input is the callback's.
  for (const auto& kv : *msg)
    if (kv.value().is_object() || kv.value().is_bool()) m.extra[kv.key()] = kv.value();
  if (auto digits = string_field(*msg, "ivr_digits", where); !digits) {
    return digits.error();
  } else if (!digits->empty()) {
    m.extra["callback"] = json::object{{"ivr_digits", *digits}};
  }
  if (const json::value* lang = msg->if_contains("language")) {
    in.language_given = true;
    if (lang->is_string()) {
      m.language = normalize_language_tag(lang->get_string());
      if (!m.language)
        return bad_input(fmt::format("{}language must be an ISO 639-1 code such as \"en\"", where));
    } else if (!lang->is_null()) {
      return bad_input(fmt::format("{}language must be a string or null", where));
    }
  }

  in.at = now;
  if (auto at = string_field(*msg, "received_at", where); !at) {
    return at.error();
  } else if (!at->empty()) {
    auto t = parse_time(*at);
    if (!t) return bad_input(fmt::format("{}received_at must be an RFC 3339 date-time", where));
    in.at = *t;
  }

  // The conversation before this message: a payload's conversation already has this message,
  // so message_count 1 means the message opened it.
  if (conv != nullptr) {
    SB_TRY(skill, string_field(*conv, "skill", "conversation."));
    bool is_new = skill->empty();
    if (const json::value* count = conv->if_contains("message_count"); count && count->is_int64())
      is_new = count->get_int64() <= 1;
    in.conversation.is_new = is_new;
    if (!is_new && !skill->empty()) in.conversation.skill = std::move(*skill);
    if (const json::value* p = conv->if_contains("priority"); p && p->is_int64())
      in.conversation.priority = static_cast<int>(p->get_int64());
  }
  return in;
}

std::string explain_route(const route_input& in, const routing_decision& d, const config& cfg) {
  if (d.skill.empty()) return fmt::format("no route matched\n");
  const skill_config* sk = cfg.routing->find_skill(d.skill);
  std::string out = fmt::format("skill:    {}\nqueue:    {}\npriority: {}\n", d.skill,
                                sk && !sk->queue.empty() ? sk->queue : "switchboard." + d.skill,
                                d.priority);
  out += fmt::format("because:  {}\n", d.reason);
  if (in.conversation.is_new)
    out += "conversation: new\n";
  else
    out += fmt::format("conversation: with skill {}\n", in.conversation.skill.value_or("(none)"));
  const auto lang = in.language_given ? in.message.language : message_language(in.message);
  out += fmt::format("language: {}{}\n", lang.value_or("unknown"),
                     in.language_given ? " (from the input)" : " (detected)");
  out += fmt::format("at:       {}\n", format_time(in.at));
  return out;
}

int run_route_command(const std::string& config_path, const std::string& message_path) {
  auto loaded = load_config(config_path);
  if (!loaded.cfg) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 2;
  }
  std::string text;
  if (message_path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream f(message_path, std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "%s: cannot read the file\n", message_path.c_str());
      return 2;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  boost::system::error_code ec;
  const json::value input = json::parse(text, ec);
  if (ec) {
    std::fprintf(stderr, "%s: not JSON: %s\n", message_path.c_str(), ec.message().c_str());
    return 2;
  }
  const config& cfg = *loaded.cfg;
  auto in = parse_route_input(input, cfg, now_ms());
  if (!in) {
    std::fprintf(stderr, "%s: %s\n", message_path.c_str(), in.error().detail.c_str());
    return 2;
  }
  std::optional<std::optional<std::string>> lang;
  if (in->language_given) lang = in->message.language;
  const auto d = decide({in->message, in->channel, in->channel_type, lang}, in->conversation,
                        in->at, *cfg.routing);
  std::fputs(explain_route(*in, d, cfg).c_str(), stdout);
  return 0;
}

}  // namespace sb
