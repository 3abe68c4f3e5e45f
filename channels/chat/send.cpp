// Replies to a web chat: a Standard-Webhooks-signed POST to the chat backend
// (docs/channels/chat.md, "Replies").
#include "channels/send.hpp"
#include "channels/chat/chat.hpp"
#include "channels/standard_webhooks.hpp"
#include "core/time.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sb {

namespace json = boost::json;

result<http_call> build_chat_send(const channel_config& cfg, const outgoing& o) {
  const auto& out = *cfg.outbound;
  const auto secret_it = out.find("secret");
  const std::string& configured = secret_it != out.end() ? secret_it->second : cfg.secrets.front();
  const auto key = decode_standard_webhooks_secret(configured);
  if (!key) return error{errc::internal, "outbound.secret is not a Standard Webhooks secret"};
  // The visitor: the chat identity is "<channel>:<visitor id>".
  std::string_view visitor = string_at(o.answers, "from.value");
  const std::string prefix = std::string(o.channel) + ":";
  if (visitor.starts_with(prefix)) visitor.remove_prefix(prefix.size());
  const auto* author = o.reply.if_contains("author");
  const auto* attachments = o.reply.if_contains("attachments");
  const auto session = string_at(o.answers, "session_id");
  const json::object body{
      {"schema", "switchboard.chat-reply/v1"},
      {"message_id", o.message_id},
      {"conversation_id", o.conversation_id},
      {"visitor_id", visitor},
      {"session_id", session.empty() ? json::value(nullptr) : json::value(session)},
      {"text", string_at(o.reply, "text")},
      {"attachments", attachments ? *attachments : json::array{}},
      {"agent", author ? json::object{{"id", author->at("id")}, {"name", author->at("name")}}
                       : json::object{}},
      {"in_reply_to", string_at(o.answers, "provider_id")},
      {"sent_at", format_time(o.now)}};
  http_call call;
  call.url = out.at("url");
  call.body = json::serialize(body);
  call.message_id = std::string(o.message_id);  // the provider id: status reports name it
  const std::int64_t ts = o.now / 1000;
  call.headers = {{"Content-Type", "application/json"},
                  {"webhook-id", std::string(o.message_id)},
                  {"webhook-timestamp", std::to_string(ts)},
                  {"webhook-signature", sign_standard_webhook(*key, o.message_id, ts, call.body)}};
  return call;
}

// 2xx: taken. The reply's provider id is its own message_id (http_call::message_id), which the
// backend's status reports (switchboard.chat-status/v1) name.
send_outcome read_chat_answer(const http_response& r) { return classify_status(r); }

}  // namespace sb
