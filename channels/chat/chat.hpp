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

}  // namespace sb
