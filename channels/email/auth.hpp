// Whether a mail's From is proven: the evidence each provider gives of SPF, DKIM and DMARC,
// read only where a sender cannot forge it, and the verdict it supports for the From domain.
//
//   pass  DMARC passed, or a DKIM signature aligned with the From domain verified (RFC 7489
//         3.1.1, relaxed: the signing domain is the From domain or a parent or child of it)
//   fail  DMARC failed, or an aligned DKIM signature failed and SPF failed too
//   none  anything else: no evidence, or none that says anything about the From domain
//
// A pass makes the From a verified identity; anything else a claim (channels/message.hpp), and
// a fail joins the mail to no existing customer at all. SPF alone never passes a mail: it
// checks the envelope sender, not the From a person reads.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::email {

enum class auth_verdict { none, pass, fail };
std::string_view name_of(auth_verdict v) noexcept;  // "none" | "pass" | "fail"

// What was found, before the From domain is known.
struct auth_evidence {
  std::optional<std::string> dmarc;  // "pass", "fail", ... (lower case)
  std::string dmarc_domain;          // its header.from, when the checker named it
  // (signing domain, result) per DKIM signature whose result is known: "pass", "fail", ...
  std::vector<std::pair<std::string, std::string>> dkim;
  std::optional<std::string> spf;       // "pass", "fail", "softfail", "neutral", "none", ...
  bool dkim_from_domain_valid = false;  // a checker said a signature of the From domain verified
  std::string source;                   // who said so: "Mailgun", "mx.example.com", ...
};

struct sender_auth {
  auth_verdict verdict = auth_verdict::none;
  std::string reason;  // "dmarc=pass (mx.example.com)", "dkim=pass header.d=example.com (SendGrid)"
};

sender_auth verdict_for(const auth_evidence& e, std::string_view from_domain);

// "example.com" and "mail.example.com" are aligned (relaxed), "example.com" and "example.org"
// are not. Case-insensitive.
bool aligned(std::string_view signing_domain, std::string_view from_domain) noexcept;

using header_list = std::span<const std::pair<std::string, std::string>>;

// RFC 8601 Authentication-Results: the topmost header whose authserv-id is one of `trusted`
// (an MTA of the business's own, which removes forged copies of its own id). nullopt when no
// such header is there, or nothing is trusted.
std::optional<auth_evidence> from_authentication_results(header_list headers,
                                                         std::span<const std::string> trusted);

// Mailgun's X-Mailgun-Dkim-Check-Result and X-Mailgun-Spf, as its spam filter adds them above
// its own Received line in message-headers (a copy the sender wrote into the mail comes below
// it and is not read). The DKIM result names no domain: it is taken as the one DKIM-Signature's
// d= when the mail carries exactly one.
std::optional<auth_evidence> from_mailgun(header_list message_headers);

// SendGrid Inbound Parse's `SPF` field and `dkim` field ("{@example.com : pass, @x.org : fail}").
std::optional<auth_evidence> from_sendgrid(std::string_view spf, std::string_view dkim);

// Postmark's own X-Spam-Tests (SpamAssassin's DKIM_VALID_AU: a valid signature of the From
// domain) and Received-SPF, which it adds before the first "Received: from" of the mail.
std::optional<auth_evidence> from_postmark(header_list headers);

// The `trusted_authserv_id` option of the e-mail types: authserv-ids, comma- or space-separated.
std::vector<std::string> trusted_authserv_ids(std::string_view option);

}  // namespace sb::email
