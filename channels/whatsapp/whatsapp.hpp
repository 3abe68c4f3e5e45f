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
#include <cstdint>
#include <string_view>

namespace sb {

struct fetch_step;  // channels/fetch.hpp

inline constexpr std::size_t whatsapp_default_max_body = 3 * 1024 * 1024;

// The Cloud API's base (outbound api_base overrides it), for sends and media.
inline constexpr std::string_view whatsapp_default_api_base = "https://graph.facebook.com/v21.0";

// Cloud API error codes that pass: rate limits (4, 80007, 130429, 131056: the pair rate
// limit), temporary errors (1, 2, 131000 "something went wrong", 131016 service unavailable,
// 133016 registration rate limit).
inline constexpr std::int64_t whatsapp_transient_codes[] = {1,      2,      4,      80007, 130429,
                                                            131000, 131016, 131056, 133016};

result<std::unique_ptr<adapter>> make_whatsapp_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): Cloud API POST /{phone-number-id}/messages, a text message from
// the number the customer wrote to.
result<http_call> build_whatsapp_send(const channel_config& cfg, const outgoing& o);
send_outcome read_whatsapp_answer(const http_response& r);

// Customers' files (channels/fetch.hpp, kind "whatsapp"): GET /{media-id} with the outbound
// token, then the URL it answers with.
result<fetch_step> first_whatsapp_fetch(const channel_config& cfg, std::string_view media_id);
result<fetch_step> next_whatsapp_fetch(const channel_config& cfg, const http_response& answer);

}  // namespace sb
