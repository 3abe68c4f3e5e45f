// The Standard Webhooks signature scheme (https://www.standardwebhooks.com), used by our own
// `chat` and `callback` formats so any sender can use an existing Standard Webhooks library.
//
//   webhook-id:        one delivery; stays the same on the sender's retries
//   webhook-timestamp: unix seconds
//   webhook-signature: space-separated "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>"
//
// The secret is configured as "whsec_<base64>" (the prefix is optional) and used decoded.
#pragma once

#include "channels/channel.hpp"
#include "core/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sb {

// Config load: "whsec_<base64>" or "<base64>" (surrounding whitespace ignored, e.g. the newline
// a secret file ends with) → the raw key bytes. nullopt when not base64 or empty.
std::optional<std::string> decode_standard_webhooks_secret(std::string_view configured);

// "v1,<base64 signature>" for one key, as a sender puts it in webhook-signature.
std::string sign_standard_webhook(std::string_view secret_bytes, std::string_view id,
                                  std::int64_t timestamp, std::string_view body);

// Verifies req against every decoded secret (key rotation: any match is accepted) and every v1
// entry of webhook-signature (the sender's own rotation: any match is accepted). The timestamp
// must lie within ±tolerance of req.now, which refuses replays and far-future signatures.
// Returns errc::ok, or errc::bad_signature with a detail that is safe to show to the caller.
error verify_standard_webhook(const request_view& req, std::span<const std::string> decoded_secrets,
                              std::chrono::seconds tolerance);

}  // namespace sb
