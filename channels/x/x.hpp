// `x`: X (Twitter) Account Activity API webhooks. GET answers the challenge-response check
// (crc_token → {"response_token":"sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"});
// POST carries x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, body)>
// and a batch of the subscribed account's (for_user_id) events:
//   direct_message_events[] message_create → private messages; the account's own → outbound;
//   tweet_create_events[] naming the account (a mention or a reply to it) → public messages;
//     the account's own replies → outbound; other tweets, retweets → ignored;
//   every other *_events (favorites, follows, typing, read, deletes, ...) → ignored.
// Identities: x <user id>. The provider's contract and what is kept: docs/channels/x.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

#include <string>
#include <string_view>

namespace sb {

inline constexpr std::string_view x_signature_header = "x-twitter-webhooks-signature";

// "sha256=<base64 HMAC-SHA256(consumer_secret, data)>": the CRC response_token for
// data = crc_token, and the POST signature for data = body.
std::string x_signature(std::string_view consumer_secret, std::string_view data);

result<std::unique_ptr<adapter>> make_x_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): a direct message, or a public reply to a post that mentioned
// the account.
result<http_call> build_x_send(const channel_config& cfg, const outgoing& o);
send_outcome read_x_answer(const http_response& r);

}  // namespace sb
