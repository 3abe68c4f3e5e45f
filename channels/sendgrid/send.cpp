// Replies through SendGrid: the v3 Mail Send API (POST /v3/mail/send,
// https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send), a bearer API key,
// the thread's headers in `headers`. SendGrid sets the Message-ID itself.
#include "channels/email/reply.hpp"
#include "channels/sendgrid/sendgrid.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

result<http_call> build_sendgrid_send(const channel_config& cfg, const outgoing& o) {
  SB_TRY(m, email::reply_mail_for(cfg, o));
  json::object from{{"email", m->from.address}};
  if (!m->from.name.empty()) from["name"] = m->from.name;
  json::object headers;
  if (!m->in_reply_to.empty()) headers["In-Reply-To"] = email::angle(m->in_reply_to);
  if (const auto refs = email::references_header(*m); !refs.empty()) headers["References"] = refs;
  json::object body{
      {"personalizations", json::array{json::object{{"to", json::array{{{"email", m->to}}}}}}},
      {"from", std::move(from)},
      {"subject", m->subject},
      {"content", json::array{{{"type", "text/plain"}, {"value", m->text}}}},
      {"custom_args", {{"switchboard_message_id", o.message_id}}}};
  if (!headers.empty()) body["headers"] = std::move(headers);
  http_call call;
  call.url =
      fmt::format("{}/v3/mail/send", outbound_or(cfg, "api_base", "https://api.sendgrid.com"));
  call.headers = {{"Content-Type", "application/json"},
                  {"Authorization", "Bearer " + cfg.outbound->at("token")}};
  call.body = json::serialize(body);
  return call;
}

// 202 with no body and the message's id in X-Message-Id; an error
// {"errors": [{"message": "...", "field": "...", "help": ...}]}.
send_outcome read_sendgrid_answer(const http_response& r) {
  boost::system::error_code ec;
  const auto v = json::parse(r.body, ec);
  std::string reason;
  if (!ec && v.is_object())
    if (const auto* errors = v.get_object().if_contains("errors");
        errors && errors->is_array() && !errors->get_array().empty() &&
        errors->get_array()[0].is_object()) {
      const auto& e = errors->get_array()[0].get_object();
      const auto field = string_at(e, "field");
      reason = field.empty() ? std::string(string_at(e, "message"))
                             : fmt::format("{}: {}", field, string_at(e, "message"));
    }
  send_outcome out = classify_status(r, std::move(reason));
  if (out.what == send_outcome::kind::sent) out.provider_id = std::string(r.header("x-message-id"));
  return out;
}

}  // namespace sb
