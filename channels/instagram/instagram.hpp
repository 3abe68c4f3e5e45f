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

}  // namespace sb
