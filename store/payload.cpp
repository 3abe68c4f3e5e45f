#include "store/payload.hpp"

#include "channels/channel.hpp"
#include "core/ascii.hpp"
#include "core/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>

namespace sb {
namespace {

boost::json::value time_or_null(std::optional<millis> t) {
  if (!t) return nullptr;
  return boost::json::value(format_time(*t));
}

boost::json::value string_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return boost::json::value(s);
}

// The longest string in `v` (values, not keys), or nullptr.
boost::json::string* longest_string(boost::json::value& v) {
  boost::json::string* best = nullptr;
  const auto consider = [&best](boost::json::string* s) {
    if (s != nullptr && (best == nullptr || s->size() > best->size())) best = s;
  };
  if (v.is_string()) return &v.get_string();
  if (v.is_object())
    for (auto& kv : v.get_object()) consider(longest_string(kv.value()));
  if (v.is_array())
    for (auto& e : v.get_array()) consider(longest_string(e));
  return best;
}

// The first `n` bytes of `s`, or fewer: never in the middle of a UTF-8 sequence.
std::size_t utf8_cut(std::string_view s, std::size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

std::string truncation_marker(std::string_view conversation_id) {
  std::string m = " [... cut by Switchboard: the whole message is in GET /v1/conversations/";
  m += conversation_id;
  m += ']';
  return m;
}

std::string fit_message(std::string_view message_json, std::size_t max_bytes,
                        std::string_view marker) {
  if (message_json.size() <= max_bytes) return std::string(message_json);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(message_json, ec);
  if (ec || !v.is_object()) return std::string(message_json);
  v.get_object()["truncated"] = true;
  constexpr std::size_t smallest_cut = 64;  // strings shorter than this are left whole
  for (int round = 0; round < 64; ++round) {
    const std::size_t size = boost::json::serialize(v).size();
    if (size <= max_bytes) break;
    boost::json::string* s = longest_string(v);
    if (s == nullptr || s->size() < smallest_cut + marker.size()) break;
    // Serialized, a string may be longer than its bytes (escapes): cut in proportion to it.
    const std::size_t escaped = boost::json::serialize(boost::json::value(*s)).size();
    const std::size_t excess = size - max_bytes;
    const std::size_t over =
        excess >= escaped ? s->size() : (excess * s->size() + escaped - 1) / escaped;
    std::size_t keep = s->size() > over + marker.size() ? s->size() - over - marker.size() : 0;
    const std::string_view text(s->data(), s->size());
    std::string cut(text.substr(0, utf8_cut(text, keep)));
    cut += marker;
    *s = cut;
  }
  return boost::json::serialize(v);
}

std::string build_bounded_payload(const conversation_view& conv, const customer_view& customer,
                                  std::span<const std::string> thread, bool older_left_out,
                                  std::size_t max_bytes) {
  const std::string_view last = thread.empty() ? std::string_view() : thread.back();
  std::string whole = build_payload(conv, customer, last, thread, older_left_out);
  if (whole.size() <= max_bytes) return whole;  // nearly always: no cost beyond the build
  whole.clear();
  const std::size_t fixed = build_payload(conv, customer, {}, {}, true).size();

  const std::size_t room = max_bytes > fixed ? max_bytes - fixed : 0;
  const std::string marker = truncation_marker(conv.id);
  std::vector<std::string> kept;  // newest first
  std::size_t used = 0;
  bool left_out = older_left_out;
  if (!thread.empty()) {
    kept.push_back(fit_message(last, room / 4, marker));
    used = 2 * kept.back().size() + 1;
  }
  for (std::size_t i = thread.size() > 0 ? thread.size() - 1 : 0; i-- > 0;) {
    std::string m = fit_message(thread[i], room / 8, marker);
    if (used + m.size() + 1 > room) {
      left_out = true;
      break;
    }
    used += m.size() + 1;
    kept.push_back(std::move(m));
  }
  std::reverse(kept.begin(), kept.end());
  const std::string_view message =
      kept.empty() ? std::string_view() : std::string_view(kept.back());
  return build_payload(conv, customer, message, kept, left_out);
}

std::string message_json(const inbound_message& m, const stored_message_meta& meta) {
  boost::json::object o;
  o["id"] = meta.id;
  o["channel"] = meta.channel;
  o["channel_type"] = meta.channel_type;
  o["direction"] = m.direction;
  o["received_at"] = format_time(meta.received_at);
  o["sent_at"] = time_or_null(m.sent_at);
  boost::json::object from;
  if (!m.identities.empty()) {
    from["type"] = m.identities.front().type;
    from["value"] = m.identities.front().value;
  }
  from["name"] = string_or_null(m.sender_name);
  o["from"] = std::move(from);
  o["recipient"] = string_or_null(m.recipient);
  o["subject"] = string_or_null(m.subject);
  o["text"] = m.text;
  boost::json::array atts;
  for (const auto& a : m.attachments) {
    boost::json::object j;
    j["name"] = a.name;
    j["content_type"] = a.content_type;
    j["size"] = a.size ? boost::json::value(*a.size) : boost::json::value(nullptr);
    j["url"] = string_or_null(a.url);
    // Kept by Switchboard (docs/attachments.md): its id and what became of it.
    j["id"] = string_or_null(a.id);
    j["state"] = string_or_null(a.state);
    j["sha256"] = string_or_null(a.sha256);
    if (!a.source_url.empty()) j["source_url"] = a.source_url;
    atts.push_back(std::move(j));
  }
  o["attachments"] = std::move(atts);
  o["provider_id"] = meta.provider_id.empty() ? m.provider_id : meta.provider_id;
  o["visibility"] = m.visibility;
  o["language"] = m.language ? boost::json::value(*m.language) : boost::json::value(nullptr);
  o["callback"] = nullptr;
  // Type-specific fields (email threading headers, callback details) complete the object;
  // they may replace a null default such as "callback" but never the common fields above.
  for (const auto& kv : m.extra) {
    auto it = o.find(kv.key());
    if (it == o.end() || it->value().is_null()) o[kv.key()] = kv.value();
  }
  return boost::json::serialize(o);
}

std::string reply_message_json(const reply& r, const stored_message_meta& meta,
                               const reply_addressing& to, std::string_view status) {
  inbound_message m;
  m.direction = "outbound";
  m.visibility = to.visibility.empty() ? "private" : to.visibility;
  m.sender_name = r.agent.name;
  m.identities.push_back({"agent", r.agent.id, true});
  m.recipient = to.recipient;
  const channel_type_info* type = find_channel_type(meta.channel_type);
  if (type != nullptr && type->kind == "email" && !to.subject.empty())
    m.subject = to.subject.size() >= 3 && ascii_iequals(to.subject.substr(0, 3), "re:")
                    ? to.subject
                    : "Re: " + to.subject;
  m.text = r.text;
  for (const auto& a : r.attachments) m.attachments.push_back({a.name, a.content_type, {}, a.url});
  m.extra["author"] = boost::json::object{
      {"type", "agent"}, {"id", r.agent.id}, {"name", string_or_null(r.agent.name)}};
  m.extra["answers"] = to.answers;
  m.extra["status"] = status;
  return message_json(m, meta);
}

std::string build_payload(const conversation_view& conv, const customer_view& customer,
                          std::string_view message, std::span<const std::string> thread,
                          bool thread_truncated) {
  // Written directly rather than built as Boost.JSON values and serialized: the same text
  // (append_json_string escapes as Boost.JSON does), once per published message.
  std::string out;
  std::size_t reserve = 512 + message.size();
  for (const auto& t : thread) reserve += t.size() + 1;
  for (const auto& i : customer.identities) reserve += i.type.size() + i.value.size() + 40;
  out.reserve(reserve);
  const auto text = [&out](std::string_view v) { append_json_string(out, v); };
  const auto number = [&out](std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  };
  out += R"({"schema":"switchboard.conversation/v1","conversation":{"id":)";
  text(conv.id);
  out += R"(,"status":)";
  text(conv.status);
  out += R"(,"skill":)";
  if (conv.skill)
    text(*conv.skill);
  else
    out += "null";
  out += R"(,"priority":)";
  number(conv.priority);
  out += R"(,"opened_at":)";
  text(format_time(conv.opened_at));
  out += R"(,"last_message_at":)";
  text(format_time(conv.last_message_at));
  out += R"(,"message_count":)";
  number(conv.message_count);
  out += R"(},"customer":{"id":)";
  text(customer.id);
  out += R"(,"name":)";
  if (customer.name.empty())
    out += "null";
  else
    text(customer.name);
  out += R"(,"identities":[)";
  for (std::size_t n = 0; n < customer.identities.size(); ++n) {
    const auto& i = customer.identities[n];
    out += n ? R"(,{"type":)" : R"({"type":)";
    text(i.type);
    out += R"(,"value":)";
    text(i.value);
    out += i.verified ? R"(,"verified":true})" : R"(,"verified":false})";
  }
  out += "]}";
  out += R"(,"message":)";
  out += message;
  out += R"(,"thread":[)";
  for (std::size_t i = 0; i < thread.size(); ++i) {
    if (i) out += ',';
    out += thread[i];
  }
  out += R"(],"thread_truncated":)";
  out += thread_truncated ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace sb
