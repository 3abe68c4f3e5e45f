// `instagram`: an Instagram professional account's webhook (`object: "instagram"`): direct
// messages (entry[].messaging[], echoes of what the business sent included) and public posts
// aimed at the business: comments on its media (changes[] field "comments" / "live_comments")
// and @mentions (field "mentions"). Identities: instagram "<account id>:<IGSID>".
// Meta's GET verification and X-Hub-Signature-256: channels/meta/meta.hpp.
// The provider's contract and what is kept: docs/channels/instagram.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/meta/meta.hpp"

#include <span>
#include <string_view>

namespace sb {

inline constexpr std::span<const std::string_view> instagram_option_keys = meta::option_keys;

result<std::unique_ptr<adapter>> make_instagram_adapter(const channel_config& cfg);

}  // namespace sb
