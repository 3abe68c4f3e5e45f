// `mailgun`: one inbound mail per request from a Mailgun route (forward() action).
// The request pipeline, in order, and why each step sits where it does:
//   1. Content-Type: application/x-www-form-urlencoded, or multipart/form-data when the mail
//      has attachments; application/json is Mailgun's event webhook (delivered, opened, ...),
//      signed the same way: 415 otherwise. Mailgun puts its signature in the body, so the body
//      has to be read before anything can be authenticated;
//   2. body parse (urlencoded with Boost.URL, multipart with GMime): 400;
//   3. signature: `timestamp` within ±tolerance of now, then hex HMAC-SHA256(signing key,
//      timestamp + token) equal to `signature` for any configured key: 401;
//   4. event webhooks and signed posts without any message field: counted as ignored, 200;
//   5. field mapping, the sender's address validated; a mail that cannot be read is kept as
//      unreadable and answered 202 (email::to_result).
// Mailgun stops retrying on 406, so no refusal here is ever a 406 (none is in errc anyway).
#include "channels/mailgun/mailgun.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/text.hpp"
#include "channels/crypto.hpp"
#include "channels/email/email.hpp"
#include "channels/form.hpp"
#include "channels/json_body.hpp"
#include "core/ascii.hpp"

#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;
using email::parsed_email;
using header_list = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t max_timestamp_digits = 12;
constexpr std::size_t sha256_bytes = 32;

error bad_signature(std::string detail) { return {errc::bad_signature, std::move(detail)}; }

// The decoded fields of either body encoding; files (multipart) with their bytes.
struct fields {
  header_list values;
  std::vector<email::form_part> files;

  // Mailgun's own fields are lower-case ("from", "body-plain", "timestamp").
  const std::string* exact(std::string_view name) const {
    for (const auto& [n, v] : values)
      if (n == name) return &v;
    return nullptr;
  }
  // Mail headers are passed on as fields too, spelled as the sender wrote them
  // ("Message-Id", "In-Reply-To"): looked up case-insensitively.
  const std::string* header(std::string_view name) const {
    for (const auto& [n, v] : values)
      if (ascii_iequals(n, name)) return &v;
    return nullptr;
  }
};

// "message-headers": [["Received", "..."], ["Message-Id", "<...>"], ...]
result<header_list> parse_message_headers(const std::string* text) {
  header_list out;
  if (text == nullptr || is_blank(*text)) return out;
  SB_TRY(doc, parse_json_value(*text, "field message-headers"));
  const error wrong = malformed("field message-headers must be a JSON list of [name, value] pairs");
  const json::array* list = doc->if_array();
  if (list == nullptr) return wrong;
  for (const auto& item : *list) {
    const json::array* pair = item.if_array();
    if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string())
      return wrong;
    out.emplace_back(std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string()));
  }
  return out;
}

// A JSON timestamp may be a string ("1795341630") or a number.
std::string scalar_text(const json::value* v) {
  if (v == nullptr) return {};
  if (const json::string* s = v->if_string()) return std::string(*s);
  if (const std::int64_t* n = v->if_int64()) return std::to_string(*n);
  if (const std::uint64_t* n = v->if_uint64()) return std::to_string(*n);
  return {};
}

void add_sender(parsed_email& e, std::string_view field, const std::string* value) {
  if (value == nullptr || is_blank(*value)) return;
  auto list = email::parse_addresses(*value, 1);
  const std::string name = fmt::format("field {}", field);
  if (list.empty()) {
    e.senders.push_back({name, {"", *value}});
  } else {
    e.senders.push_back({name, std::move(list.front())});
  }
}

std::string first_address(const std::string* value) {
  if (value == nullptr) return {};
  auto list = email::parse_addresses(*value, 1);
  return list.empty() ? *value : list.front().address;
}

// The `attachments` field of Mailgun's stored-message notifications: JSON, with URLs.
error add_stored_attachments(parsed_email& e, const std::string* text) {
  if (text == nullptr || is_blank(*text)) return {};
  SB_TRY(doc, parse_json_value(*text, "field attachments"));
  const json::array* list = doc->if_array();
  if (list == nullptr) return malformed("field attachments must be a JSON list");
  for (const auto& item : *list) {
    const json::object* o = item.if_object();
    if (o == nullptr) return malformed("field attachments must be a JSON list of objects");
    attachment a;
    for (auto [key, out] : {std::pair{"name", &a.name}, std::pair{"content-type", &a.content_type},
                            std::pair{"url", &a.url}})
      if (const json::value* v = o->if_contains(key); v != nullptr && v->is_string())
        *out = std::string(v->get_string());
    if (const json::value* v = o->if_contains("size");
        v != nullptr && v->is_int64() && v->get_int64() >= 0)
      a.size = v->get_int64();
    email::add_attachment(e, std::move(a));
  }
  return {};
}

class mailgun_adapter final : public adapter {
 public:
  mailgun_adapter(std::vector<std::string> keys, std::chrono::seconds tolerance,
                  std::vector<std::string> trusted)
      : keys_(std::move(keys)), tolerance_(tolerance), trusted_(std::move(trusted)) {}

  result<parse_result> receive(const request_view& req) const override {
    const email::content_type ct = email::parse_content_type(req.header("content-type"));
    if (ct.media_type == "application/json") return receive_event(req);
    SB_TRY(f, read_fields(req));
    if (error e = verify(f->exact("timestamp"), f->exact("token"), f->exact("signature"), req.now);
        e.code != errc::ok)
      return e;
    // The signature's digest first: to_result moves the files' bytes into the message.
    signature_use use = signature_of(*f);
    auto out = to_result(std::move(*f));
    if (out) out->signature = std::move(use);
    return out;
  }
  bool keeps_unreadable() const noexcept override { return true; }

  // A kept route post, replayed: its signature (and timestamp) were checked when it arrived.
  result<parse_result> parse_verified(const request_view& req) const override {
    SB_TRY(f, read_fields(req));
    return to_result(std::move(*f));
  }

 private:
  static result<fields> read_fields(const request_view& req);
  result<parse_result> to_result(fields f) const {
    if (!is_message(f)) {
      parse_result out;
      out.ignored = 1;
      return out;
    }
    return email::to_result(to_email(std::move(f)));
  }
  error verify(const std::string* timestamp, const std::string* token, const std::string* signature,
               millis now) const;
  result<parse_result> receive_event(const request_view& req) const;
  result<parsed_email> to_email(fields f) const;
  // A trusted Authentication-Results header, else what Mailgun's spam filter added.
  std::optional<email::auth_evidence> evidence(email::header_list headers) const {
    if (auto e = email::from_authentication_results(headers, trusted_)) return e;
    return email::from_mailgun(headers);
  }

  // Mailgun's signature covers its timestamp and token, not the mail: the token is the key,
  // the fields (file parts by name, type and size: a retry's multipart boundary may differ)
  // are what a replay would change.
  signature_use signature_of(const fields& f) const {
    std::vector<std::string> parts;
    for (const auto& [n, v] : f.values)
      if (n != "timestamp" && n != "token" && n != "signature") parts.push_back(n + '=' + v);
    for (const auto& file : f.files)
      parts.push_back(
          fmt::format("{}/{}/{}/{}", file.name, file.filename, file.content_type, file.size));
    std::sort(parts.begin(), parts.end());
    std::vector<std::string_view> views(parts.begin(), parts.end());
    signature_use use;
    use.key = *f.exact("token");
    use.digest = hex_encode(hmac_sha256_concat("switchboard/replay-digest/v1", views));
    use.expires_at =
        (std::strtoll(f.exact("timestamp")->c_str(), nullptr, 10) + 2 * tolerance_.count()) * 1000;
    return use;
  }

  // A route post always has at least one of these; a signed post without any is one of
  // Mailgun's legacy event notifications (delivered, opened, ...) or something newer.
  static bool is_message(const fields& f) {
    for (const char* name :
         {"from", "sender", "recipient", "body-plain", "body-mime", "message-headers"})
      if (f.exact(name) != nullptr) return true;
    return false;
  }

  std::vector<std::string> keys_;  // webhook signing keys, any of which may sign
  std::chrono::seconds tolerance_;
  std::vector<std::string> trusted_;  // authserv-ids whose Authentication-Results are believed
};

// Either body encoding: urlencoded, or multipart when the mail has attachments.
result<fields> mailgun_adapter::read_fields(const request_view& req) {
  const auto content_type = req.header("content-type");
  const email::content_type ct = email::parse_content_type(content_type);
  fields f;
  if (ct.media_type == "application/x-www-form-urlencoded") {
    auto form = parse_form(req.body);
    if (!form) return malformed("body is not valid application/x-www-form-urlencoded");
    for (auto& field : *form) f.values.emplace_back(std::move(field.name), std::move(field.value));
  } else if (ct.media_type == "multipart/form-data") {
    SB_TRY(parts, email::parse_form_data(*content_type, req.body));
    for (auto& p : *parts) {
      if (p.is_file) {
        f.files.push_back(std::move(p));
      } else {
        f.values.emplace_back(std::move(p.name), std::move(p.value));
      }
    }
  } else {
    return error{errc::unsupported_media_type,
                 "Content-Type must be application/x-www-form-urlencoded or "
                 "multipart/form-data"};
  }
  return f;
}

error mailgun_adapter::verify(const std::string* timestamp, const std::string* token,
                              const std::string* signature, millis now) const {
  if (timestamp == nullptr || timestamp->empty()) return bad_signature("missing field timestamp");
  if (token == nullptr || token->empty()) return bad_signature("missing field token");
  if (signature == nullptr || signature->empty()) return bad_signature("missing field signature");
  if (timestamp->size() > max_timestamp_digits ||
      !std::all_of(timestamp->begin(), timestamp->end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return bad_signature("field timestamp is not a unix time in seconds");
  const std::int64_t signed_at = std::strtoll(timestamp->c_str(), nullptr, 10);
  const std::int64_t now_s = now / 1000;
  if (std::llabs(now_s - signed_at) > tolerance_.count())
    return bad_signature("field timestamp is outside the tolerance (a replay, or a clock is off)");
  const auto expected = hex_decode(*signature);
  if (!expected || expected->size() != sha256_bytes)
    return bad_signature("field signature is not a hex HMAC-SHA256");
  const std::string_view parts[] = {*timestamp, *token};
  bool match = false;
  for (const auto& key : keys_)
    match |= constant_time_equal(hmac_sha256_concat(key, parts), *expected);
  if (!match) return bad_signature("signature does not match");
  return {};
}

// Mailgun's event webhooks: {"signature": {"timestamp", "token", "signature"}, "event-data": {..}}.
// Authenticated like a route post, then counted as ignored: they are not customer messages.
// What an event says of a mail the business sent (an agent's reply, whose Message-ID is its
// provider id): delivered; opened (the tracking pixel, when the domain tracks opens) as read;
// failed for good (severity permanent) with the receiving server's words. Temporary failures
// (Mailgun retries) and other events say nothing new.
std::optional<delivery_status> event_status(const json::object& data) {
  const auto text = [](const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const std::string event = text(data, "event");
  delivery_status d;
  if (event == "delivered")
    d.status = "delivered";
  else if (event == "opened")
    d.status = "read";
  else if (event == "failed" && text(data, "severity") == "permanent")
    d.status = "failed";
  else
    return std::nullopt;
  const auto* message = data.if_contains("message");
  const auto* headers =
      message && message->is_object() ? message->get_object().if_contains("headers") : nullptr;
  if (headers == nullptr || !headers->is_object()) return std::nullopt;
  std::string kept = text(headers->get_object(), "message-id");
  if (kept.size() > 2 && kept.front() == '<' && kept.back() == '>')
    kept = kept.substr(1, kept.size() - 2);
  if (kept.empty() || kept.size() > 998) return std::nullopt;
  d.provider_id = std::move(kept);
  // Unix seconds with a fraction; one outside 1970..5138 is not a time (and a double past
  // int64's range would be undefined to convert).
  if (const auto* ts = data.if_contains("timestamp"); ts && (ts->is_double() || ts->is_int64()))
    if (const double s = ts->is_double() ? ts->get_double() : static_cast<double>(ts->get_int64());
        s > 0 && s < 1e11)
      d.at = static_cast<millis>(s * 1000);
  if (d.status == "failed") {
    const auto* ds = data.if_contains("delivery-status");
    const json::object empty;
    const json::object& s = ds && ds->is_object() ? ds->get_object() : empty;
    const auto* code = s.if_contains("code");
    std::string words = text(s, "message");
    if (words.empty()) words = text(s, "description");
    if (words.empty()) words = text(data, "reason");
    d.reason = code && code->is_int64() ? fmt::format("({}) {}", code->as_int64(), words) : words;
  }
  return d;
}

result<parse_result> mailgun_adapter::receive_event(const request_view& req) const {
  SB_TRY(doc, parse_json_value(req.body, "body"));
  const json::object* body = doc->if_object();
  if (body == nullptr) return malformed("body must be a JSON object");
  const json::value* sig = body->if_contains("signature");
  if (sig == nullptr || !sig->is_object()) return bad_signature("missing field signature");
  const json::object& s = sig->get_object();
  const std::string timestamp = scalar_text(s.if_contains("timestamp"));
  const std::string token = scalar_text(s.if_contains("token"));
  const std::string signature = scalar_text(s.if_contains("signature"));
  if (error e = verify(&timestamp, &token, &signature, req.now); e.code != errc::ok) return e;
  parse_result out;
  out.ignored = 1;
  if (const auto* data = body->if_contains("event-data"); data && data->is_object())
    if (auto st = event_status(data->get_object())) out.statuses.push_back(std::move(*st));
  // Remembered like a route post's: a captured event triple must not sign a forged mail.
  signature_use use;
  use.key = token;
  use.digest = hex_encode(hmac_sha256("switchboard/replay-digest/v1", req.body));
  use.expires_at = (std::strtoll(timestamp.c_str(), nullptr, 10) + 2 * tolerance_.count()) * 1000;
  out.signature = std::move(use);
  return out;
}

result<parsed_email> mailgun_adapter::to_email(fields f) const {
  // Raw MIME (a route URL ending in "mime"): the whole message in body-mime.
  if (const std::string* mime = f.exact("body-mime")) {
    SB_TRY(e, email::parse_mime_message(*mime, "field body-mime"));
    if (e->senders.empty()) {
      add_sender(*e, "from", f.exact("from"));
      add_sender(*e, "sender", f.exact("sender"));
    }
    e->recipient = first_address(f.exact("recipient"));
    e->auth = evidence(e->trace_headers);
    return e;
  }

  parsed_email e;
  e.primary_sender_field = "field from";
  e.recipient = first_address(f.exact("recipient"));

  SB_TRY(headers, parse_message_headers(f.exact("message-headers")));
  // Only message-headers keeps the order that tells Mailgun's verdict from a copy in the mail.
  e.auth = evidence(*headers);
  // A header field as posted, else from message-headers; a blank one counts as absent.
  const auto header = [&](std::string_view name) -> const std::string* {
    if (const std::string* v = f.header(name); v != nullptr && !is_blank(*v)) return v;
    for (const auto& [n, v] : *headers)
      if (ascii_iequals(n, name) && !is_blank(v)) return &v;
    return nullptr;
  };
  // The author is the From header: Mailgun's `from` field, else the From among the mail's
  // headers. `sender` is the envelope's MAIL FROM (a bounce address, a mailing service): the
  // sender only when the mail names no author at all.
  const std::string* from = f.exact("from");
  add_sender(e, "from", from);
  if (from == nullptr || is_blank(*from)) add_sender(e, "message-headers From", header("From"));
  add_sender(e, "sender", f.exact("sender"));

  if (const std::string* v = header("To")) e.to = email::parse_addresses(*v);
  if (const std::string* v = header("Cc")) e.cc = email::parse_addresses(*v);
  if (const std::string* v = f.exact("subject")) {
    e.subject = *v;
  } else if (const std::string* h = header("Subject")) {
    e.subject = email::decode_header_text(*h);
  }
  if (const std::string* v = f.exact("body-plain")) e.text = *v;
  if (const std::string* v = f.exact("body-html")) e.html = *v;
  if (const std::string* v = f.exact("stripped-text")) e.stripped_text = *v;
  // The separate fields first, message-headers (the same headers, raw) as the fallback.
  header_list threading;
  for (const char* name : {"Message-Id", "In-Reply-To", "References", "Date", "Content-Type"})
    if (const std::string* v = header(name)) threading.emplace_back(name, *v);
  for (const std::string_view name : email::auto_reply_headers)
    if (const std::string* v = header(name)) threading.emplace_back(name, *v);
  email::apply_headers(e, threading);

  for (auto& file : f.files) {
    attachment a;
    a.name = std::move(file.filename);
    a.content_type = std::move(file.content_type);
    a.size = file.size;
    a.bytes = std::move(file.value);
    email::add_attachment(e, std::move(a));
  }
  if (error err = add_stored_attachments(e, f.exact("attachments")); err.code != errc::ok)
    return err;
  return e;
}

}  // namespace

result<std::unique_ptr<adapter>> make_mailgun_adapter(const channel_config& cfg) {
  if (cfg.secrets.empty())
    return error{errc::malformed,
                 "a mailgun channel needs a secret: the domain's HTTP webhook signing key"};
  for (const auto& s : cfg.secrets)
    if (s.empty()) return error{errc::malformed, "a mailgun signing key must not be empty"};
  email::init_gmime();
  return std::unique_ptr<adapter>(std::make_unique<mailgun_adapter>(
      cfg.secrets, cfg.tolerance, email::trusted_authserv_id_option(cfg)));
}

}  // namespace sb
