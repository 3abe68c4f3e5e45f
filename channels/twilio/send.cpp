// Replies through Twilio: the Messages API
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource), an SMS
// or a WhatsApp message from the number the customer wrote to, with the channel's public_url as
// the StatusCallback, so Twilio's status callbacks come back signed like its other webhooks.
#include "channels/send.hpp"
#include "channels/form.hpp"
#include "channels/twilio/twilio.hpp"

#include <boost/json/parse.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_text = 1600;  // characters of Body
// Twilio's error codes that pass: 20429 too many requests, 20500 internal error, 20503
// service unavailable, 30001 queue overflow.
constexpr std::int64_t transient_codes[] = {20429, 20500, 20503, 30001};
// Outside WhatsApp's 24 hours: only templates (Content API) may be sent.
constexpr std::int64_t window_code = 63016;

}  // namespace

result<http_call> build_twilio_send(const channel_config& cfg, const outgoing& o) {
  const auto& out = *cfg.outbound;
  const auto type = string_at(o.answers, "from.type");
  const auto value = string_at(o.answers, "from.value");
  const auto business = string_at(o.answers, "recipient");
  if ((type != "whatsapp" && type != "phone") || value.empty())
    return error{errc::undeliverable, "the message answered has no caller number"};
  if (business.empty())
    return error{errc::undeliverable, "the message answered names no number it was sent to"};
  SB_TRY(text, reply_text(o.reply, max_text, "Twilio"));
  // A WhatsApp identity is the number without '+' (as WhatsApp's wa_id); Twilio wants
  // "whatsapp:+<E.164>" on both ends.
  const std::string to =
      type == "whatsapp" ? fmt::format("whatsapp:+{}", value) : std::string(value);
  const std::string from =
      type == "whatsapp" ? fmt::format("whatsapp:{}", business) : std::string(business);
  const auto& sid = out.at("account_sid");
  http_call call;
  call.url = fmt::format("{}/2010-04-01/Accounts/{}/Messages.json",
                         outbound_or(cfg, "api_base", twilio_default_api_base), sid);
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  std::vector<std::pair<std::string_view, std::string_view>> fields{
      {"To", to}, {"From", from}, {"Body", *text}};
  if (const auto url = cfg.options.find("public_url"); url != cfg.options.end())
    fields.emplace_back("StatusCallback", url->second);
  call.body = form_encode(fields);
  call.username = sid;
  call.password = out.at("token");
  return call;
}

// 201 {"sid": "SM...", "status": "queued", ...}; an error:
// {"code": 21211, "message": "The 'To' number ... is not a valid phone number.",
//  "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}.
send_outcome read_twilio_answer(const http_response& r) {
  auto a = read_coded_answer(r, "code", "message", transient_codes);
  if (a.outcome.what == send_outcome::kind::sent && a.body.is_object())
    a.outcome.provider_id = std::string(string_at(a.body.get_object(), "sid"));
  if (a.code == window_code) a.outcome.reason = "window_closed: " + a.outcome.reason;
  return a.outcome;
}

}  // namespace sb
