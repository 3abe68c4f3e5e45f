// `chat`: one message per request from a web-chat backend, signed with Standard Webhooks.
// The request pipeline (signature: 401, Content-Type: 415, JSON parse: 400) is
// standard_webhooks_adapter's; this file is its last step, the field mapping with type checks,
// each error naming the field: 400.
#include "channels/chat/chat.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/json_fields.hpp"
#include "channels/common/limits.hpp"
#include "channels/common/text.hpp"
#include "channels/fetch.hpp"
#include "channels/normalize.hpp"
#include "channels/standard_webhooks.hpp"
#include "core/ascii.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include <algorithm>
#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

// ---- field readers: each names the field it refuses --------------------------------------

using json_fields::field;

// An empty string is kept (absent and null are nullopt).
result<std::optional<std::string>> optional_string(const json::object& obj, std::string_view key,
                                                   std::string_view path) {
  return json_fields::optional_string(obj, key, path, json_fields::empty_string::kept);
}

// A required, non-empty, bounded identifier.
result<std::string> required_id(const json::object& obj, std::string_view key,
                                std::string_view path) {
  SB_TRY(s, optional_string(obj, key, path));
  if (!*s || (*s)->empty()) return malformed(fmt::format("field {} is required", path));
  if ((*s)->size() > max_id_bytes)
    return malformed(fmt::format("field {} must be at most {} bytes", path, max_id_bytes));
  return std::move(**s);
}

result<std::optional<std::int64_t>> optional_size(const json::object& obj, std::string_view key,
                                                  std::string_view path) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  // Boost.JSON stores integers above INT64_MAX as uint64 and fractions as double.
  if (v->is_uint64()) return malformed(fmt::format("field {} is out of range", path));
  const std::int64_t* n = v->if_int64();
  if (n == nullptr || *n < 0)
    return malformed(fmt::format("field {} must be a non-negative integer", path));
  return std::optional<std::int64_t>{*n};
}

// ---- mapping -------------------------------------------------------------------------------

class chat_adapter final : public standard_webhooks_adapter {
 public:
  using standard_webhooks_adapter::standard_webhooks_adapter;

 private:
  result<inbound_message> to_message(const json::object& body) const override;
  std::optional<result<parse_result>> read_other(const json::object& body) const override;
  error read_header_fields(const json::object& body, inbound_message& msg) const;
  error read_visitor(const json::object& body, inbound_message& msg) const;
  error read_contact(const json::object& visitor, inbound_message& msg) const;
  error read_content(const json::object& body, inbound_message& msg) const;
};

// switchboard.chat-status/v1: the backend says how far an agent's reply got,
// {"schema", "message_id": the reply's, "status": "delivered" | "read", "at": RFC 3339}.
std::optional<result<parse_result>> chat_adapter::read_other(const json::object& body) const {
  const json::value* schema = field(body, "schema");
  if (schema == nullptr || !schema->is_string() ||
      schema->get_string() != "switchboard.chat-status/v1")
    return std::nullopt;
  SB_TRY(id, required_id(body, "message_id", "message_id"));
  SB_TRY(status, optional_string(body, "status", "status"));
  if (!*status || (**status != "delivered" && **status != "read"))
    return result<parse_result>(malformed("field status must be \"delivered\" or \"read\""));
  SB_TRY(at, optional_string(body, "at", "at"));
  delivery_status d{std::move(*id), std::move(**status), std::nullopt, {}, std::nullopt};
  if (*at) {
    d.at = parse_time(**at);
    if (!d.at) return result<parse_result>(malformed("field at must be an RFC 3339 date-time"));
  }
  parse_result out;
  out.statuses.push_back(std::move(d));
  out.ignored = 1;
  return result<parse_result>(std::move(out));
}

result<inbound_message> chat_adapter::to_message(const json::object& body) const {
  inbound_message msg;
  msg.recipient = channel_;
  if (error e = read_header_fields(body, msg); e.code != errc::ok) return e;
  if (error e = read_visitor(body, msg); e.code != errc::ok) return e;
  if (error e = read_content(body, msg); e.code != errc::ok) return e;
  return msg;
}

// id, sent_at, session_id, language: the envelope of the message.
error chat_adapter::read_header_fields(const json::object& body, inbound_message& msg) const {
  SB_TRY(id, required_id(body, "id", "id"));
  msg.provider_id = std::move(*id);

  SB_TRY(sent_at, optional_string(body, "sent_at", "sent_at"));
  if (*sent_at) {
    msg.sent_at = parse_time(**sent_at);
    if (!msg.sent_at) return malformed("field sent_at must be an RFC 3339 date-time");
  }

  SB_TRY(session, optional_string(body, "session_id", "session_id"));
  if (*session) msg.extra["session_id"] = **session;

  SB_TRY(language, optional_string(body, "language", "language"));
  if (*language) msg.language = language_code(**language);
  return {};
}

error chat_adapter::read_visitor(const json::object& body, inbound_message& msg) const {
  const json::value* v = field(body, "visitor");
  if (v == nullptr) return malformed("field visitor is required");
  const json::object* visitor = v->if_object();
  if (visitor == nullptr) return malformed("field visitor must be an object");

  SB_TRY(id, required_id(*visitor, "id", "visitor.id"));
  // Chat identity first: it is the one every message from this visitor carries.
  msg.identities.push_back({"chat", channel_ + ":" + *id});

  SB_TRY(name, optional_string(*visitor, "name", "visitor.name"));
  if (*name) msg.sender_name = std::move(**name);
  return read_contact(*visitor, msg);
}

// Email and phone are typed by the visitor: a typo must not cost the message, so an unusable
// value is kept verbatim in extra (invalid_email / invalid_phone) for the agent instead of
// becoming an identity. A value of the wrong JSON type is the sender's bug, and refused.
// Typed, they are claims: anyone can type ann@example.com. The backend vouches for those it
// checked (a logged-in user) in visitor.verified, inside the signed body.
error chat_adapter::read_contact(const json::object& visitor, inbound_message& msg) const {
  static constexpr std::string_view kinds[] = {"email", "phone"};
  SB_TRY(vouched, verified_fields(visitor, "visitor.verified", kinds));
  const auto verified = [&](std::string_view kind) {
    return identities_verified_ ||
           std::find(vouched->begin(), vouched->end(), kind) != vouched->end();
  };
  SB_TRY(email, optional_string(visitor, "email", "visitor.email"));
  if (*email && !ascii_trim(**email, " \t").empty()) {
    if (auto addr = normalize_email(**email))
      msg.identities.push_back({"email", std::move(*addr), verified("email")});
    else
      msg.extra["invalid_email"] = **email;
  }

  SB_TRY(phone, optional_string(visitor, "phone", "visitor.phone"));
  if (*phone && !ascii_trim(**phone, " \t").empty()) {
    if (auto e164 = normalize_phone(**phone, default_country_))
      msg.identities.push_back({"phone", std::move(*e164), verified("phone")});
    else
      msg.extra["invalid_phone"] = **phone;
  }
  return {};
}

result<attachment> read_attachment(const json::value& v, std::size_t index) {
  const std::string path = fmt::format("attachments[{}]", index);
  const json::object* obj = v.if_object();
  if (obj == nullptr) return malformed(fmt::format("field {} must be an object", path));
  attachment a;
  for (auto [key, out] : {std::pair{"name", &a.name}, std::pair{"content_type", &a.content_type},
                          std::pair{"url", &a.url}}) {
    SB_TRY(s, optional_string(*obj, key, path + "." + key));
    if (*s) *out = std::move(**s);
  }
  SB_TRY(size, optional_size(*obj, "size", path + ".size"));
  a.size = *size;
  if (a.name.empty() && a.url.empty())
    return malformed(fmt::format("field {} needs a name or a url", path));
  if (fetchable_url(a.url)) {
    a.fetch_kind = "url";
    a.fetch_ref = a.url;
  }
  return a;
}

error chat_adapter::read_content(const json::object& body, inbound_message& msg) const {
  SB_TRY(text, optional_string(body, "text", "text"));
  if (*text) msg.text = std::move(**text);

  if (const json::value* v = field(body, "attachments")) {
    const json::array* list = v->if_array();
    if (list == nullptr) return malformed("field attachments must be an array");
    if (list->size() > max_attachments)
      return malformed(fmt::format("field attachments has more than {} entries", max_attachments));
    for (std::size_t i = 0; i < list->size(); ++i) {
      SB_TRY(a, read_attachment((*list)[i], i));
      msg.attachments.push_back(std::move(*a));
    }
  }
  if (msg.text.empty() && msg.attachments.empty())
    return malformed("a message needs text or at least one attachment");
  return {};
}

}  // namespace

result<std::unique_ptr<adapter>> make_chat_adapter(const channel_config& cfg) {
  return make_standard_webhooks_adapter<chat_adapter>(cfg, "chat");
}

}  // namespace sb
