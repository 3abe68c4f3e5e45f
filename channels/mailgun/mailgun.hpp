// `mailgun`: inbound mail from a Mailgun route's forward() action, form-urlencoded (or
// multipart/form-data when the mail has attachments), signed with HMAC-SHA256 over the
// `timestamp` and `token` fields (hex in `signature`) with the domain's webhook signing key.
// Identities: email (the From address). Threading headers travel in extra.email.
// The provider-side setup, fields kept and answers are docs/channels/mailgun.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_mailgun_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): the Messages API, threaded (channels/email/reply.hpp).
result<http_call> build_mailgun_send(const channel_config& cfg, const outgoing& o);
send_outcome read_mailgun_answer(const http_response& r);

}  // namespace sb
