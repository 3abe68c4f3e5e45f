// Replies on X: a direct message to the customer (X API v2, POST
// /2/dm_conversations/with/:participant_id/messages) when the message answered was one, a
// public reply to the customer's post (POST /2/tweets with reply.in_reply_to_tweet_id) when it
// was a mention. Both with the account's OAuth 2.0 user-context token.
#include "channels/send.hpp"
#include "channels/x/x.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_dm_text = 10000;
constexpr std::size_t max_post_text = 280;  // X weighs some characters double: it may refuse less
constexpr std::string_view default_api_base = "https://api.x.com";

bool digits(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

result<http_call> build_x_send(const channel_config& cfg, const outgoing& o) {
  const auto& out = *cfg.outbound;
  const auto user = string_at(o.answers, "from.value");
  if (string_at(o.answers, "from.type") != "x" || !digits(user))
    return error{errc::undeliverable, "the message answered has no X user id"};
  const bool post = string_at(o.answers, "visibility") == "public";
  const auto base = outbound_or(cfg, "api_base", default_api_base);
  http_call call;
  call.headers = {{"Content-Type", "application/json"},
                  {"Authorization", "Bearer " + out.at("token")}};
  if (post) {
    const auto tweet = string_at(o.answers, "provider_id");
    if (!digits(tweet)) return error{errc::undeliverable, "the post answered has no X post id"};
    SB_TRY(text, reply_text(o.reply, max_post_text, "an X post"));
    call.url = fmt::format("{}/2/tweets", base);
    call.body = json::serialize(
        json::object{{"text", *text}, {"reply", {{"in_reply_to_tweet_id", tweet}}}});
  } else {
    SB_TRY(text, reply_text(o.reply, max_dm_text, "an X direct message"));
    call.url = fmt::format("{}/2/dm_conversations/with/{}/messages", base, user);
    call.body = json::serialize(json::object{{"text", *text}});
  }
  return call;
}

// 201 {"data": {"dm_conversation_id": "...", "dm_event_id": "..."}} or {"data": {"id": "...",
// "text": "..."}} (a post). Errors: {"title", "detail", "type", "status"} (problem details),
// or {"errors": [{"message": ...}]}; 429 says when the window resets in x-rate-limit-reset
// (epoch seconds), not in Retry-After.
send_outcome read_x_answer(const http_response& r) {
  boost::system::error_code ec;
  const auto v = json::parse(r.body, ec);
  const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  std::string reason;
  if (o) {
    const auto title = string_at(*o, "title");
    const auto detail = string_at(*o, "detail");
    if (!detail.empty())
      reason = title.empty() || title == detail ? std::string(detail)
                                                : fmt::format("{}: {}", title, detail);
    if (const auto* errors = o->if_contains("errors");
        reason.empty() && errors && errors->is_array() && !errors->get_array().empty() &&
        errors->get_array()[0].is_object())
      reason = std::string(string_at(errors->get_array()[0].get_object(), "message"));
  }
  send_outcome out = classify_status(r, std::move(reason));
  if (out.what == send_outcome::kind::sent) {
    if (const auto* data = o ? o->if_contains("data") : nullptr; data && data->is_object()) {
      const auto event = string_at(data->get_object(), "dm_event_id");
      out.provider_id = std::string(event.empty() ? string_at(data->get_object(), "id") : event);
    }
    return out;
  }
  const auto reset = r.header("x-rate-limit-reset");
  std::int64_t at = 0;
  // Epoch seconds; one outside 1970..5138 is not a time (and could overflow the subtraction).
  if (r.status == 429 && !reset.empty() &&
      std::from_chars(reset.data(), reset.data() + reset.size(), at).ec == std::errc() && at > 0 &&
      at < 100'000'000'000)
    out.retry_after = std::chrono::seconds(std::max<std::int64_t>(0, at - r.received_at / 1000));
  return out;
}

}  // namespace sb
