// `chat`: our own web-chat webhook, signed with the Standard Webhooks scheme.
// Body: {"id","session_id","sent_at","visitor":{"id","name","email","phone"},"text","attachments"}.
// Identities: chat "<channel>:<visitor id>" (verified: the backend's own visitor), plus email and
// phone when the visitor gave them: claimed, unless the signed body lists them in
// visitor.verified (the backend checked them, a logged-in user) or the channel's
// identities_verified option vouches for every one.
// The sender's contract (headers, fields, signing, answers) is docs/channels/chat.md.
#pragma once

#include "channels/channel.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_chat_adapter(const channel_config& cfg);

// Replies (channels/send.hpp, docs/channels/chat.md "Replies"): POSTed to outbound.url as
// switchboard.chat-reply/v1, signed with Standard Webhooks (outbound.secret, else the
// channel's first secret; webhook-id is the reply's message id, the same on every retry).
result<http_call> build_chat_send(const channel_config& cfg, const outgoing& o);
send_outcome read_chat_answer(const http_response& r);

}  // namespace sb
