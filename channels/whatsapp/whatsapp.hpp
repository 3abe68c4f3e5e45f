// `whatsapp`: the WhatsApp Cloud API webhook (`object: "whatsapp_business_account"`):
// entry[].changes[] with field "messages" carry value.messages[] (text, media, location,
// interactive and button replies, ...) and value.statuses[] (receipts: ignored). Identities:
// whatsapp <wa_id> and phone "+<wa_id>", so one number is one customer across WhatsApp, SMS,
// voice and callbacks. Bodies reach 3 MB: the type's default body limit is 3 MiB.
// Meta's GET verification and X-Hub-Signature-256: channels/meta/meta.hpp.
// The provider's contract and what is kept: docs/channels/whatsapp.md.
#pragma once

#include "channels/channel.hpp"

#include <cstddef>

namespace sb {

inline constexpr std::size_t whatsapp_default_max_body = 3 * 1024 * 1024;

result<std::unique_ptr<adapter>> make_whatsapp_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): Cloud API POST /{phone-number-id}/messages, a text message from
// the number the customer wrote to.
result<http_call> build_whatsapp_send(const channel_config& cfg, const outgoing& o);
send_outcome read_whatsapp_answer(const http_response& r);

}  // namespace sb
