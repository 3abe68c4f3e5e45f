// Replies on WhatsApp: Cloud API messages
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages), a text message
// from the business number the customer wrote to.
#include "channels/send.hpp"
#include "channels/whatsapp/whatsapp.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/core.h>

#include <algorithm>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_text = 4096;
constexpr std::string_view default_api_base = "https://graph.facebook.com/v21.0";

// Cloud API error codes that pass: rate limits (4, 80007, 130429, 131056: the pair rate
// limit), temporary errors (1, 2, 131000 "something went wrong", 131016 service unavailable,
// 133016 registration rate limit).
constexpr std::int64_t transient_codes[] = {1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133016};
// Outside the customer service window: only templates may be sent.
constexpr std::int64_t re_engagement = 131047;

}  // namespace

result<http_call> build_whatsapp_send(const channel_config& cfg, const outgoing& o) {
  const auto& out = *cfg.outbound;
  if (string_at(o.answers, "from.type") != "whatsapp")
    return error{errc::undeliverable, "the message answered has no WhatsApp number (wa_id)"};
  const auto to = string_at(o.answers, "from.value");
  const auto number = string_at(o.answers, "whatsapp.phone_number_id");
  if (number.empty())
    return error{errc::undeliverable, "the message answered names no business phone number id"};
  const std::string text = text_with_links(o.reply);
  if (const std::size_t n = utf8_length(text); n > max_text)
    return error{errc::undeliverable,
                 fmt::format("the text is {} characters; WhatsApp takes at most {}", n, max_text)};
  const auto base = out.find("api_base");
  http_call call;
  call.url =
      fmt::format("{}/{}/messages",
                  base != out.end() ? std::string_view(base->second) : default_api_base, number);
  call.headers = {{"Content-Type", "application/json"},
                  {"Authorization", "Bearer " + out.at("token")}};
  call.body = json::serialize(json::object{{"messaging_product", "whatsapp"},
                                           {"recipient_type", "individual"},
                                           {"to", to},
                                           {"type", "text"},
                                           {"text", {{"preview_url", false}, {"body", text}}}});
  return call;
}

// 200 {"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]};
// an error {"error": {"message", "type", "code", "error_data": {"details"}, "fbtrace_id"}}.
send_outcome read_whatsapp_answer(const http_response& r) {
  boost::system::error_code ec;
  const auto v = json::parse(r.body, ec);
  const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  const json::value* err = o ? o->if_contains("error") : nullptr;
  std::int64_t code = 0;
  std::string reason;
  if (err && err->is_object()) {
    const auto& e = err->get_object();
    if (const auto* c = e.if_contains("code"); c && c->is_int64()) code = c->as_int64();
    // Meta's message usually starts with its code already: "(#131047) Re-engagement message".
    const auto message = string_at(e, "message");
    reason =
        message.starts_with("(#") ? std::string(message) : fmt::format("(#{}) {}", code, message);
    if (const auto details = string_at(e, "error_data.details"); !details.empty())
      reason += fmt::format(": {}", details);
  }
  send_outcome out = classify_status(r, reason);
  if (out.what == send_outcome::kind::sent) {
    const auto* messages = o ? o->if_contains("messages") : nullptr;
    if (messages && messages->is_array() && !messages->get_array().empty() &&
        messages->get_array()[0].is_object())
      out.provider_id = std::string(string_at(messages->get_array()[0].get_object(), "id"));
    return out;
  }
  if (code == re_engagement) {
    out.what = send_outcome::kind::failed;
    out.reason = "window_closed: " + out.reason;
  } else if (std::find(std::begin(transient_codes), std::end(transient_codes), code) !=
             std::end(transient_codes)) {
    out.what = send_outcome::kind::retry;
  }
  return out;
}

}  // namespace sb
