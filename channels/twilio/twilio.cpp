// `twilio`: SMS/MMS and voice webhooks. The request pipeline, in order, and why each step sits
// where it does:
//   1. X-Twilio-Signature present: 401;
//   2. the body read as a form: the signature covers the decoded parameters, so reading them is
//      part of verifying. A body that is not a form cannot carry Twilio's signature: 401;
//   3. the signature: base64(HMAC-SHA1(auth token, public URL + query + sorted name/value
//      pairs)), any configured token, the URL with and without its default port (Twilio's own
//      validators accept both, since its signing side is not consistent about the port): 401;
//   4. Content-Type: application/x-www-form-urlencoded (charset, if any, utf-8): 415;
//   5. every parameter valid UTF-8 (text goes to agents verbatim): 400;
//   6. classification (SMS, voice, status callbacks) and mapping; a request that cannot be read
//      (a field missing or out of range) is kept as unreadable, answered with TwiML: Twilio
//      does not retry a refused webhook, so a 400 would lose the message.
// Every success, ignored events included, is answered with an empty TwiML <Response/>: Twilio
// logs an error for a voice or SMS webhook that answers anything else.
#include "channels/twilio/twilio.hpp"

#include "channels/common/content_type.hpp"
#include "channels/common/errors.hpp"
#include "channels/common/limits.hpp"
#include "channels/content.hpp"
#include "channels/crypto.hpp"
#include "channels/form.hpp"
#include "channels/normalize.hpp"
#include "channels/unreadable.hpp"
#include "core/ascii.hpp"

#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

constexpr std::string_view signature_header = "X-Twilio-Signature";
constexpr std::string_view form_type = "application/x-www-form-urlencoded";
constexpr std::string_view twiml_empty = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";
// Twilio sends at most 10 media per message; anything past this bound is not Twilio's.
constexpr std::size_t max_media = 100;
constexpr std::size_t sha1_bytes = 20;

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t more = 0;
    std::uint32_t cp = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      more = 1;
      cp = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      cp = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      cp = lead & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i <= more) return false;
    for (std::size_t k = 1; k <= more; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0u) != 0x80u) return false;
      cp = (cp << 6) | (b & 0x3fu);
    }
    if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += more + 1;
  }
  return true;
}

// ---- config -------------------------------------------------------------------------------

result<std::vector<std::string>> auth_tokens(const std::vector<std::string>& configured) {
  if (configured.empty())
    return malformed(
        "a twilio channel needs a secret: the account's Auth Token (secret or secret_file)");
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < configured.size(); ++i) {
    const std::string_view token = ascii_trim(configured[i]);
    if (token.empty())
      return malformed(configured.size() == 1
                           ? std::string("secret is empty")
                           : fmt::format("secret {} of {} is empty", i + 1, configured.size()));
    tokens.emplace_back(token);
  }
  return tokens;
}

// The URL as configured, and the same URL with its port added (the scheme's default) or
// removed: the two spellings Twilio may have signed.
result<std::vector<std::string>> public_urls(const channel_config& cfg) {
  const auto it = cfg.options.find("public_url");
  if (it == cfg.options.end() || ascii_trim(it->second).empty())
    return malformed(fmt::format(
        "a twilio channel needs public_url: the URL Twilio calls, as entered in the Twilio "
        "console (e.g. https://example.com/v1/webhooks/{})",
        cfg.name));
  const std::string_view text = ascii_trim(it->second);
  auto parsed = boost::urls::parse_uri(text);  // absolute, fragment allowed (refused below)
  if (!parsed) return malformed(fmt::format("public_url \"{}\" is not an absolute URL", text));
  const boost::urls::url_view& u = *parsed;
  const bool https = u.scheme_id() == boost::urls::scheme::https;
  if (!https && u.scheme_id() != boost::urls::scheme::http)
    return malformed(fmt::format("public_url \"{}\" must start with https:// or http://", text));
  if (!u.has_authority() || u.encoded_host().empty())
    return malformed(fmt::format("public_url \"{}\" has no host", text));
  if (u.has_query() || u.has_fragment())
    return malformed(fmt::format(
        "public_url \"{}\" must not have a query or fragment: the query string of each request "
        "is appended to it",
        text));
  std::vector<std::string> urls{std::string(text)};
  boost::urls::url other(u);
  if (other.has_port())
    other.remove_port();
  else
    other.set_port_number(https ? 443 : 80);
  urls.emplace_back(other.buffer());
  return urls;
}

// ---- form readers ----------------------------------------------------------------------------

// Twilio sends optional parameters empty as often as it leaves them out: both are "absent".
const std::string* value(const form& f, std::string_view name) noexcept {
  const std::string* v = form_value(f, name);
  return v == nullptr || v->empty() ? nullptr : v;
}

const std::string* first_value(const form& f, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names)
    if (const std::string* v = value(f, name)) return v;
  return nullptr;
}

result<std::string> bounded_id(const std::string& id, std::string_view name) {
  if (id.size() > max_id_bytes)
    return malformed(fmt::format("field {} must be at most {} bytes", name, max_id_bytes));
  return id;
}

std::optional<std::int64_t> whole_number(std::string_view s) noexcept {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// A file kept at Twilio (a MediaUrl, a RecordingUrl): fetched from its URL with the account's
// credentials (channels/fetch.hpp, kind "twilio").
attachment twilio_file(std::string name, std::string content_type, const std::string& url) {
  attachment a{std::move(name), std::move(content_type), std::nullopt, url};
  a.fetch_kind = "twilio";
  a.fetch_ref = url;
  return a;
}

json::value string_or_null(const std::string* s) {
  return s == nullptr ? json::value(nullptr) : json::value(*s);
}

// What a voice webhook carries, most specific first: a transcription callback also names the
// recording; a <Record> action also carries Digits (the key that ended the recording).
enum class voice_kind { transcription, recording, speech, digits, missed };

struct voice_kind_info {
  std::string_view id_suffix;  // CallSid + ":" + suffix: one message per kind of webhook
  std::string_view reason;     // callback.reason, and the text when there is no transcript
};

voice_kind_info describe_kind(voice_kind k) noexcept {
  switch (k) {
    case voice_kind::transcription:
      return {"transcription", "voicemail"};
    case voice_kind::recording:
      return {"recording", "voicemail"};
    case voice_kind::speech:
      return {"speech", "ivr input"};
    case voice_kind::digits:
      return {"digits", "ivr input"};
    case voice_kind::missed:
      break;
  }
  return {"missed", "missed call"};
}

// What a status callback says about a message the business sent (an agent's reply,
// channels/twilio/send.cpp): sent, delivered, read, or failed (failed and undelivered) with the
// error code. nullopt for an inbound message, and for the steps before sent (accepted, queued,
// sending), which tell nothing the reply's status does not already say.
std::optional<delivery_status> status_callback(const form& f) {
  const std::string* sid = first_value(f, {"MessageSid", "SmsSid"});
  const std::string* status = first_value(f, {"MessageStatus", "SmsStatus"});
  if (sid == nullptr || status == nullptr || *status == "received" || sid->empty() ||
      sid->size() > 64)
    return std::nullopt;
  delivery_status d{*sid, *status, std::nullopt, {}, std::nullopt};
  if (*status == "failed" || *status == "undelivered") {
    d.status = "failed";
    const std::string* code = value(f, "ErrorCode");
    const std::string* message = value(f, "ErrorMessage");
    // The codes a reply fails with most (https://www.twilio.com/docs/api/errors).
    static constexpr std::pair<std::string_view, std::string_view> known[] = {
        {"30003", "Unreachable destination handset"},
        {"30004", "Message blocked"},
        {"30005", "Unknown destination handset"},
        {"30006", "Landline or unreachable carrier"},
        {"30007", "Message filtered"},
        {"30008", "Unknown error"},
        {"63016", "outside the allowed window: only a template may be sent"}};
    std::string_view words = message != nullptr ? std::string_view(*message) : std::string_view();
    for (const auto& [c, w] : known)
      if (words.empty() && code != nullptr && *code == c) words = w;
    d.reason =
        fmt::format("{}({}) {}", code != nullptr && *code == "63016" ? "window_closed: " : "",
                    code != nullptr ? std::string_view(*code) : std::string_view("?"),
                    words.empty() ? std::string_view(*status) : words);
  } else if (*status != "sent" && *status != "delivered" && *status != "read") {
    return std::nullopt;
  }
  return d;
}

// ---- the adapter -------------------------------------------------------------------------

using maybe_message = std::optional<inbound_message>;  // nullopt: an event to ignore

class twilio_adapter final : public adapter {
 public:
  twilio_adapter(std::string channel, std::vector<std::string> tokens,
                 std::vector<std::string> urls, std::string default_country)
      : channel_(std::move(channel)),
        tokens_(std::move(tokens)),
        urls_(std::move(urls)),
        default_country_(std::move(default_country)) {}

  // The signature covers the URL and the body's parameters: only its presence is known here.
  error check_head(const request_view& head) const override {
    const auto signature = head.header(signature_header);
    if (!signature || ascii_trim(*signature).empty())
      return {errc::bad_signature, "missing header X-Twilio-Signature"};
    return {};
  }
  result<parse_result> receive(const request_view& req) const override {
    if (error e = check_head(req); e.code != errc::ok) return e;
    const auto signature = req.header(signature_header);
    const std::optional<form> params = parse_form(req.body);
    if (!params || !signature_matches(*signature, *params, req.target))
      return error{errc::bad_signature, "signature does not match"};
    if (error e = check_media_type(req.header("content-type"), form_type); e.code != errc::ok)
      return e;
    return read(*params);  // the form is parsed once
  }
  bool keeps_unreadable() const noexcept override { return true; }

  result<parse_result> parse_verified(const request_view& req) const override {
    if (error e = check_media_type(req.header("content-type"), form_type); e.code != errc::ok)
      return e;
    const std::optional<form> params = parse_form(req.body);
    if (!params) return malformed("body is not valid application/x-www-form-urlencoded");
    return read(*params);
  }

 private:
  // The verified form's message, or what cannot be read of it kept.
  result<parse_result> read(const form& params) const {
    for (const form_field& f : params) {
      if (!valid_utf8(f.name)) return malformed("a field name is not valid UTF-8");
      if (!valid_utf8(f.value))
        return malformed(fmt::format("field {} is not valid UTF-8", f.name));
    }
    parse_result out;
    if (auto st = status_callback(params)) {
      out.statuses.push_back(std::move(*st));
      out.ignored = 1;
      out.ack = http_answer{200, "text/xml", std::string(twiml_empty)};
      return out;
    }
    read_or_keep(out, "body", nullptr, [&]() -> error {
      SB_TRY(msg, classify(params));
      if (*msg)
        out.messages.push_back(std::move(**msg));
      else
        out.ignored = 1;
      return {};
    });
    out.ack = http_answer{200, "text/xml", std::string(twiml_empty)};
    return out;
  }
  bool signature_matches(std::string_view header, const form& params,
                         std::string_view target) const;
  result<maybe_message> classify(const form& f) const;
  result<maybe_message> sms(const form& f, const std::string& sid) const;
  result<maybe_message> voice(const form& f, const std::string& call_sid) const;
  std::optional<std::string> add_caller(const std::string& from, inbound_message& msg) const;

  std::string channel_;
  std::vector<std::string> tokens_;  // auth tokens, any of which may sign (rotation)
  std::vector<std::string> urls_;    // public_url as configured, and with/without its port
  std::string default_country_;      // ISO alpha-2 or empty
};

bool twilio_adapter::signature_matches(std::string_view header, const form& params,
                                       std::string_view target) const {
  const auto offered = base64_decode(ascii_trim(header));
  if (!offered || offered->size() != sha1_bytes) return false;

  // Sorted by name, then by value for a repeated name (as Twilio's own validators do).
  // std::string compares bytes as unsigned, which is code point order for UTF-8.
  std::vector<const form_field*> sorted;
  sorted.reserve(params.size());
  for (const form_field& f : params) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const form_field* a, const form_field* b) {
    return std::tie(a->name, a->value) < std::tie(b->name, b->value);
  });

  // The query string exactly as received: Twilio signs the URL it requested, encoding and all.
  const auto q = target.find('?');
  const std::string_view query =
      q == std::string_view::npos ? std::string_view{} : target.substr(q);

  std::vector<std::string_view> parts;
  parts.reserve(2 + 2 * sorted.size());
  parts.emplace_back();  // the URL, set per candidate below
  parts.push_back(query);
  for (const form_field* f : sorted) {
    parts.push_back(f->name);
    parts.push_back(f->value);
  }
  bool match = false;
  for (const std::string& url : urls_) {
    parts.front() = url;
    for (const std::string& token : tokens_) {
      const std::string expected = hmac_sha1_concat(token, parts);
      // No early exit: every candidate costs the same, matching or not.
      if (!expected.empty() && constant_time_equal(expected, *offered)) match = true;
    }
  }
  return match;
}

result<maybe_message> twilio_adapter::classify(const form& f) const {
  if (const std::string* sid = first_value(f, {"MessageSid", "SmsMessageSid", "SmsSid"})) {
    SB_TRY(id, bounded_id(*sid, "MessageSid"));
    return sms(f, *id);
  }
  if (const std::string* sid = value(f, "CallSid")) {
    SB_TRY(id, bounded_id(*sid, "CallSid"));
    return voice(f, *id);
  }
  // Authenticated, but neither a message nor a call (Conversations, TaskRouter, Studio events
  // pointed at the wrong URL): nothing for an agent.
  return maybe_message{};
}

// The caller's number as identities; returns its E.164 form. A WhatsApp sender (Twilio's
// "whatsapp:+15550102000") is also recorded as a whatsapp identity, as the WhatsApp channel
// records it. A caller that is not a phone number (anonymous, a SIP or client address) is kept
// for the agent as invalid_phone and gives no identity.
// Before May 2023 Twilio spelled a withheld caller id as keypad digits of the word: ANONYMOUS,
// RESTRICTED, UNAVAILABLE, BLOCKED. They pass as phone numbers, and every such caller would be
// one customer nobody can call back.
bool withheld_caller(std::string_view number) noexcept {
  for (const std::string_view placeholder :
       {"+266696687", "+7378742833", "+86282452253", "+2562533"})
    if (number == placeholder) return true;
  return false;
}

std::optional<std::string> twilio_adapter::add_caller(const std::string& from,
                                                      inbound_message& msg) const {
  std::string_view number = from;
  constexpr std::string_view whatsapp = "whatsapp:";
  const bool is_whatsapp = number.starts_with(whatsapp);
  if (is_whatsapp) number.remove_prefix(whatsapp.size());
  auto e164 = normalize_phone(number, default_country_);
  if (!e164 || withheld_caller(*e164)) {
    msg.extra["invalid_phone"] = from;
    return std::nullopt;
  }
  if (is_whatsapp) msg.identities.push_back({"whatsapp", e164->substr(1)});
  msg.identities.push_back({"phone", *e164});
  return e164;
}

// A coordinate Twilio sends as text ("56.9496"): nullopt when it is not a number.
std::optional<double> coordinate(const std::string* text) {
  if (text == nullptr) return std::nullopt;
  double v = 0;
  const char* first = text->data();
  const char* last = first + text->size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return v;
}

// What WhatsApp messages carry through Twilio besides Body and media: a shared location
// (Latitude, Longitude, Address, Label), the button the customer tapped (ButtonText,
// ButtonPayload), the message replied to (OriginalRepliedMessageSid).
error whatsapp_extras(const form& f, inbound_message& msg) {
  const std::string* lat_text = value(f, "Latitude");
  const std::string* lon_text = value(f, "Longitude");
  if (lat_text != nullptr || lon_text != nullptr) {
    const auto lat = coordinate(lat_text);
    const auto lon = coordinate(lon_text);
    if (!lat || !lon || !valid_coordinates(*lat, *lon))
      return malformed("fields Latitude and Longitude must be coordinates");
    place p{*lat, *lon, {}, {}, {}};
    if (const std::string* label = value(f, "Label")) p.name = *label;
    if (const std::string* address = value(f, "Address")) p.address = *address;
    add_place(msg, p);
  }
  if (const std::string* payload = value(f, "ButtonPayload")) {
    json::object button{{"type", "button"}, {"id", *payload}};
    if (const std::string* text = value(f, "ButtonText")) {
      button["title"] = *text;
      if (msg.text.empty()) msg.text = *text;
    }
    msg.extra["interactive"] = std::move(button);
  }
  if (const std::string* replied = value(f, "OriginalRepliedMessageSid"))
    msg.extra["reply_to"] = *replied;
  return {};
}

// Twilio writes a WhatsApp address as "whatsapp:+14155238886": the number is the recipient.
std::string without_whatsapp_prefix(std::string_view address) {
  constexpr std::string_view prefix = "whatsapp:";
  if (address.starts_with(prefix)) address.remove_prefix(prefix.size());
  return std::string(address);
}

result<maybe_message> twilio_adapter::sms(const form& f, const std::string& sid) const {
  // Inbound messages arrive with SmsStatus "received"; anything else is a status callback
  // about a message the business sent (queued, sent, delivered, read, failed, ...).
  if (const std::string* status = first_value(f, {"MessageStatus", "SmsStatus"});
      status != nullptr && *status != "received")
    return maybe_message{};
  const std::string* body = form_value(f, "Body");  // present, maybe empty, in every inbound
  const std::string* num_media = value(f, "NumMedia");
  if (body == nullptr && num_media == nullptr) return maybe_message{};

  const std::string* from = value(f, "From");
  if (from == nullptr) return malformed("field From is required");

  inbound_message msg;
  msg.provider_id = sid;
  add_caller(*from, msg);
  if (const std::string* to = value(f, "To")) msg.recipient = without_whatsapp_prefix(*to);
  if (body != nullptr) msg.text = *body;
  // WhatsApp through Twilio: the sender's WhatsApp profile name, and what else WhatsApp carries.
  if (const std::string* name = value(f, "ProfileName")) msg.sender_name = *name;
  if (error e = whatsapp_extras(f, msg); e.code != errc::ok) return e;

  if (num_media != nullptr) {
    const auto n = whole_number(*num_media);
    if (!n || *n > static_cast<std::int64_t>(max_media))
      return malformed(
          fmt::format("field NumMedia must be a whole number from 0 to {}", max_media));
    for (std::int64_t i = 0; i < *n; ++i) {
      const std::string url_name = fmt::format("MediaUrl{}", i);
      const std::string* url = value(f, url_name);
      if (url == nullptr) return malformed(fmt::format("field {} is required", url_name));
      const std::string* type = value(f, fmt::format("MediaContentType{}", i));
      msg.attachments.push_back(twilio_file({}, type ? *type : std::string(), *url));
    }
  }
  // An empty SMS tells an agent nothing.
  if (msg.text.empty() && msg.attachments.empty() && !msg.extra.contains("location"))
    return maybe_message{};

  json::object twilio;
  twilio["message_sid"] = sid;
  if (const std::string* type = value(f, "MessageType")) twilio["message_type"] = *type;
  if (const std::string* account = value(f, "AccountSid")) twilio["account_sid"] = *account;
  msg.extra["twilio"] = std::move(twilio);
  return maybe_message{std::move(msg)};
}

result<maybe_message> twilio_adapter::voice(const form& f, const std::string& call_sid) const {
  // Calls the business placed (outbound-api, outbound-dial) only report their progress.
  if (const std::string* direction = value(f, "Direction");
      direction != nullptr && direction->starts_with("outbound"))
    return maybe_message{};
  // recordingStatusCallback requests name no caller; the <Record> action request does.
  if (value(f, "RecordingStatus") != nullptr) return maybe_message{};

  const std::string* transcript = nullptr;
  const std::string* digits = nullptr;
  voice_kind kind = voice_kind::missed;
  if (value(f, "TranscriptionStatus") != nullptr || value(f, "TranscriptionText") != nullptr) {
    // A failed transcription: the recording itself reached us through the <Record> action.
    const std::string* status = value(f, "TranscriptionStatus");
    transcript = value(f, "TranscriptionText");
    if ((status != nullptr && *status != "completed") || transcript == nullptr)
      return maybe_message{};
    kind = voice_kind::transcription;
  } else if (value(f, "RecordingUrl") != nullptr) {
    kind = voice_kind::recording;  // Digits here is the key that ended the recording
  } else if (const std::string* speech = value(f, "SpeechResult")) {
    kind = voice_kind::speech;
    transcript = speech;
    digits = value(f, "Digits");
  } else if ((digits = value(f, "Digits")) != nullptr) {
    kind = voice_kind::digits;
  } else if (const std::string* dial = value(f, "DialCallStatus");
             dial != nullptr && (*dial == "completed" || *dial == "answered")) {
    return maybe_message{};  // a <Dial> reached someone: the call was answered
  }

  const std::string* from = value(f, "From");
  if (from == nullptr) return malformed("field From is required");

  const voice_kind_info info = describe_kind(kind);
  inbound_message msg;
  msg.provider_id = call_sid + ":" + std::string(info.id_suffix);
  const std::optional<std::string> phone = add_caller(*from, msg);
  if (const std::string* to = value(f, "To")) msg.recipient = *to;
  msg.text = transcript != nullptr ? *transcript : std::string(info.reason);
  // "missed call", "voicemail": Switchboard's words, not the caller's language.
  if (transcript == nullptr) msg.generated_text_from = 0;

  const std::string* recording = value(f, "RecordingUrl");
  if (recording != nullptr) {
    // Fetched without an extension, a Twilio recording is served as WAV.
    msg.attachments.push_back(twilio_file("recording", "audio/x-wav", *recording));
  }

  json::object callback;
  callback["phone"] = phone ? json::value(*phone) : json::value(nullptr);
  callback["window"] = nullptr;
  callback["reason"] = info.reason;
  callback["ivr_digits"] = string_or_null(digits);
  callback["transcript"] = string_or_null(transcript);
  callback["recording_url"] = string_or_null(recording);
  msg.extra["callback"] = std::move(callback);

  json::object twilio;
  twilio["call_sid"] = call_sid;
  if (const std::string* account = value(f, "AccountSid")) twilio["account_sid"] = *account;
  if (const std::string* status = value(f, "CallStatus")) twilio["call_status"] = *status;
  if (const std::string* sid = value(f, "RecordingSid")) twilio["recording_sid"] = *sid;
  if (const std::string* d = value(f, "RecordingDuration"))
    if (const auto seconds = whole_number(*d)) twilio["recording_duration"] = *seconds;
  msg.extra["twilio"] = std::move(twilio);
  return maybe_message{std::move(msg)};
}

}  // namespace

result<std::unique_ptr<adapter>> make_twilio_adapter(const channel_config& cfg) {
  SB_TRY(tokens, auth_tokens(cfg.secrets));
  SB_TRY(urls, public_urls(cfg));
  SB_TRY(country, default_country_option(cfg));
  return std::unique_ptr<adapter>(std::make_unique<twilio_adapter>(
      cfg.name, std::move(*tokens), std::move(*urls), std::move(*country)));
}

}  // namespace sb
