// `sendgrid`: one inbound mail per request from SendGrid's Inbound Parse webhook.
// The request pipeline, in order, and why each step sits where it does:
//   1. HTTP basic auth (password = a configured secret, user = `username` when set): nothing
//      in the request is looked at before it is authenticated: 401;
//   2. Content-Type: multipart/form-data; application/json is SendGrid's Event Webhook
//      (delivery events, not customer messages): counted as ignored. Anything else: 415;
//   3. multipart parse with GMime: 400;
//   4. raw mode (`email` holds the MIME message): parsed like the `mime` type; parsed mode:
//      fields converted from their `charsets` to UTF-8, threading headers read from the raw
//      `headers` block, attachments from the file parts and `attachment-info`. The JSON side
//      fields (`charsets`, `envelope`, `attachment-info`) only help: one that cannot be read is
//      left out. A mail that cannot be read is kept as unreadable, answered 202
//      (email::to_result): SendGrid retries a refused post for three days, then drops it.
#include "channels/sendgrid/sendgrid.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/text.hpp"
#include "channels/email/email.hpp"
#include "channels/json_body.hpp"

#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;
using email::parsed_email;

// A secret in a URL's userinfo: long enough not to be guessed.
constexpr std::size_t min_secret_bytes = 16;

// An optional JSON object field ("charsets", "envelope", "attachment-info"); empty when absent
// or not a JSON object (the mail is read without it).
json::object json_object_field(const email::form_part* f) {
  if (f == nullptr || is_blank(f->value)) return json::object{};
  auto doc = parse_json_value(f->value, "field");
  if (!doc) return json::object{};
  if (json::object* o = doc->if_object()) return std::move(*o);
  return json::object{};
}

std::string string_member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string{};
}

class form_fields {
 public:
  explicit form_fields(std::vector<email::form_part> parts) {
    for (auto& p : parts) {
      if (p.is_file) {
        files_.push_back(std::move(p));
      } else {
        values_.push_back(std::move(p));
      }
    }
  }

  const email::form_part* get(std::string_view name) const {
    for (const auto& p : values_)
      if (p.name == name) return &p;
    return nullptr;
  }
  // Mutable: the files' bytes are moved into the message's attachments.
  std::vector<email::form_part>& files() { return files_; }

  // The field's text in UTF-8: the part's own charset, else what `charsets` says, else UTF-8.
  std::string text(std::string_view name, const json::object& charsets) const {
    const email::form_part* p = get(name);
    if (p == nullptr) return {};
    std::string charset = p->charset;
    if (charset.empty()) charset = string_member(charsets, name);
    if (charset.empty()) charset = "utf-8";
    return email::to_utf8(p->value, charset);
  }

 private:
  std::vector<email::form_part> values_;
  std::vector<email::form_part> files_;
};

void add_sender(parsed_email& e, std::string field, std::string_view value) {
  if (is_blank(value)) return;
  auto list = email::parse_addresses(value, 1);
  if (list.empty()) {
    e.senders.push_back({std::move(field), {"", std::string(value)}});
  } else {
    e.senders.push_back({std::move(field), std::move(list.front())});
  }
}

// What an Event Webhook event says of a mail the business sent (an agent's reply, whose provider
// id is the X-Message-Id SendGrid answered; the event's sg_message_id starts with it, then
// ".filter..."): delivered; open (the tracking pixel, when open tracking is on) as read; bounce
// and dropped as failed with SendGrid's reason. deferred (SendGrid retries) and the others say
// nothing new.
std::optional<delivery_status> event_status(const json::object& e) {
  const auto text = [&](std::string_view key) {
    const auto* v = e.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const std::string event = text("event");
  delivery_status d;
  if (event == "delivered")
    d.status = "delivered";
  else if (event == "open")
    d.status = "read";
  else if (event == "bounce" || event == "dropped")
    d.status = "failed";
  else
    return std::nullopt;
  std::string id = text("sg_message_id");
  id = id.substr(0, id.find('.'));
  if (id.empty() || id.size() > 256) return std::nullopt;
  d.provider_id = std::move(id);
  // Unix seconds; one outside 1970..5138 is not a time (and would overflow in milliseconds).
  if (const auto* ts = e.if_contains("timestamp");
      ts && ts->is_int64() && ts->get_int64() > 0 && ts->get_int64() < 100'000'000'000)
    d.at = ts->get_int64() * 1000;
  if (d.status == "failed") {
    const std::string status = text("status");
    d.reason = fmt::format("{}{}{}", event, status.empty() ? "" : " " + status,
                           text("reason").empty() ? "" : ": " + text("reason"));
  }
  return d;
}

class sendgrid_adapter final : public email::basic_auth_adapter {
 public:
  using basic_auth_adapter::basic_auth_adapter;

  result<parse_result> parse_verified(const request_view& req) const override {
    const auto content_type = req.header("content-type");
    const email::content_type ct = email::parse_content_type(content_type);
    parse_result out;
    if (ct.media_type == "application/json") {
      SB_TRY(events, parse_json_value(req.body, "body"));
      if (const json::array* list = events->if_array()) {
        out.ignored = list->size();
        for (const auto& e : *list)
          if (const json::object* o = e.if_object())
            if (auto st = event_status(*o)) out.statuses.push_back(std::move(*st));
      } else if (events->is_object()) {
        out.ignored = 1;
      } else {
        return malformed("body must be a JSON list of events");
      }
      return out;
    }
    if (ct.media_type != "multipart/form-data")
      return error{errc::unsupported_media_type, "Content-Type must be multipart/form-data"};
    SB_TRY(parts, email::parse_form_data(*content_type, req.body));
    return email::to_result(to_email(form_fields(std::move(*parts))));
  }

 private:
  result<parsed_email> to_email(form_fields f) const;
};

result<parsed_email> sendgrid_adapter::to_email(form_fields f) const {
  const json::object envelope = json_object_field(f.get("envelope"));
  std::string envelope_to;
  if (const json::value* to = envelope.if_contains("to")) {
    if (const json::array* list = to->if_array();
        list != nullptr && !list->empty() && (*list)[0].is_string())
      envelope_to = std::string((*list)[0].get_string());
    else if (to->is_string())
      envelope_to = std::string(to->get_string());
  }
  const std::string envelope_from = string_member(envelope, "from");

  // SendGrid's own SPF and DKIM results, in fields of the post (both modes): the headers it
  // passes on are sorted by name, so no Authentication-Results among them can be told from one
  // the sender wrote.
  const auto field_text = [&f](std::string_view name) {
    const email::form_part* p = f.get(name);
    return p == nullptr ? std::string_view() : std::string_view(p->value);
  };
  auto auth = email::from_sendgrid(field_text("SPF"), field_text("dkim"));

  // Raw mode: the whole message, parsed like the `mime` type.
  if (const email::form_part* raw = f.get("email")) {
    SB_TRY(e, email::parse_mime_message(raw->value, "field email"));
    add_sender(*e, "field envelope.from", envelope_from);
    e->recipient = envelope_to;
    e->auth = std::move(auth);
    return e;
  }

  const json::object charsets = json_object_field(f.get("charsets"));

  // The raw header block carries what the parsed fields leave out: Message-ID, In-Reply-To,
  // References, Date, and the From/To/Cc headers as a fallback.
  parsed_email headers;
  if (const email::form_part* h = f.get("headers"); h != nullptr && !is_blank(h->value)) {
    // Only a help as well: the parsed fields still make a mail without it.
    if (auto parsed = email::parse_mime_message(h->value + "\r\n\r\n", "field headers"))
      headers = std::move(*parsed);
  }

  parsed_email e;
  e.primary_sender_field = "field from";
  add_sender(e, "field from", f.text("from", charsets));
  for (auto& c : headers.senders) e.senders.push_back({"field headers (" + c.field + ")", c.from});
  add_sender(e, "field envelope.from", envelope_from);

  const std::string to = f.text("to", charsets);
  e.to = is_blank(to) ? std::move(headers.to) : email::parse_addresses(to);
  const std::string cc = f.text("cc", charsets);
  e.cc = is_blank(cc) ? std::move(headers.cc) : email::parse_addresses(cc);
  e.recipient = envelope_to;

  if (f.get("subject") != nullptr) {
    // SendGrid passes the subject as written in the header: encoded words may remain.
    e.subject = email::decode_header_text(f.text("subject", charsets));
  } else {
    e.subject = std::move(headers.subject);
  }
  e.text = f.text("text", charsets);
  e.html = f.text("html", charsets);
  e.message_id = std::move(headers.message_id);
  e.in_reply_to = std::move(headers.in_reply_to);
  e.references = std::move(headers.references);
  e.sent_at = headers.sent_at;
  e.is_report = headers.is_report;
  e.auto_reply_reason = std::move(headers.auto_reply_reason);
  e.auth = std::move(auth);

  const json::object info = json_object_field(f.get("attachment-info"));
  for (auto& file : f.files()) {
    attachment a;
    a.name = std::move(file.filename);
    a.content_type = std::move(file.content_type);
    a.size = file.size;
    a.bytes = std::move(file.value);
    if (const json::value* v = info.if_contains(file.name); v != nullptr && v->is_object()) {
      const json::object& meta = v->get_object();
      if (a.name.empty()) a.name = string_member(meta, "filename");
      if (a.name.empty()) a.name = string_member(meta, "name");
      if (a.content_type.empty()) a.content_type = string_member(meta, "type");
    }
    email::add_attachment(e, std::move(a));
  }
  return e;
}

}  // namespace

result<std::unique_ptr<adapter>> make_sendgrid_adapter(const channel_config& cfg) {
  SB_TRY(auth, email::basic_auth_channel(cfg, "sendgrid", min_secret_bytes));
  return std::unique_ptr<adapter>(std::make_unique<sendgrid_adapter>(std::move(*auth)));
}

}  // namespace sb
