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

struct attachment {
  std::string name;
  std::string content_type;
  std::optional<std::int64_t> size;
  std::string url;  // empty when the provider gives none
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
