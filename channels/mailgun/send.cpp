// Replies through Mailgun: POST /v3/<domain>/messages
// (https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/),
// form-encoded, basic auth "api:<key>", with the thread's headers as h: fields.
#include "channels/email/reply.hpp"
#include "channels/form.hpp"
#include "channels/mailgun/mailgun.hpp"

#include <boost/json/parse.hpp>

#include <fmt/core.h>

namespace sb {

result<http_call> build_mailgun_send(const channel_config& cfg, const outgoing& o) {
  SB_TRY(m, email::reply_mail_for(cfg, o));
  const auto& out = *cfg.outbound;
  const std::string from = email::address_header(m->from);
  const std::string id = email::angle(m->message_id);
  const std::string parent = m->in_reply_to.empty() ? "" : email::angle(m->in_reply_to);
  const std::string refs = email::references_header(*m);
  std::vector<std::pair<std::string_view, std::string_view>> fields{
      {"from", from},    {"to", m->to},        {"subject", m->subject},
      {"text", m->text}, {"h:Message-Id", id}, {"v:switchboard-message-id", o.message_id}};
  if (!parent.empty()) fields.emplace_back("h:In-Reply-To", parent);
  if (!refs.empty()) fields.emplace_back("h:References", refs);
  http_call call;
  call.url = fmt::format("{}/v3/{}/messages",
                         outbound_or(cfg, "api_base", "https://api.mailgun.net"), out.at("domain"));
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  call.body = form_encode(fields);
  call.username = "api";
  call.password = out.at("token");
  call.message_id = m->message_id;
  return call;
}

// 200 {"id": "<...>", "message": "Queued. Thank you."}; an error {"message": "..."}, or the
// text "Forbidden" (401).
send_outcome read_mailgun_answer(const http_response& r) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.body, ec);
  const auto* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  send_outcome out = classify_status(r, o ? std::string(string_at(*o, "message")) : std::string());
  if (out.what == send_outcome::kind::sent && o) {
    std::string_view id = string_at(*o, "id");
    if (id.size() > 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
    out.provider_id = std::string(id);
  }
  return out;
}

}  // namespace sb
