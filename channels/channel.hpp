// A channel adapter turns one raw webhook request into normalized messages or a typed error.
// Adapters are pure: bytes + headers + channel config + the current time in, result out.
// They verify the signature over the raw bytes before trusting anything in the body.
#pragma once

#include "channels/message.hpp"
#include "core/error.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct header_field {
  std::string_view name;
  std::string_view value;
};

// A request as the adapter sees it; views into the HTTP layer's buffers.
struct request_view {
  std::string_view method;  // "POST", "GET"
  std::string_view target;  // path and query as received, e.g. "/v1/webhooks/web-chat?x=1"
  std::span<const header_field> headers;
  std::string_view body;
  millis now = 0;         // the clock, injected so adapters stay pure and testable
  std::string_view peer;  // the client's address as the socket sees it ("127.0.0.1")

  // Case-insensitive header lookup; the first occurrence wins.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

// One `channels:` entry of the config, already validated by the loader.
struct channel_config {
  std::string name;  // URL path is /v1/webhooks/<name>
  std::string type;
  std::vector<std::string> secrets;     // several during a key rotation; any match is accepted
  std::size_t max_body_bytes = 0;       // 0: the server's default
  std::chrono::seconds tolerance{300};  // signed timestamps older or newer than this are refused
  std::map<std::string, std::string, std::less<>> options;  // keys the type declares
  // The `outbound:` section (agents' replies, docs/replies.md): the keys the type declares,
  // secret files already read. Absent: replies are not sent on this channel.
  std::optional<std::map<std::string, std::string, std::less<>>> outbound;
  int line = 0;  // where the entry starts in the config file, for error messages
};

// A direct answer: a provider handshake (Meta hub.challenge, X CRC), or the success body a
// provider insists on (Twilio wants TwiML).
struct http_answer {
  unsigned status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

// An event of an authenticated delivery that could not be read (a required field missing, a
// field of the wrong type). It never refuses the delivery: what can be read is stored, and the
// delivery is kept whole with the list of its unreadable events, for ops to see and replay
// (docs/operations.md, "Unreadable events").
struct unreadable_event {
  std::string path;    // where it sits in the body: "entry[0].changes[0].value.messages[1]",
                       // "message" (a Telegram update's); "body" when the request is the one
                       // event (a mail, a Twilio webhook)
  std::string reason;  // why: the refusal's detail, which names fields, never their values
  std::string event;   // the event's JSON (re-serialized), empty when the body is not JSON
};

// One use of a signature, for the replay guard (daemon/replay_guard.hpp): the provider's name for
// the signed delivery (Mailgun's token, Standard Webhooks' webhook-id), a digest of what it
// carried, and when the signature stops being accepted anyway.
struct signature_use {
  std::string key;
  std::string digest;
  millis expires_at = 0;
};

// A provider's report on a message the business sent (an agent's reply): WhatsApp's statuses,
// Twilio's status callbacks, Messenger's delivery and read receipts. Applied to the reply whose
// send the provider answered with `provider_id` (store/delivery.hpp), only forward.
struct delivery_status {
  std::string provider_id;  // empty for a watermark
  std::string status;       // sent | delivered | read | failed
  std::optional<millis> at;
  std::string reason;  // failed: the provider's words
  // A watermark (Messenger's, Instagram's and X's receipts): every private reply on the channel
  // to the customer with this identity (the sender of the message it answered), sent at or
  // before `at` + `slack`, has `status`. A reply's sent_at is when the request the provider
  // took was made; `slack` covers the clocks of two machines.
  std::optional<identity> watermark_for;
  millis slack = 0;
};

struct parse_result {
  std::vector<inbound_message> messages;
  // Reports on sent replies; counted in `ignored` too (they are no messages).
  std::vector<delivery_status> statuses;
  std::size_t ignored = 0;  // receipts, statuses, typing events: counted, answered 200
  std::vector<unreadable_event> unreadable;
  // Set by the types whose signature could be captured and sent again with other content.
  std::optional<signature_use> signature;
  // When set, sent (with status 200) instead of the JSON summary once the messages are
  // committed, or at once when there are none. Never sent when the commit fails.
  std::optional<http_answer> ack;
};

class adapter {
 public:
  virtual ~adapter() = default;
  // A POST's headers, before its body is read (and before 100 Continue): what can be proven
  // or disproven of the sender without the body. A credential carried whole in the headers (a
  // password, a bearer or secret token) is checked whole; a signature over the body is
  // checked for presence and form, and a signed timestamp for the tolerance. A refusal here
  // is answered at once and the body never read. `head.body` is empty. The default (Mailgun,
  // whose signature is inside the body) accepts.
  virtual error check_head(const request_view& head) const;
  // POST: verify, then parse. Checks again whatever check_head() checks.
  virtual result<parse_result> receive(const request_view& req) const = 0;
  // The parse half of receive(), for a body whose signature was verified when it arrived: an
  // operator replays a kept delivery (POST /v1/unreadable/{id}/replay) once this version can
  // read it. Only the content type and the body of `req` are looked at. Types that never keep
  // deliveries (keeps_unreadable() false) refuse with errc::not_found.
  virtual result<parse_result> parse_verified(const request_view& req) const;
  // True for the types whose deliveries come from a provider that cannot be told what is
  // wrong with one event: an unreadable event is kept rather than the delivery refused.
  virtual bool keeps_unreadable() const noexcept { return false; }
  // GET: provider handshakes. The default refuses with 405.
  virtual result<http_answer> handshake(const request_view& req) const;
  // True for the types whose provider sends a GET handshake (the Allow header of a 405).
  virtual bool has_handshake() const noexcept { return false; }
};

// A key of a channel type's `outbound:` section. A secret one may instead be given as
// `<name>_file` (a file holding it, as for the inbound secret).
struct outbound_key {
  std::string_view name;
  bool required = false;
  bool secret = false;
};

struct outgoing;       // channels/send.hpp
struct http_call;      // channels/send.hpp
struct http_response;  // channels/send.hpp
struct send_outcome;   // channels/send.hpp

// One row of the channel-type registry (channels/registry.cpp).
struct channel_type_info {
  std::string_view type;                          // the config's `type:`
  std::string_view kind;                          // email | chat | phone | social
  std::span<const std::string_view> option_keys;  // extra config keys this type accepts
  bool needs_secret = true;
  // Builds the adapter from its config; an error here is a config error at that channel's line.
  result<std::unique_ptr<adapter>> (*make)(const channel_config&) = nullptr;
  // Body limit when the channel sets none, if larger than server.max_body_bytes (WhatsApp
  // sends up to 3 MB, mail with attachments more). 0: the server's limit.
  std::size_t default_max_body = 0;
  // The keys of its `outbound:` section; empty for a type that cannot send a reply (a
  // callback request has no text channel back to the customer).
  std::span<const outbound_key> outbound_keys = {};
  // Its send API (channels/send.hpp), when the reply path delivers on this type yet: the
  // request for a reply, and what the provider's answer says.
  result<http_call> (*build_send)(const channel_config&, const outgoing&) = nullptr;
  send_outcome (*read_send_answer)(const http_response&) = nullptr;
};

std::span<const channel_type_info> channel_types() noexcept;
const channel_type_info* find_channel_type(std::string_view type) noexcept;

}  // namespace sb
