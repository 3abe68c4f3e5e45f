// Thin wrappers over OpenSSL for webhook signatures: HMAC, base64, hex and a constant-time
// compare. Every channel that verifies a signature (Standard Webhooks, Mailgun, Twilio, Meta, X)
// goes through these, so no adapter touches OpenSSL directly and none hand-rolls crypto.
// Byte strings travel as std::string / std::string_view (raw bytes, not text).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

// Raw MAC bytes (32 for SHA-256, 20 for SHA-1). An OpenSSL failure (allocation, missing
// provider) yields an empty string: never equal to a real MAC, so verification fails closed.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hmac_sha1(std::string_view key, std::string_view data);

// MAC of the concatenation of `parts`, without building the concatenation: signed contents are
// usually "<id>.<timestamp>.<body>" or "<url><name><value>..." with a body of megabytes.
std::string hmac_sha256_concat(std::string_view key, std::span<const std::string_view> parts);
std::string hmac_sha1_concat(std::string_view key, std::span<const std::string_view> parts);

// SHA-256 of `bytes`, lower-case hex (64 characters); empty on an OpenSSL failure.
std::string sha256_hex(std::string_view bytes);

// Standard base64 (RFC 4648 section 4, "+/" alphabet, "=" padding).
std::string base64_encode(std::string_view bytes);
// Strict: length a multiple of 4, only alphabet characters, at most two "=" and only at the end,
// unused bits zero, no whitespace. Anything else is nullopt, so a caller never acts on a
// half-decoded value.
std::optional<std::string> base64_decode(std::string_view text);

// Lower-case hex.
std::string hex_encode(std::string_view bytes);
// Accepts upper and lower case; odd length or a non-hex character is nullopt.
std::optional<std::string> hex_decode(std::string_view text);

// CRYPTO_memcmp over equal lengths. Different lengths are false without looking at the content;
// lengths of MACs are public, so that leaks nothing.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// Secrets a caller presents as they are (a basic-auth password, a bearer token, Meta's verify
// token, the read API's tokens), kept and compared as HMAC digests: every comparison is of
// 32 bytes against 32 bytes, so its time says nothing of the candidate's length or content, and
// every configured secret is tried, so it says nothing of which one matched.
class secret_set {
 public:
  secret_set() = default;
  explicit secret_set(std::span<const std::string> secrets);
  bool matches(std::string_view candidate) const;
  bool empty() const noexcept { return digests_.empty(); }

 private:
  std::vector<std::string> digests_;
};

}  // namespace sb
