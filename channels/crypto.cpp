#include "channels/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>

namespace sb {
namespace {

struct mac_ctx_free {
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, mac_ctx_free>;

// Fetched once: a fetch walks the provider tables under a lock, too slow for every request.
// EVP_MAC objects are reference-counted and safe to share between threads.
EVP_MAC* hmac_algorithm() noexcept {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  return mac;
}

const unsigned char* bytes_of(std::string_view s) noexcept {
  // OpenSSL treats a null key as "keep the previous key"; an empty key must still be non-null.
  static const unsigned char empty = 0;
  return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

std::string hmac(const char* digest, std::string_view key,
                 std::span<const std::string_view> parts) {
  EVP_MAC* algorithm = hmac_algorithm();
  if (algorithm == nullptr) return {};
  mac_ctx_ptr ctx{EVP_MAC_CTX_new(algorithm)};
  if (!ctx) return {};
  std::array<OSSL_PARAM, 2> params{
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), bytes_of(key), key.size(), params.data()) != 1) return {};
  for (std::string_view part : parts)
    if (!part.empty() && EVP_MAC_update(ctx.get(), bytes_of(part), part.size()) != 1) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t out_len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out.data()), out_len);
}

// EVP_EncodeBlock / EVP_DecodeBlock take an int length: feed them bounded chunks. Multiples of
// 3 input bytes (encode) and 4 input characters (decode) keep chunk boundaries on group edges.
// Small enough for the stack buffers below.
constexpr std::size_t encode_chunk = 3 * 1024;
constexpr std::size_t decode_chunk = 4 * 1024;

// The alphabet index of a base64 character, or -1.
int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict RFC 4648 shape check; returns the number of '=' (0..2) or -1. EVP_DecodeBlock itself
// skips surrounding whitespace and does not report padding, so the shape is settled here.
int base64_padding(std::string_view text) noexcept {
  if (text.size() % 4 != 0) return -1;
  int pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - static_cast<std::size_t>(pad); ++i)
    if (base64_value(text[i]) < 0) return -1;
  // Non-zero unused bits would let two texts decode to the same bytes; canonical only.
  if (pad == 1 && (base64_value(text[text.size() - 2]) & 0x03) != 0) return -1;
  if (pad == 2 && (base64_value(text[text.size() - 3]) & 0x0f) != 0) return -1;
  return pad;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  return hmac_sha256_concat(key, std::span<const std::string_view>(&data, 1));
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string hmac_sha1(std::string_view key, std::string_view data) {
  return hmac_sha1_concat(key, std::span<const std::string_view>(&data, 1));
}

std::string hmac_sha256_concat(std::string_view key, std::span<const std::string_view> parts) {
  return hmac("SHA256", key, parts);
}

std::string hmac_sha1_concat(std::string_view key, std::span<const std::string_view> parts) {
  return hmac("SHA1", key, parts);
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::array<unsigned char, encode_chunk / 3 * 4 + 1> buffer;  // +1: EVP_EncodeBlock's NUL
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), encode_chunk);
    const int written =
        EVP_EncodeBlock(buffer.data(), bytes_of(bytes.substr(0, n)), static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(written));
    bytes.remove_prefix(n);
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  const int pad = base64_padding(text);
  if (pad < 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::array<unsigned char, decode_chunk / 4 * 3> buffer;
  while (!text.empty()) {
    const std::size_t n = std::min(text.size(), decode_chunk);
    const int written =
        EVP_DecodeBlock(buffer.data(), bytes_of(text.substr(0, n)), static_cast<int>(n));
    if (written < 0) return std::nullopt;
    out.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(written));
    text.remove_prefix(n);
  }
  // EVP_DecodeBlock decodes each "=" as a zero byte; the padding is not data.
  out.resize(out.size() - static_cast<std::size_t>(pad));
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
  // FUZZING BUILD ONLY: EVERY SIGNATURE, TOKEN AND PASSWORD OF THE RIGHT LENGTH MATCHES HERE.
  // Every verifier (Standard Webhooks, Meta, X, Twilio, Mailgun, Telegram, basic and bearer
  // auth, Meta's verify_token, the read API) ends in this compare, so accepting any candidate
  // of the right shape lets the fuzzers (fuzz/) reach the parsers behind the checks; the
  // header parsing, decoding, length and timestamp checks before it all still run. The macro
  // is defined only by SB_FUZZ=ON (fuzz/CMakeLists.txt: clang, libFuzzer, no daemon binary).
  // A binary built with it must never receive a real request.
  // !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
  return true;
#endif
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {
// The same domain-separation key for every comparison: the digests only hide lengths and
// timing, they are not secret themselves.
constexpr std::string_view compare_key = "switchboard/shared-secret-compare/v1";
}  // namespace

secret_set::secret_set(std::span<const std::string> secrets) {
  for (const auto& s : secrets) digests_.push_back(hmac_sha256(compare_key, s));
}

bool secret_set::matches(std::string_view candidate) const {
  const std::string d = hmac_sha256(compare_key, candidate);
  bool any = false;
  for (const auto& digest : digests_) any |= constant_time_equal(d, digest);  // no early exit
  return any && !d.empty();
}

}  // namespace sb
