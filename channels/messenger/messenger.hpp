// `messenger`: a Facebook Page's webhook (`object: "page"`): Messenger conversations
// (entry[].messaging[]: messages, echoes of what the page sent, postbacks, edits) and public
// comments on the page's posts (entry[].changes[] with field "feed", item "comment").
// Identities: messenger "<page id>:<PSID>". Comments have visibility "public".
// Meta's GET verification and X-Hub-Signature-256: channels/meta/meta.hpp.
// The provider's contract and what is kept: docs/channels/messenger.md.
#pragma once

#include "channels/channel.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_messenger_adapter(const channel_config& cfg);

// Replies (channels/send.hpp, channels/meta/send.cpp): the Send API to the customer's PSID;
// read_meta_send_answer reads Messenger's and Instagram's answers.
result<http_call> build_messenger_send(const channel_config& cfg, const outgoing& o);
send_outcome read_meta_send_answer(const http_response& r);

}  // namespace sb
