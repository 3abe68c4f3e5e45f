#include "replies/reply.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/text.hpp"
#include "channels/json_body.hpp"
#include "channels/normalize.hpp"
#include "core/ids.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <initializer_list>

namespace sb {

namespace {

namespace json = boost::json;

// A key the contract does not have is named in the refusal: its first 64 bytes, printable ASCII
// only (it is the sender's text, and the detail reaches logs and a JSON answer whole).
std::string shown_key(std::string_view key) {
  std::string out;
  for (const char c : key.substr(0, 64)) out += c >= 0x20 && c < 0x7f ? c : '?';
  return out;
}

error only_known_fields(const json::object& o, std::initializer_list<std::string_view> known,
                        std::string_view prefix) {
  for (const auto& kv : o)
    if (std::find(known.begin(), known.end(), kv.key()) == known.end())
      return malformed(
          fmt::format("field {}{} is not part of {}", prefix, shown_key(kv.key()), reply_schema));
  return {};
}

// What a string may hold: the text anything valid UTF-8; the short fields one line without
// control characters (U+0000-U+001F, U+007F), since they may end up in a header or a file name.
enum class chars { any, one_line };

// The string at `key` (null is absent), at most `limit` bytes; nullopt when absent.
result<std::optional<std::string>> string_field(const json::object& o, std::string_view key,
                                                std::string_view path, std::size_t limit,
                                                chars allowed = chars::one_line) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>{};
  const json::string* s = v->if_string();
  if (s == nullptr) return malformed(fmt::format("field {} must be a string", path));
  if (s->size() > limit)
    return malformed(fmt::format("field {} is longer than {} bytes", path, limit));
  if (allowed == chars::one_line && has_control_character(*s))
    return malformed(fmt::format("field {} must not contain control characters", path));
  return std::optional<std::string>{std::string(*s)};
}

// As string_field, and present and not blank.
result<std::string> required_string(const json::object& o, std::string_view key,
                                    std::string_view path, std::size_t limit) {
  SB_TRY(s, string_field(o, key, path, limit));
  if (!*s || is_blank(**s)) return malformed(fmt::format("field {} is required", path));
  return std::move(**s);
}

// As string_field; a blank one is absent.
result<std::optional<std::string>> optional_string(const json::object& o, std::string_view key,
                                                   std::string_view path, std::size_t limit) {
  SB_TRY(s, string_field(o, key, path, limit));
  if (*s && is_blank(**s)) s->reset();
  return std::move(*s);
}

// An RFC 3986 URI (percent-encoded, so ASCII; a fragment allowed) with an http or https
// scheme, a host and no credentials.
error check_url(std::string_view url, std::string_view path) {
  const auto u = boost::urls::parse_uri(url);
  if (!u)
    return malformed(
        fmt::format("field {} must be an absolute URL (RFC 3986, percent-encoded)", path));
  if (u->scheme_id() != boost::urls::scheme::https && u->scheme_id() != boost::urls::scheme::http)
    return malformed(fmt::format("field {} must be an https:// or http:// URL", path));
  if (!u->has_authority() || u->encoded_host().empty())
    return malformed(fmt::format("field {} has no host", path));
  if (u->has_userinfo())
    return malformed(fmt::format("field {} must not carry credentials (user@host)", path));
  return {};
}

result<reply_agent> read_agent(const json::object& o, const reply_limits& limits) {
  const json::value* v = o.if_contains("agent");
  if (v == nullptr || v->is_null()) return malformed("field agent is required");
  const json::object* a = v->if_object();
  if (a == nullptr) return malformed("field agent must be an object");
  if (error e = only_known_fields(*a, {"id", "name"}, "agent."); e.code != errc::ok) return e;
  reply_agent agent;
  SB_TRY(id, required_string(*a, "id", "agent.id", limits.field_bytes));
  agent.id = std::move(*id);
  SB_TRY(name, optional_string(*a, "name", "agent.name", limits.field_bytes));
  agent.name = name->value_or("");
  return agent;
}

result<std::vector<reply_attachment>> read_attachments(const json::object& o,
                                                       const reply_limits& limits) {
  std::vector<reply_attachment> out;
  const json::value* v = o.if_contains("attachments");
  if (v == nullptr || v->is_null()) return out;
  const json::array* list = v->if_array();
  if (list == nullptr) return malformed("field attachments must be an array");
  if (list->size() > limits.attachments)
    return malformed(fmt::format("field attachments has more than {} items", limits.attachments));
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = fmt::format("attachments[{}]", i);
    const json::object* a = (*list)[i].if_object();
    if (a == nullptr) return malformed(fmt::format("field {} must be an object", path));
    if (error e = only_known_fields(*a, {"url", "name", "content_type"}, path + ".");
        e.code != errc::ok)
      return e;
    reply_attachment att;
    SB_TRY(url, required_string(*a, "url", path + ".url", limits.url_bytes));
    if (error e = check_url(*url, path + ".url"); e.code != errc::ok) return e;
    att.url = std::move(*url);
    SB_TRY(name, optional_string(*a, "name", path + ".name", limits.field_bytes));
    att.name = name->value_or("");
    SB_TRY(type, optional_string(*a, "content_type", path + ".content_type", limits.field_bytes));
    att.content_type = type->value_or("");
    out.push_back(std::move(att));
  }
  return out;
}

}  // namespace

result<reply> parse_reply(std::string_view body, reply_source source,
                          std::string_view conversation_id, const reply_limits& limits) {
  if (body.size() > limits.body_bytes)
    return error{errc::too_large,
                 fmt::format("the reply is larger than {} bytes", limits.body_bytes)};
  SB_TRY(o, parse_json_object(body));
  const bool queue = source == reply_source::queue;
  if (queue) {
    if (error e = only_known_fields(
            *o,
            {"schema", "conversation_id", "text", "agent", "channel", "in_reply_to", "attachments"},
            "");
        e.code != errc::ok)
      return e;
  } else {
    for (const std::string_view in_path : {"schema", "conversation_id"})
      if (o->contains(in_path))
        return malformed(fmt::format(
            "field {} is not taken here: the conversation is the one in the path", in_path));
    if (error e =
            only_known_fields(*o, {"text", "agent", "channel", "in_reply_to", "attachments"}, "");
        e.code != errc::ok)
      return e;
  }

  reply r;
  if (queue) {
    const json::value* schema = o->if_contains("schema");
    if (schema == nullptr || schema->is_null()) return malformed("field schema is required");
    if (!schema->is_string() || schema->get_string() != reply_schema)
      return malformed(fmt::format("field schema must be \"{}\"", reply_schema));
    SB_TRY(id, required_string(*o, "conversation_id", "conversation_id", limits.field_bytes));
    r.conversation_id = std::move(*id);
  } else {
    r.conversation_id = std::string(conversation_id);
  }
  if (!is_id(r.conversation_id))
    return malformed("the conversation id is not a Switchboard id (a UUIDv7)");

  SB_TRY(text, string_field(*o, "text", "text", limits.text_bytes, chars::any));
  r.text = text->value_or("");
  SB_TRY(agent, read_agent(*o, limits));
  r.agent = std::move(*agent);
  SB_TRY(channel, optional_string(*o, "channel", "channel", limits.field_bytes));
  r.channel = std::move(*channel);
  SB_TRY(in_reply_to, string_field(*o, "in_reply_to", "in_reply_to", limits.field_bytes));
  if (*in_reply_to && !is_id(**in_reply_to))
    return malformed("field in_reply_to is not a Switchboard message id (a UUIDv7)");
  r.in_reply_to = std::move(*in_reply_to);
  SB_TRY(attachments, read_attachments(*o, limits));
  r.attachments = std::move(*attachments);

  if (is_blank(r.text) && r.attachments.empty())
    return malformed("a reply needs text or an attachment");
  return r;
}

std::string canonical_json(const reply& r) {
  json::array attachments;
  for (const auto& a : r.attachments)
    attachments.push_back(
        json::object{{"url", a.url}, {"name", a.name}, {"content_type", a.content_type}});
  const auto optional = [](const std::optional<std::string>& v) {
    return v ? json::value(*v) : json::value(nullptr);
  };
  // boost::json::object keeps insertion order.
  return json::serialize(json::object{{"conversation_id", r.conversation_id},
                                      {"text", r.text},
                                      {"agent", {{"id", r.agent.id}, {"name", r.agent.name}}},
                                      {"channel", optional(r.channel)},
                                      {"in_reply_to", optional(r.in_reply_to)},
                                      {"attachments", std::move(attachments)}});
}

}  // namespace sb
