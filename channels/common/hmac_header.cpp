#include "channels/common/hmac_header.hpp"

#include "channels/common/errors.hpp"
#include "channels/crypto.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <optional>
#include <utility>

namespace sb {
namespace {

constexpr std::string_view prefix = "sha256=";
constexpr std::size_t sha256_bytes = 32;

}  // namespace

result<std::string> hmac_sha256_header::offered(const request_view& req) const {
  const auto header = req.header(name);
  if (!header) return error{errc::bad_signature, fmt::format("missing header {}", name)};
  const std::string_view value = ascii_trim(*header);
  std::optional<std::string> mac;
  if (value.starts_with(prefix)) {
    const std::string_view text = value.substr(prefix.size());
    mac = encoding == mac_encoding::hex ? hex_decode(text) : base64_decode(text);
  }
  if (!mac || mac->size() != sha256_bytes)
    return error{errc::bad_signature,
                 fmt::format("header {} must be sha256=<{} HMAC-SHA256>", name,
                             encoding == mac_encoding::hex ? "hex" : "base64")};
  return std::move(*mac);
}

error hmac_sha256_header::verify(const request_view& req,
                                 std::span<const std::string> secrets) const {
  SB_TRY(mac, offered(req));
  bool match = false;
  for (const auto& secret : secrets)
    match |= constant_time_equal(hmac_sha256(secret, req.body), *mac);
  if (!match) return {errc::bad_signature, "signature does not match"};
  return {};
}

std::string hmac_sha256_header::sign(std::string_view secret, std::string_view data) const {
  const std::string mac = hmac_sha256(secret, data);
  return std::string(prefix) +
         (encoding == mac_encoding::hex ? hex_encode(mac) : base64_encode(mac));
}

result<std::vector<std::string>> hmac_secrets(const channel_config& cfg, std::size_t min_bytes,
                                              std::string_view what_it_is) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < cfg.secrets.size(); ++i) {
    // Never echo the secret: this text ends up in logs.
    const std::string which = cfg.secrets.size() == 1
                                  ? "secret"
                                  : fmt::format("secret {} of {}", i + 1, cfg.secrets.size());
    const std::string_view secret = ascii_trim(cfg.secrets[i]);
    if (secret.size() < min_bytes)
      return malformed(
          fmt::format("{} is too short ({} bytes; {})", which, secret.size(), what_it_is));
    out.emplace_back(secret);
  }
  return out;
}

}  // namespace sb
