// Code shared by the email channel types (mailgun, sendgrid, postmark, mime): everything that
// turns mail, in whatever shape a provider posts it, into one normalized message.
//
//   parse_mime_message   raw RFC 5322 (the `mime` type, SendGrid raw mode, Mailgun body-mime)
//   parse_form_data      multipart/form-data (Mailgun with attachments, SendGrid Inbound Parse)
//   parse_addresses,     header values as providers pass them on: address lists, Message-IDs,
//   message_id, ...      References, dates, RFC 2047 encoded words
//   to_utf8, html_to_text text in any declared charset → UTF-8; HTML → plain text
//   secret_set, check_*  HTTP basic auth (SendGrid, Postmark) and bearer auth (mime)
//   to_inbound           the fields above → inbound_message, with extra["email"]
//
// MIME is parsed with GMime, in memory, from the request body (already bounded by the
// channel's body limit); part count, nesting, header count and boundary length are bounded
// here as well, in one pass over the bytes before GMime reads them (mime_structure.cpp).
#pragma once

#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "channels/email/auth.hpp"
#include "channels/message.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::email {

// Default body limit of the email channel types: mail with attachments.
inline constexpr std::size_t default_max_body = 25 * 1024 * 1024;
// Attachments recorded per message; the rest are counted in extra.email.attachments_omitted.
inline constexpr std::size_t max_attachments = 100;
// Message-IDs become dedupe and threading keys: longer ones are not used.
inline constexpr std::size_t max_message_id_bytes = 256;
// References kept per message (the newest ones: the end of the header).
inline constexpr std::size_t max_references = 100;
// Addresses kept per To / Cc list.
inline constexpr std::size_t max_addresses = 100;

// GMime's global state, initialized once per process (thread-safe). Every function below
// that needs GMime calls it; adapters call it when they are built.
void init_gmime();

// ---- header values ---------------------------------------------------------------------

struct mailbox {
  std::string name;     // display name, RFC 2047 decoded, UTF-8; may be empty
  std::string address;  // the addr-spec as written (not validated or lower-cased)
  bool operator==(const mailbox&) const = default;
};

// Address lists are read up to this many bytes (the first hundred mailboxes of any real list).
inline constexpr std::size_t max_address_list_bytes = 64 * 1024;

// An address-list header value ("Ann Lee <ann@example.com>, =?utf-8?q?B=C3=B8?= <bo@x.dk>")
// parsed with GMime's InternetAddress: groups are flattened; at most `max` mailboxes, from the
// first max_address_list_bytes of the value (cut after a comma).
std::vector<mailbox> parse_addresses(std::string_view value, std::size_t max = max_addresses);

// "<abc@example.com>" → "abc@example.com"; empty when there is none or it is too long.
std::string message_id(std::string_view value);
// The ids of a References (or In-Reply-To) value, in order, without angle brackets; the newest
// `max` (the last ones) when there are more.
std::vector<std::string> message_ids(std::string_view value, std::size_t max = max_references);

// RFC 5322 date-time ("Sun, 22 Nov 2026 12:00:00 +0200", also the "-04:00" offsets some
// providers write); nullopt when it cannot be read.
std::optional<millis> parse_date(std::string_view value);

// An unstructured header value with RFC 2047 encoded words decoded to UTF-8.
std::string decode_header_text(std::string_view value);

// ---- text ------------------------------------------------------------------------------

// Bytes in `charset` (a MIME charset name: "iso-8859-1", "windows-1252", "koi8-r", ...)
// → valid UTF-8. Empty, "us-ascii" or an unknown charset: the bytes are taken as UTF-8 when
// they are valid UTF-8, else as windows-1252 (what undeclared 8-bit mail nearly always is).
// Invalid sequences become U+FFFD; NUL bytes are dropped.
std::string to_utf8(std::string_view bytes, std::string_view charset = {});

// Valid UTF-8 without NUL bytes (invalid sequences become U+FFFD).
std::string valid_utf8(std::string_view text);

// RFC 3676 format=flowed text as the writer meant it: a line that ends with a space is joined to
// the next line of the same quote depth (its trailing space dropped too when `delsp`), a
// space-stuffed line loses its first space, and the signature separator "-- " stays a line of
// its own. Thunderbird and Apple Mail write plain text this way.
std::string unflow(std::string_view text, bool delsp);

// A plain-text rendering of an HTML body, for mail that has no text part: tags dropped, the
// contents of script, style, head, title and template dropped, character references decoded,
// whitespace collapsed, line breaks at block elements (<p>, <div>, <br>, <li>, <tr>, ...).
std::string html_to_text(std::string_view html);

// ---- requests --------------------------------------------------------------------------

// A Content-Type header split into its lower-cased media type and the parameters that matter.
struct content_type {
  std::string media_type;  // "multipart/form-data"; empty when the header is absent
  std::string charset;     // lower-cased; empty when not given
  std::string boundary;
};
content_type parse_content_type(std::optional<std::string_view> header);

// One field of a multipart/form-data body: a plain field's value or a file's content.
struct form_part {
  std::string name;
  std::string filename;      // the file's name (UTF-8); empty for plain fields
  std::string content_type;  // lower-cased media type, empty when the part declares none
  std::string charset;       // the part's charset parameter, lower-cased, if any
  // The field's or the file's bytes, as sent (a transfer encoding undone, no charset conversion)
  std::string value;
  std::int64_t size = 0;  // value.size()
  bool is_file = false;   // the part has a filename parameter
};

// Parses a multipart/form-data body (the whole Content-Type header value is needed for its
// boundary). Errors (errc::malformed): no boundary, a boundary longer than 70 characters (RFC
// 2046), no closing boundary (a truncated body), more than 1000 parts, parts nested deeper
// than 32, a part without a name, a nested multipart. The boundary, part count and nesting are
// checked before the body is parsed.
result<std::vector<form_part>> parse_form_data(std::string_view content_type_header,
                                               std::string_view body);

// The configured secrets of a channel that authenticates with a shared secret (a basic-auth
// password or a bearer token): channels/crypto.hpp.
using sb::secret_set;

// Config load: every secret must be at least `min_bytes` long and hold no control characters
// or spaces. `what` names the channel type in the message; the secret itself is never echoed.
error check_shared_secrets(std::span<const std::string> secrets, std::string_view what,
                           std::size_t min_bytes);

// The `trusted_authserv_id` option (auth.hpp, trusted_authserv_ids): empty when not set.
std::vector<std::string> trusted_authserv_id_option(const channel_config& cfg);

// The `username` option of the basic-auth channel types: empty when not set; refused when it
// holds ':' (basic auth separates user and password with it) or control characters.
result<std::string> username_option(const channel_config& cfg);

// Config load of a basic-auth channel type (`what`, e.g. "postmark"): its passwords
// (check_shared_secrets with `min_bytes`) and its username_option; GMime made ready.
struct basic_auth_config {
  std::vector<std::string> secrets;
  std::string username;  // empty: any user name
};
result<basic_auth_config> basic_auth_channel(const channel_config& cfg, std::string_view what,
                                             std::size_t min_bytes);

// `Authorization: Basic base64(user:password)`: the password must be one of `secrets`, the
// user name must equal `username` when that is not empty. errc::unauthorized otherwise.
error check_basic_auth(const request_view& req, const secret_set& secrets,
                       std::string_view username);

// An adapter of a provider that posts with HTTP basic auth (SendGrid, Postmark): the
// credential is whole in the headers, checked before the body is read; what it keeps
// unreadable it parses in parse_verified.
class basic_auth_adapter : public adapter {
 public:
  explicit basic_auth_adapter(basic_auth_config auth)
      : secrets_(auth.secrets), username_(std::move(auth.username)) {}
  error check_head(const request_view& head) const override {
    return check_basic_auth(head, secrets_, username_);
  }
  result<parse_result> receive(const request_view& req) const override {
    if (error e = check_head(req); e.code != errc::ok) return e;
    return parse_verified(req);
  }
  bool keeps_unreadable() const noexcept override { return true; }

 private:
  secret_set secrets_;
  std::string username_;  // empty: any user name
};
// `Authorization: Bearer <token>`: the token must be one of `secrets`. errc::unauthorized.
error check_bearer(const request_view& req, const secret_set& secrets);

// ---- the normalized message ------------------------------------------------------------

// Where the sender's address may come from, in order of preference: the first candidate with
// a valid address is the sender. `field` names the source in the reason a mail without one is
// kept unreadable ("field from is not a valid email address").
struct sender_candidate {
  std::string field;
  mailbox from;
};

// What an email adapter extracts before normalization. Text fields must be UTF-8 already.
struct parsed_email {
  std::vector<sender_candidate> senders;
  std::string primary_sender_field;  // named when there is no sender at all ("field from")
  std::vector<mailbox> to;
  std::vector<mailbox> cc;
  std::string recipient;  // the address the mail was delivered to (envelope), when known
  std::string subject;
  std::string text;           // the plain-text body
  std::string html;           // the HTML body: its text is used when `text` is empty
  std::string stripped_text;  // the provider's reply-only text (quotes and signature removed)
  std::string message_id;     // without angle brackets
  std::string in_reply_to;
  std::vector<std::string> references;
  std::optional<millis> sent_at;
  std::vector<attachment> attachments;
  std::size_t attachments_omitted = 0;  // attachments beyond max_attachments
  bool is_report = false;  // a delivery or read report (multipart/report): not a message
  // Set when a header says a machine wrote the mail (an out-of-office, an autoresponder): the
  // header and its value, "Auto-Submitted: auto-replied". Such mail is stored and routed as any
  // other, flagged, so that routes and agents do not answer it into a loop.
  std::string auto_reply_reason;
  // The headers that carry authentication results, in the mail's order (parse_mime_message
  // collects them: Authentication-Results, Received, DKIM-Signature, X-Mailgun-*, X-Spam-Tests,
  // Received-SPF), for the adapter to read with what it trusts.
  std::vector<std::pair<std::string, std::string>> trace_headers;
  // What proves (or refutes) the From, read by the adapter; to_inbound() decides the verdict.
  std::optional<auth_evidence> auth;
};

// The header names parse_mime_message keeps in parsed_email::trace_headers.
bool is_trace_header(std::string_view name) noexcept;

// The headers auto_reply_reason() reads, for providers that pass headers one by one.
inline constexpr std::string_view auto_reply_headers[] = {
    "Auto-Submitted",   "X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-AutoReply-From",
    "X-Mail-Autoreply", "Precedence",  "X-Precedence",  "X-Autogenerated",
};

// "Auto-Submitted: auto-replied" when the headers (looked up by name, case-insensitively, by
// `header`) mark a machine-written mail, else empty. RFC 3834 Auto-Submitted with any value but
// "no"; X-Autoreply, X-Autorespond, X-Autoresponder, X-AutoReply-From, X-Mail-Autoreply with
// any value but "no"; Precedence or X-Precedence auto_reply, bulk or junk (not list: a person's
// mail to a list is still a person's); X-Autogenerated: Reply.
std::string auto_reply_reason(
    const std::function<std::optional<std::string_view>(std::string_view)>& header);

// Appends an attachment, or counts it as omitted past max_attachments.
void add_attachment(parsed_email& e, attachment a);

// Parses a raw RFC 5322 message with GMime: headers (RFC 2047 decoded), multipart/alternative,
// mixed and related at any depth, quoted-printable and base64, charsets converted to UTF-8,
// attachments (name, content type, the decoded bytes and their size). Errors (errc::malformed):
// an empty body, more than 1000 MIME parts, more than 1000 header fields in one block or 10000 in
// all, parts (multiparts and attached messages) nested deeper than 32, a multipart boundary
// longer than 70 characters (RFC 2046). These bounds are checked in one pass before GMime reads the
// mail. `what` names the input in error details ("body", "field email").
result<parsed_email> parse_mime_message(std::string_view raw, std::string_view what = "body");

// Message-ID, In-Reply-To, References, Date and the report flag from a list of
// (name, value) header pairs (case-insensitive names), for providers that pass headers apart
// from the body. Fields already set in `e` are kept.
void apply_headers(parsed_email& e, std::span<const std::pair<std::string, std::string>> headers);

// The normalized message: the first valid sender candidate as the email identity (an error
// naming the field when there is none), verified when `auth` proves its domain (auth.hpp;
// extra["sender_authenticated"] = "pass" | "fail" | "none", and the reason in
// extra["sender_authentication"]), text (or the HTML's text), newlines normalized,
// extra["email"] = {message_id, in_reply_to, references, to, cc, stripped_text} (ids without
// angle brackets; addresses lower-cased; null where absent), extra["auto_reply"] and, when
// set, extra["auto_reply_reason"]. The recipient keeps its local part's case. provider_id is
// left to the adapter.
result<inbound_message> to_inbound(parsed_email e);

// The end of every e-mail adapter once the request is authenticated: a delivery or read report
// is counted as ignored; a mail becomes one message whose provider id is `provider_id` (the
// provider's own id), else mail_dedupe_key() of its Message-ID and sender, else empty (the
// store derives a hash). A mail that cannot be read (`parsed` failed, or to_inbound()
// does: no usable sender) is kept as unreadable (path "body"), never refused: the provider
// would only retry it and drop it.
parse_result to_result(result<parsed_email> parsed, std::string provider_id = {});

// The dedupe key of a mail without a provider's id: its Message-ID and its sender,
// "<id> from <address>", with " (unverified)" when the sender is not authenticated. A
// Message-ID alone can be learned and sent first (from a forged or another address), which
// would make the real mail a duplicate; a forger cannot make a verified sender's key.
std::string mail_dedupe_key(std::string_view message_id, const identity& sender);

}  // namespace sb::email
