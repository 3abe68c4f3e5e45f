// `postmark`: inbound mail from Postmark's inbound webhook, one JSON message per request
// (From, FromFull, ToFull, CcFull, Subject, MessageID, Date, TextBody, HtmlBody,
// StrippedTextReply, Headers, Attachments). Authenticated with HTTP basic-auth credentials in
// the webhook URL: the password is the channel's secret (the user name is checked when the
// `username` option is set). Postmark stops retrying on 403, so nothing here answers 403.
// Identities: email (the From address). Threading headers travel in extra.email.
// The provider-side setup, fields kept and answers are docs/channels/postmark.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_postmark_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): the Email API, threaded (channels/email/reply.hpp).
result<http_call> build_postmark_send(const channel_config& cfg, const outgoing& o);
send_outcome read_postmark_answer(const http_response& r);

}  // namespace sb
