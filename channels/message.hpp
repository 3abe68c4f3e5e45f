// The normalized message every channel adapter produces: the contract between channels/ and
// the conversation store. Provider-specific fields that agents still need (email threading
// headers, callback details) travel in `extra` and appear as fields of the payload's message.
#pragma once

#include "core/time.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb {

// Identity types: email (lower-cased addr-spec), phone (E.164), whatsapp (wa_id, also recorded
// as phone), whatsapp_bsuid, messenger / instagram ("<page id>:<sender id>"), telegram, x, chat
// ("<channel name>:<visitor id>").
//
// An identity is verified when the channel proves the sender controls it (a provider's user id,
// a WhatsApp or Twilio number, a chat visitor id within its channel, an e-mail From that passed
// DMARC or aligned DKIM, an address the chat backend signs as verified), and claimed otherwise
// (typed by the customer, mail whose authentication failed or is unknown). Only verified
// identities link a message to a customer or merge customers (store/sqlite_store.cpp).
struct identity {
  std::string type;
  std::string value;
  bool verified = true;
  bool operator==(const identity&) const = default;
};

// A file the customer sent. Switchboard keeps its bytes (docs/attachments.md): those the request
// carries (e-mail parts) are written before the commit, those it only refers to (provider media)
// are fetched after it (delivery/media_fetcher.hpp, channels/fetch.hpp).
struct attachment {
  std::string name;
  std::string content_type;
  std::optional<std::int64_t> size;
  std::string url;  // the provider's URL; empty when the provider gives none. Once Switchboard
                    // keeps the file, the read API's, and the provider's moves to source_url.
  std::string source_url;
  // The file itself, when the request carries it (an e-mail part, decoded).
  std::optional<std::string> bytes;
  // How to fetch it when the request only refers to it (channels/fetch.hpp): "whatsapp" (ref:
  // the media id), "telegram" (ref: the file_id), "twilio" (ref: the MediaUrl), "url" (ref: a
  // URL fetched as it is). Empty: nothing to fetch.
  std::string fetch_kind;
  std::string fetch_ref;
  // Set before the commit (store/attachments.hpp, keep_attachments):
  std::string id;      // Switchboard's id, the one GET /v1/attachments/{id} serves it by
  std::string state;   // "stored", "pending" (to fetch), "too_large", "not_kept"
  std::string sha256;  // of the bytes, when stored
};

struct inbound_message {
  std::string provider_id;             // dedupe key within the channel; empty: the store hashes
  std::string direction = "inbound";   // "inbound" | "outbound" (echoes; stored, not routed)
  std::string visibility = "private";  // "private" | "public" (comments, mentions)
  std::optional<millis> sent_at;       // when the customer sent it, per the provider
  std::string sender_name;             // display name, may be empty
  std::vector<identity> identities;    // the sender's identities, verified and claimed
  // The sender's authentication failed (a mail whose DMARC failed): its claims link it to no
  // existing customer at all, not even to one known by the same claims alone.
  bool authentication_failed = false;
  std::string recipient;  // address, page, bot or number written to
  std::string subject;
  std::string text;
  std::vector<attachment> attachments;
  std::optional<std::string> language;  // ISO 639-1 hint from the provider
  // Where `text` stops being the customer's own words: what follows is Switchboard's wording of
  // something else (a missed call, a shared location, an order's items), which no language is
  // detected from. npos: all of it is the customer's.
  std::size_t generated_text_from = std::string::npos;
  boost::json::object extra;  // type-specific fields merged into the payload's message
};

}  // namespace sb
