// Replies on Messenger and Instagram: the Send API
// (https://developers.facebook.com/docs/messenger-platform/reference/send-api), which both
// share: POST /me/messages with the page access token, to the customer's page-scoped id.
#include "channels/send.hpp"
#include "channels/instagram/instagram.hpp"
#include "channels/messenger/messenger.hpp"
#include "channels/meta/graph_answer.hpp"

#include <boost/json/serialize.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_text = 2000;
constexpr std::string_view default_api_base = "https://graph.facebook.com/v21.0";
constexpr millis standard_window = 24LL * 3600 * 1000;

// Graph API error codes that pass: rate limits (4, 17, 32, 613) and temporary errors (1, 2,
// 1200 "temporary send message failure").
constexpr std::int64_t transient_codes[] = {1, 2, 4, 17, 32, 613, 1200};
// (#10) with subcode 2018278: "This message is sent outside of allowed window".
constexpr std::int64_t outside_window_subcode = 2018278;

result<http_call> build_meta_send(std::string_view type, const channel_config& cfg,
                                  const outgoing& o) {
  const auto& out = *cfg.outbound;
  if (string_at(o.answers, "from.type") != type)
    return error{errc::undeliverable,
                 fmt::format("the message answered has no {} sender id", type)};
  // The identity is "<page or account id>:<page-scoped id>".
  const auto from = string_at(o.answers, "from.value");
  const auto colon = from.find(':');
  if (colon == std::string_view::npos || colon + 1 == from.size())
    return error{errc::undeliverable, "the message answered names no page-scoped id"};
  SB_TRY(text, reply_text(o.reply, max_text, type));
  json::object body{{"recipient", {{"id", from.substr(colon + 1)}}},
                    {"messaging_type", "RESPONSE"},
                    {"message", {{"text", *text}}}};
  // Past the standard 24 hours (the store refused it unless human_agent is on), the reply is a
  // human agent's: Meta allows that tag for 7 days.
  const auto last = parse_time(string_at(o.answers, "received_at"));
  if (outbound_or(cfg, "human_agent", "false") == "true" && last &&
      o.now - *last > standard_window) {
    body["messaging_type"] = "MESSAGE_TAG";
    body["tag"] = "HUMAN_AGENT";
  }
  http_call call;
  call.url = fmt::format("{}/me/messages", outbound_or(cfg, "api_base", default_api_base));
  call.headers = {{"Content-Type", "application/json"},
                  {"Authorization", "Bearer " + out.at("token")}};
  call.body = json::serialize(body);
  return call;
}

}  // namespace

result<http_call> build_messenger_send(const channel_config& cfg, const outgoing& o) {
  return build_meta_send("messenger", cfg, o);
}

result<http_call> build_instagram_send(const channel_config& cfg, const outgoing& o) {
  return build_meta_send("instagram", cfg, o);
}

// 200 {"recipient_id": "...", "message_id": "m_..."}; errors as every Graph API's.
send_outcome read_meta_send_answer(const http_response& r) {
  auto a = meta::read_graph_answer(r, transient_codes, {0, outside_window_subcode});
  if (a.outcome.what == send_outcome::kind::sent && a.body.is_object())
    a.outcome.provider_id = std::string(string_at(a.body.get_object(), "message_id"));
  return a.outcome;
}

}  // namespace sb
