// `postmark`: one inbound mail per request from Postmark's inbound webhook.
// The request pipeline, in order, and why each step sits where it does:
//   1. HTTP basic auth (password = a configured secret, user = `username` when set): nothing
//      in the request is looked at before it is authenticated. The refusal is 401, never 403:
//      Postmark stops retrying on 403, so a secret fixed after a mistake still gets the mail;
//   2. Content-Type: application/json (charset, if given, utf-8): 415;
//   3. JSON parse with a depth bound and UTF-8 validation: 400;
//   4. a RecordType other than "Inbound" (Postmark's delivery, bounce, open... webhooks) is
//      not a customer message: counted as ignored, 200;
//   5. field mapping with type checks; a mail that cannot be read (a field of the wrong type,
//      no usable sender) is kept as unreadable, answered 202 (email::to_result).
// Attachment contents (base64 in the JSON) are decoded and kept with the attachment; one that
// is not base64 is recorded without its bytes, the mail read all the same.
#include "channels/postmark/postmark.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/limits.hpp"
#include "channels/common/text.hpp"
#include "channels/crypto.hpp"
#include "channels/email/email.hpp"
#include "channels/json_body.hpp"
#include "core/time.hpp"

#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;
using email::parsed_email;

constexpr std::size_t min_secret_bytes = 16;

// ---- field readers: each names the field it refuses --------------------------------------

// Absent and null are the same.
const json::value* field(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

result<std::string> string_field(const json::object& obj, std::string_view key,
                                 std::string_view path) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return std::string{};
  if (const json::string* s = v->if_string()) return std::string(*s);
  return malformed(fmt::format("field {} must be a string", path));
}

result<const json::array*> array_field(const json::object& obj, std::string_view key) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return static_cast<const json::array*>(nullptr);
  if (const json::array* a = v->if_array()) return a;
  return malformed(fmt::format("field {} must be an array", key));
}

// FromFull, ToFull[i], CcFull[i]: {"Email": "...", "Name": "...", "MailboxHash": "..."}
result<email::mailbox> full_address(const json::value& v, const std::string& path) {
  const json::object* o = v.if_object();
  if (o == nullptr) return malformed(fmt::format("field {} must be an object", path));
  SB_TRY(address, string_field(*o, "Email", path + ".Email"));
  SB_TRY(name, string_field(*o, "Name", path + ".Name"));
  return email::mailbox{std::move(*name), std::move(*address)};
}

// ToFull / CcFull when present, else the plain To / Cc header text.
result<std::vector<email::mailbox>> address_list(const json::object& body, std::string_view full,
                                                 std::string_view plain) {
  std::vector<email::mailbox> out;
  SB_TRY(list, array_field(body, full));
  if (*list != nullptr) {
    for (std::size_t i = 0; i < (*list)->size() && out.size() < email::max_addresses; ++i) {
      auto m = full_address((**list)[i], fmt::format("{}[{}]", full, i));
      if (!m) return m.error();
      out.push_back(std::move(*m));
    }
    return out;
  }
  SB_TRY(text, string_field(body, plain, plain));
  return email::parse_addresses(*text);
}

// An attachment's Content: base64, on one line as Postmark writes it; line breaks and spaces
// (base64 as MIME wraps it) are dropped first, as the decoder is strict. nullopt when it is not
// base64.
std::optional<std::string> decode_content(std::string_view text) {
  constexpr std::string_view wrapping = "\r\n ";
  if (text.find_first_of(wrapping) == std::string_view::npos) return base64_decode(text);
  std::string joined;
  joined.reserve(text.size());
  for (char c : text)
    if (wrapping.find(c) == std::string_view::npos) joined += c;
  return base64_decode(joined);
}

result<attachment> read_attachment(const json::value& v, std::size_t index) {
  const std::string path = fmt::format("Attachments[{}]", index);
  const json::object* o = v.if_object();
  if (o == nullptr) return malformed(fmt::format("field {} must be an object", path));
  attachment a;
  SB_TRY(name, string_field(*o, "Name", path + ".Name"));
  a.name = std::move(*name);
  SB_TRY(type, string_field(*o, "ContentType", path + ".ContentType"));
  a.content_type = std::move(*type);
  if (const json::value* len = field(*o, "ContentLength")) {
    const std::int64_t* n = len->if_int64();
    if (n == nullptr || *n < 0)
      return malformed(fmt::format("field {}.ContentLength must be a non-negative integer", path));
    a.size = *n;
  }
  if (const json::value* content = field(*o, "Content")) {
    if (!content->is_string())
      return malformed(fmt::format("field {}.Content must be a string", path));
    // Content that is not base64 loses only the file: the attachment is still listed, with
    // ContentLength as its size when given.
    a.bytes = decode_content(content->get_string());
    if (a.bytes) a.size = static_cast<std::int64_t>(a.bytes->size());
  }
  return a;
}

// Headers: [{"Name": "Message-ID", "Value": "<...>"}, ...]
result<std::vector<std::pair<std::string, std::string>>> read_headers(const json::object& body) {
  std::vector<std::pair<std::string, std::string>> out;
  SB_TRY(list, array_field(body, "Headers"));
  if (*list == nullptr) return out;
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    const std::string path = fmt::format("Headers[{}]", i);
    const json::object* o = (**list)[i].if_object();
    if (o == nullptr) return malformed(fmt::format("field {} must be an object", path));
    SB_TRY(name, string_field(*o, "Name", path + ".Name"));
    SB_TRY(value, string_field(*o, "Value", path + ".Value"));
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

error check_content_type(std::optional<std::string_view> header) {
  const email::content_type ct = email::parse_content_type(header);
  if (ct.media_type != "application/json")
    return {errc::unsupported_media_type, "Content-Type must be application/json"};
  if (!ct.charset.empty() && ct.charset != "utf-8")
    return {errc::unsupported_media_type, "Content-Type charset must be utf-8"};
  return {};
}

// What a delivery webhook says of a mail the business sent (an agent's reply, whose provider id
// is Postmark's MessageID): Delivery (DeliveredAt), Open (ReceivedAt: the tracking pixel, when
// the stream tracks opens) as read, a Bounce that is for good (a hard bounce, a bad address, a
// block, or one after which Postmark deactivated the address) as failed with its Description.
// Soft and transient bounces (Postmark retries) and other records say nothing new.
std::optional<delivery_status> record_status(std::string_view type, const json::object& body) {
  const auto text = [&](std::string_view key) {
    const auto* v = body.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  delivery_status d;
  std::string when;
  if (type == "Delivery") {
    d.status = "delivered";
    when = text("DeliveredAt");
  } else if (type == "Open") {
    d.status = "read";
    when = text("ReceivedAt");
  } else if (type == "Bounce") {
    const std::string kind = text("Type");
    const auto* inactive = body.if_contains("Inactive");
    const bool for_good = kind == "HardBounce" || kind == "BadEmailAddress" || kind == "Blocked" ||
                          (inactive && inactive->is_bool() && inactive->get_bool());
    if (!for_good) return std::nullopt;
    d.status = "failed";
    d.reason = fmt::format("({}) {}", kind, text("Description"));
    when = text("BouncedAt");
  } else {
    return std::nullopt;
  }
  d.provider_id = text("MessageID");
  if (d.provider_id.empty() || d.provider_id.size() > max_id_bytes) return std::nullopt;
  d.at = parse_time(when);
  return d;
}

class postmark_adapter final : public email::basic_auth_adapter {
 public:
  postmark_adapter(email::basic_auth_config auth, std::vector<std::string> trusted)
      : basic_auth_adapter(std::move(auth)), trusted_(std::move(trusted)) {}

  result<parse_result> parse_verified(const request_view& req) const override {
    if (error e = check_content_type(req.header("content-type")); e.code != errc::ok) return e;
    SB_TRY(body, parse_json_object(req.body));

    auto record_type = string_field(*body, "RecordType", "RecordType");
    if (record_type && !record_type->empty() && *record_type != "Inbound") {
      parse_result out;
      out.ignored = 1;
      if (auto st = record_status(*record_type, *body)) out.statuses.push_back(std::move(*st));
      return out;
    }
    // Postmark's own id of the mail (its retries repeat it), else the Message-ID.
    auto provider_id = string_field(*body, "MessageID", "MessageID");
    if (provider_id && provider_id->size() > max_id_bytes)
      provider_id =
          malformed(fmt::format("field MessageID must be at most {} bytes", max_id_bytes));
    if (!record_type) return email::to_result(record_type.error());
    if (!provider_id) return email::to_result(provider_id.error());
    return email::to_result(to_email(*body), std::move(*provider_id));
  }

 private:
  result<parsed_email> to_email(const json::object& body) const;

  std::vector<std::string> trusted_;  // authserv-ids whose Authentication-Results are believed
};

result<parsed_email> postmark_adapter::to_email(const json::object& body) const {
  parsed_email e;
  e.primary_sender_field = "field FromFull.Email";
  std::string from_name;
  if (const json::value* v = field(body, "FromFull")) {
    SB_TRY(from, full_address(*v, "FromFull"));
    from_name = from->name;
    if (!is_blank(from->address)) e.senders.push_back({"field FromFull.Email", std::move(*from)});
  }
  SB_TRY(from_text, string_field(body, "From", "From"));
  if (!is_blank(*from_text)) {
    auto list = email::parse_addresses(*from_text, 1);
    e.senders.push_back(
        {"field From", list.empty() ? email::mailbox{"", *from_text} : std::move(list.front())});
  }
  SB_TRY(name, string_field(body, "FromName", "FromName"));
  // FromName is Postmark's own reading of the display name: preferred over the parsed one.
  if (!name->empty())
    for (auto& c : e.senders) c.from.name = *name;

  SB_TRY(to, address_list(body, "ToFull", "To"));
  e.to = std::move(*to);
  SB_TRY(cc, address_list(body, "CcFull", "Cc"));
  e.cc = std::move(*cc);
  SB_TRY(original, string_field(body, "OriginalRecipient", "OriginalRecipient"));
  // The To header names the business's own address even when the mail was forwarded to
  // Postmark's hash address (OriginalRecipient): it comes first.
  if (e.to.empty()) e.recipient = std::move(*original);

  for (auto [key, out] :
       {std::pair{"Subject", &e.subject}, std::pair{"TextBody", &e.text},
        std::pair{"HtmlBody", &e.html}, std::pair{"StrippedTextReply", &e.stripped_text}}) {
    SB_TRY(s, string_field(body, key, key));
    *out = std::move(*s);
  }

  SB_TRY(date, string_field(body, "Date", "Date"));
  e.sent_at = email::parse_date(*date);

  SB_TRY(headers, read_headers(body));
  email::apply_headers(e, *headers);
  // A trusted Authentication-Results header, else what Postmark's own checks added on top.
  e.auth = email::from_authentication_results(*headers, trusted_);
  if (!e.auth) e.auth = email::from_postmark(*headers);

  SB_TRY(attachments, array_field(body, "Attachments"));
  if (*attachments != nullptr)
    for (std::size_t i = 0; i < (*attachments)->size(); ++i) {
      SB_TRY(a, read_attachment((**attachments)[i], i));
      email::add_attachment(e, std::move(*a));
    }
  return e;
}

}  // namespace

result<std::unique_ptr<adapter>> make_postmark_adapter(const channel_config& cfg) {
  SB_TRY(auth, email::basic_auth_channel(cfg, "postmark", min_secret_bytes));
  return std::unique_ptr<adapter>(
      std::make_unique<postmark_adapter>(std::move(*auth), email::trusted_authserv_id_option(cfg)));
}

}  // namespace sb
