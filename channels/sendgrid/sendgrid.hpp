// `sendgrid`: inbound mail from SendGrid's Inbound Parse webhook, multipart/form-data, in
// parsed mode (headers, text, html, from, to, cc, subject, envelope, charsets, attachment1..N)
// or raw mode (the whole MIME message in `email`). Parse has no signature: the URL carries
// HTTP basic-auth credentials whose password is the channel's secret (and whose user name is
// checked when the `username` option is set).
// Identities: email (the From address). Threading headers travel in extra.email.
// The provider-side setup, fields kept and answers are docs/channels/sendgrid.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_sendgrid_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): the v3 Mail Send API, threaded (channels/email/reply.hpp).
result<http_call> build_sendgrid_send(const channel_config& cfg, const outgoing& o);
send_outcome read_sendgrid_answer(const http_response& r);

}  // namespace sb
