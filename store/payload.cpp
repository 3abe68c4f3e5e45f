#include "store/payload.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

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

}  // namespace

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

std::string build_payload(const conversation_view& conv, const customer_view& customer,
                          std::string_view message, std::span<const std::string> thread,
                          bool thread_truncated) {
  boost::json::object c;
  c["id"] = conv.id;
  c["status"] = conv.status;
  c["skill"] = conv.skill ? boost::json::value(*conv.skill) : boost::json::value(nullptr);
  c["priority"] = conv.priority;
  c["opened_at"] = format_time(conv.opened_at);
  c["last_message_at"] = format_time(conv.last_message_at);
  c["message_count"] = conv.message_count;

  boost::json::object cu;
  cu["id"] = customer.id;
  cu["name"] = string_or_null(customer.name);
  boost::json::array ids;
  for (const auto& i : customer.identities)
    ids.push_back({{"type", i.type}, {"value", i.value}, {"verified", i.verified}});
  cu["identities"] = std::move(ids);

  std::string out;
  std::size_t reserve = 256 + message.size();
  for (const auto& t : thread) reserve += t.size() + 1;
  out.reserve(reserve);
  out += R"({"schema":"switchboard.conversation/v1","conversation":)";
  out += boost::json::serialize(c);
  out += R"(,"customer":)";
  out += boost::json::serialize(cu);
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
