// `instagram`: an Instagram professional account's webhook (`object: "instagram"`): direct
// messages (entry[].messaging[], echoes of what the business sent included) and public posts
// aimed at the business: comments on its media (changes[] field "comments" / "live_comments")
// and @mentions (field "mentions"). Identities: instagram "<account id>:<IGSID>".
// Meta's GET verification and X-Hub-Signature-256: channels/meta/meta.hpp.
// The provider's contract and what is kept: docs/channels/instagram.md.
#pragma once

#include "channels/channel.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_instagram_adapter(const channel_config& cfg);

// Replies (channels/send.hpp, channels/meta/send.cpp): the Send API to the customer's IGSID;
// the answer is read by read_meta_send_answer (messenger.hpp).
result<http_call> build_instagram_send(const channel_config& cfg, const outgoing& o);

}  // namespace sb
