// The Messenger Platform's messaging events, which Messenger (`object: page`) and Instagram
// (`object: instagram`) share: entry[].messaging[] (and entry[].standby[], the same events while
// another app owns the conversation), each {"sender":{"id"},"recipient":{"id"},"timestamp":ms,
// "message"|"postback"|"message_edit"|"delivery"|"read"|"reaction"|...}.
//
//   message        → a message; is_echo (sent by the business) → direction outbound, and the
//                    customer is the recipient; is_deleted (unsent) → ignored
//   postback       → a message: the customer tapped a button (text = its title)
//   message_edit   → a message marked edited, with its own provider id (mid:edited:N)
//   anything else  → ignored (delivery and read receipts, reactions, referrals, optins, ...)
#pragma once

#include "channels/channel.hpp"
#include "channels/common/json_reader.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace sb::meta {

// The scope of a messaging identity: identities are "<account id>:<customer id>" of this type.
struct messaging_scope {
  std::string_view identity_type;  // "messenger" | "instagram"
  std::string_view account_id;     // entry.id: the page or Instagram professional account
};

// Reads entry.messaging[] and entry.standby[] into `out`.
error read_messaging(const object_reader& entry, const messaging_scope& scope, parse_result& out);
// One messaging event ({"sender","recipient","timestamp","message"|...}) found elsewhere: the
// app dashboard's "Test" button wraps one in changes[{"field":"messages","value":{...}}].
error read_messaging_event(const object_reader& event, const messaging_scope& scope,
                           parse_result& out);

// A public post's author. The business's own comments are outbound.
struct comment_author {
  std::string id;
  std::string name;
};

// Identities, direction and sender name of a comment or mention in `scope`. Without an author
// (Meta leaves `from` out when the author's privacy settings hide them, and mentions name only
// the post) the identity is "<account id>:<anonymous_key>", e.g. "...:mention:<comment id>":
// one unknown customer per post, never merged with anyone, and still an identity for the
// payload's customer.
void attribute_comment(const std::optional<comment_author>& author, const messaging_scope& scope,
                       std::string_view anonymous_key, inbound_message& msg);

}  // namespace sb::meta
