// The Standard Webhooks signature scheme (https://www.standardwebhooks.com), used by our own
// `chat` and `callback` formats so any sender can use an existing Standard Webhooks library.
//
//   webhook-id:        one delivery; stays the same on the sender's retries
//   webhook-timestamp: unix seconds
//   webhook-signature: space-separated "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>"
//
// The secret is configured as "whsec_<base64>" (the prefix is optional) and used decoded.
//
// Below the scheme, the adapter skeleton both formats share, so that what they have in common
// (secrets, signature, JSON body, error answers) is written once.
#pragma once

#include "channels/channel.hpp"
#include "core/error.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

// Config load: "whsec_<base64>" or "<base64>" (surrounding whitespace ignored, e.g. the newline
// a secret file ends with) → the raw key bytes. nullopt when not base64 or empty.
std::optional<std::string> decode_standard_webhooks_secret(std::string_view configured);

// "v1,<base64 signature>" for one key, as a sender puts it in webhook-signature.
std::string sign_standard_webhook(std::string_view secret_bytes, std::string_view id,
                                  std::int64_t timestamp, std::string_view body);

// The part of verify_standard_webhook that needs no body: the three headers present, the
// timestamp within ±tolerance of req.now, at least one v1 signature offered.
error check_standard_webhook_head(const request_view& req, std::chrono::seconds tolerance);

// Verifies req against every decoded secret (key rotation: any match is accepted) and every v1
// entry of webhook-signature (the sender's own rotation: any match is accepted). The timestamp
// must lie within ±tolerance of req.now, which refuses replays and far-future signatures.
// Returns errc::ok, or errc::bad_signature with a detail that is safe to show to the caller.
error verify_standard_webhook(const request_view& req, std::span<const std::string> decoded_secrets,
                              std::chrono::seconds tolerance);

// ---- the adapter skeleton of our own signed JSON formats (`chat`, `callback`) ----------------

// What each of those formats configures, read and checked once at config load.
struct standard_webhooks_settings {
  std::string channel;            // the channel's name: the messages' recipient
  std::vector<std::string> keys;  // decoded secrets, any of which may sign
  std::string default_country;    // ISO alpha-2 or empty
  std::chrono::seconds tolerance{};
  // identities_verified: true: the sender (a backend with its own login) vouches for every
  // email and phone it sends; off by default, as a visitor's typed address proves nothing.
  bool identities_verified = false;
};

// The secrets (decode_secrets) and the default_country option of cfg.
result<standard_webhooks_settings> read_standard_webhooks_settings(const channel_config& cfg,
                                                                   std::string_view type);

// One JSON object per request, one message from it. receive() is the request pipeline, in
// order, and why each step sits where it does:
//   1. signature over the raw bytes: nothing in the request is trusted or even looked at
//      before it is authenticated, so an unauthenticated caller learns nothing (not even
//      which Content-Type or fields we would accept): 401;
//   2. Content-Type: application/json (a charset parameter, if any, must be utf-8): 415;
//   3. JSON parse with a depth bound and UTF-8 validation: 400;
//   4. to_message, the format's own field mapping with type checks, each error naming the
//      field: 400 (or, first, read_other for a body that is no message: a status report).
class standard_webhooks_adapter : public adapter {
 public:
  explicit standard_webhooks_adapter(standard_webhooks_settings settings)
      : channel_(std::move(settings.channel)),
        default_country_(std::move(settings.default_country)),
        identities_verified_(settings.identities_verified),
        keys_(std::move(settings.keys)),
        tolerance_(settings.tolerance) {}

  error check_head(const request_view& head) const final;
  result<parse_result> receive(const request_view& req) const final;

 protected:
  virtual result<inbound_message> to_message(const boost::json::object& body) const = 0;
  // A body that is not a message (the format's status reports): what it says; nullopt for a
  // message.
  virtual std::optional<result<parse_result>> read_other(const boost::json::object&) const {
    return std::nullopt;
  }

  std::string channel_;
  std::string default_country_;  // ISO alpha-2 or empty
  bool identities_verified_ = false;

 private:
  std::vector<std::string> keys_;  // decoded secrets, any of which may sign
  std::chrono::seconds tolerance_;
};

// The identities the sender vouches for, inside the signed body: `path` names a list field of
// `obj` ("visitor.verified": its key is the last segment), each entry one of `allowed`
// ("email", "phone"). Absent or null: none. Anything else is the sender's bug: 400.
result<std::vector<std::string>> verified_fields(const boost::json::object& obj,
                                                 std::string_view path,
                                                 std::span<const std::string_view> allowed);

// make_<type>_adapter for a format built on standard_webhooks_adapter.
template <class Adapter>
result<std::unique_ptr<adapter>> make_standard_webhooks_adapter(const channel_config& cfg,
                                                                std::string_view type) {
  SB_TRY(settings, read_standard_webhooks_settings(cfg, type));
  return std::unique_ptr<adapter>(std::make_unique<Adapter>(std::move(*settings)));
}

}  // namespace sb
