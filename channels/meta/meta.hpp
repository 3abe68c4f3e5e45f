// What Meta's webhooks (Messenger, Instagram, WhatsApp Cloud API) share:
//   - the GET verification handshake: hub.mode=subscribe, hub.verify_token equal to the
//     channel's `verify_token` option → 200 text/plain with hub.challenge; anything else 403;
//   - the POST signature: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>;
//   - the envelope: {"object": "<page|instagram|whatsapp_business_account>", "entry": [...]},
//     read by meta::webhook_adapter, which leaves each entry to the channel type.
// The providers' contract, field by field, is docs/channels/{messenger,instagram,whatsapp}.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/common/json_reader.hpp"
#include "channels/crypto.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb::meta {

inline constexpr std::string_view signature_header = "X-Hub-Signature-256";

// A channel's Meta settings, checked once when the config is loaded.
struct settings {
  std::string channel;               // the channel's name
  std::string type;                  // messenger | instagram | whatsapp (for messages)
  std::string object;                // the payload's "object" this type takes
  std::vector<std::string> secrets;  // app secrets, any of which may sign (rotation)
  secret_set verify_token;           // the hub.verify_token the app dashboard was given
};

// Config load: the app secret(s) and the required verify_token option.
result<settings> read_settings(const channel_config& cfg, std::string_view object);

// The GET handshake. Refusals are answers (403), not errors: Meta only needs "not 200", and
// our error table has no 403 on purpose (Postmark reads 403 as final).
result<http_answer> verify_handshake(const request_view& req, const secret_set& verify_token);

// errc::ok or errc::bad_signature with a detail safe to show to the caller.
error verify_signature(const request_view& req, std::span<const std::string> app_secrets);

// "sha256=<hex>", as Meta writes X-Hub-Signature-256 (tests, docs).
std::string sign(std::string_view app_secret, std::string_view body);

// The request pipeline every Meta channel type runs, in order, and why:
//   1. signature over the raw bytes, before anything in the request is looked at: 401;
//   2. Content-Type application/json: 415;
//   3. JSON parse with a depth bound and UTF-8 validation: 400;
//   4. "object" must be the type's own (a page payload posted to an instagram channel is a
//      misconfiguration that would otherwise drop messages silently): 400;
//   5. each entry[] handed to read_entry; an event that is not a message is counted as ignored,
//      one that cannot be read is kept as unreadable (channels/unreadable.hpp): Meta retries a
//      refused delivery with all of its events, then drops them all.
class webhook_adapter : public adapter {
 public:
  explicit webhook_adapter(settings s) : settings_(std::move(s)) {}

  result<http_answer> handshake(const request_view& req) const final;
  bool has_handshake() const noexcept final { return true; }
  error check_head(const request_view& head) const final;
  result<parse_result> receive(const request_view& req) const final;
  result<parse_result> parse_verified(const request_view& req) const final;
  bool keeps_unreadable() const noexcept final { return true; }

 protected:
  // One element of entry[]; `entry.path()` is "entry[i]".
  virtual error read_entry(const object_reader& entry, parse_result& out) const = 0;

  const settings& config() const noexcept { return settings_; }

 private:
  settings settings_;
};

}  // namespace sb::meta
