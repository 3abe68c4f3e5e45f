// Replies on the raw-MIME channel: the mail itself, over SMTP to the relay in outbound.smtp_url
// (smtp:// with STARTTLS, smtps:// with TLS from the start), by libcurl like every send.
#include "channels/email/reply.hpp"
#include "channels/mime/mime.hpp"

#include <fmt/core.h>

namespace sb {

result<http_call> build_smtp_send(const channel_config& cfg, const outgoing& o) {
  SB_TRY(m, email::reply_mail_for(cfg, o));
  const auto& out = *cfg.outbound;
  http_call call;
  call.method = "SMTP";
  call.url = out.at("smtp_url");
  call.mail_from = m->from.address;
  call.recipients = {m->to};
  call.body = email::mime_message(*m, o.now);
  const auto user = out.find("username");
  if (user != out.end()) {
    call.username = user->second;
    call.password = outbound_or(cfg, "password", "");
  }
  // Credentials never go in clear: STARTTLS is required with them unless the relay is
  // declared trusted (starttls: optional); without them it is used when offered.
  const auto tls = outbound_or(cfg, "starttls", "");
  call.require_tls = tls == "required" || (tls.empty() && user != out.end());
  call.message_id = m->message_id;
  return call;
}

// `status` is the relay's last reply code (250 when the mail was taken), `body` libcurl's
// words when it was not: 4xx and a lost connection pass, 5xx is the relay's refusal.
send_outcome read_smtp_answer(const http_response& r) {
  send_outcome out;
  if (r.status >= 200 && r.status < 300 && r.body.empty()) {
    out.what = send_outcome::kind::sent;
    return out;
  }
  out.reason = r.body.empty() ? fmt::format("SMTP {}", r.status)
                              : fmt::format("SMTP {}: {}", r.status, r.body);
  out.what =
      r.status >= 500 && r.status < 600 ? send_outcome::kind::failed : send_outcome::kind::retry;
  return out;
}

}  // namespace sb
