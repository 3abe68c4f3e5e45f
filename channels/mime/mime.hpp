// `mime`: one raw RFC 5322 message per request (Content-Type: message/rfc822), as an MTA's
// pipe transport or any mail script posts it; authenticated with `Authorization: Bearer
// <secret>`. Parsed with GMime: multipart/alternative and mixed at any depth, quoted-printable
// and base64, RFC 2047 encoded words, any charset converted to UTF-8.
// Identities: email (the From address). Threading headers travel in extra.email.
// The sender's contract (headers, what is kept, answers) is docs/channels/mime.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_mime_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): the mail over SMTP to outbound.smtp_url, threaded
// (channels/email/reply.hpp).
result<http_call> build_smtp_send(const channel_config& cfg, const outgoing& o);
send_outcome read_smtp_answer(const http_response& r);

}  // namespace sb
