// Replies on Telegram: Bot API sendMessage (https://core.telegram.org/bots/api#sendmessage).
#include "channels/send.hpp"
#include "channels/telegram/telegram.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

constexpr std::size_t max_text = 4096;  // characters, after entity parsing (none here)

}  // namespace

result<http_call> build_telegram_send(const channel_config& cfg, const outgoing& o) {
  const auto& out = *cfg.outbound;
  const auto* tg = o.answers.if_contains("telegram");
  const auto* chat = tg && tg->is_object() ? tg->get_object().if_contains("chat_id") : nullptr;
  if (chat == nullptr || !chat->is_int64())
    return error{errc::undeliverable, "the message answered names no Telegram chat"};
  SB_TRY(text, reply_text(o.reply, max_text, "Telegram"));
  http_call call;
  call.url = fmt::format("{}/bot{}/sendMessage",
                         outbound_or(cfg, "api_base", telegram_default_api_base), out.at("token"));
  call.headers = {{"Content-Type", "application/json"}};
  call.body = json::serialize(json::object{{"chat_id", chat->as_int64()}, {"text", *text}});
  return call;
}

// {"ok": true, "result": {"message_id": 42, "chat": {"id": ...}, ...}}, or
// {"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user",
//  "parameters": {"retry_after": 5}}.
send_outcome read_telegram_answer(const http_response& r) {
  boost::system::error_code ec;
  const auto v = json::parse(r.body, ec);
  const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  const std::string description = o ? std::string(string_at(*o, "description")) : std::string();
  send_outcome out = classify_status(r, description);
  if (out.what == send_outcome::kind::sent) {
    const auto* result = o ? o->if_contains("result") : nullptr;
    const auto* id =
        result && result->is_object() ? result->get_object().if_contains("message_id") : nullptr;
    const auto* chat =
        result && result->is_object() ? result->get_object().if_contains("chat") : nullptr;
    const auto* chat_id =
        chat && chat->is_object() ? chat->get_object().if_contains("id") : nullptr;
    if (id && id->is_int64())
      out.provider_id = chat_id && chat_id->is_int64()
                            ? fmt::format("{}:{}", chat_id->as_int64(), id->as_int64())
                            : std::to_string(id->as_int64());
    return out;
  }
  if (const auto* p = o ? o->if_contains("parameters") : nullptr; p && p->is_object())
    if (const auto* after = p->get_object().if_contains("retry_after"); after && after->is_int64())
      out.retry_after = std::chrono::seconds(after->as_int64());
  return out;
}

}  // namespace sb
