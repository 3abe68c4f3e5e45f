// Replies on WhatsApp: Cloud API messages
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages), a text message
// from the business number the customer wrote to.
#include "channels/send.hpp"
#include "channels/meta/graph_answer.hpp"
#include "channels/whatsapp/whatsapp.hpp"

#include <boost/json/serialize.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_text = 4096;
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
  SB_TRY(text, reply_text(o.reply, max_text, "WhatsApp"));
  http_call call;
  call.url = fmt::format("{}/{}/messages", outbound_or(cfg, "api_base", whatsapp_default_api_base),
                         number);
  call.headers = {{"Content-Type", "application/json"},
                  {"Authorization", "Bearer " + out.at("token")}};
  call.body = json::serialize(json::object{{"messaging_product", "whatsapp"},
                                           {"recipient_type", "individual"},
                                           {"to", to},
                                           {"type", "text"},
                                           {"text", {{"preview_url", false}, {"body", *text}}}});
  return call;
}

// 200 {"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]};
// errors as every Graph API's.
send_outcome read_whatsapp_answer(const http_response& r) {
  auto a = meta::read_graph_answer(r, whatsapp_transient_codes, {re_engagement, 0});
  const auto* o = a.body.if_object();
  const auto* messages = o ? o->if_contains("messages") : nullptr;
  if (a.outcome.what == send_outcome::kind::sent && messages && messages->is_array() &&
      !messages->get_array().empty() && messages->get_array()[0].is_object())
    a.outcome.provider_id = std::string(string_at(messages->get_array()[0].get_object(), "id"));
  return a.outcome;
}

}  // namespace sb
