// An agent's reply as an e-mail (docs/replies.md, "E-mail"): from the channel's outbound.from to
// the customer's address, "Re:" the subject, In-Reply-To and References naming the customer's
// mail, so the customer's client threads it and the answer to it comes back threaded. Its
// Message-ID is made of the reply's id, the same on every attempt. The send APIs
// (channels/{mailgun,sendgrid,postmark}/send.cpp) and SMTP (channels/mime/send.cpp) format it.
#pragma once

#include "channels/email/email.hpp"
#include "channels/send.hpp"

#include <string>
#include <vector>

namespace sb::email {

struct reply_mail {
  mailbox from;    // outbound.from: "Support <support@example.com>" or a bare address
  std::string to;  // the customer's address
  std::string subject;
  std::string text;
  std::string message_id;               // without <>: <reply id>@<from's domain>
  std::string in_reply_to;              // without <>; "" when the customer's mail had none
  std::vector<std::string> references;  // without <>; the customer's mail last
};

// errc::undeliverable when the message answered has no e-mail address; errc::internal when
// outbound.from is not one address.
result<reply_mail> reply_mail_for(const channel_config& cfg, const outgoing& o);

// "<id>".
std::string angle(std::string_view id);

// The References header's value: "<a> <b> <c>"; "" when there are none.
std::string references_header(const reply_mail& m);

// "Name <address>", the name quoted or RFC 2047-encoded as needed; the address alone without one.
std::string address_header(const mailbox& m);

// The whole RFC 5322 message, UTF-8 text quoted-printable, CRLF line ends (for SMTP).
std::string mime_message(const reply_mail& m, millis now);

}  // namespace sb::email
