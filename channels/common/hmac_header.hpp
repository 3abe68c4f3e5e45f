// The signature header Meta and X send with each POST: "sha256=" and the HMAC-SHA256 of the raw
// body under the app's secret, in hex (Meta's X-Hub-Signature-256) or in base64 (X's
// x-twitter-webhooks-signature). Read and checked in one place, so that both answer a missing,
// malformed or wrong signature with the same 401 and the same words.
#pragma once

#include "channels/channel.hpp"
#include "core/error.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

enum class mac_encoding { hex, base64 };

struct hmac_sha256_header {
  std::string_view name;  // "X-Hub-Signature-256"
  mac_encoding encoding;

  // The 32-byte MAC the header offers, or errc::bad_signature naming the header: "missing
  // header <name>", "header <name> must be sha256=<hex HMAC-SHA256>". What check_head() can
  // know before the body is read.
  result<std::string> offered(const request_view& req) const;
  // errc::ok when the offered MAC is that of req.body under one of `secrets`, else
  // errc::bad_signature. Every secret is tried, so the time taken does not tell which matched.
  error verify(const request_view& req, std::span<const std::string> secrets) const;
  // "sha256=<MAC of data>", the header as the provider writes it (tests, docs, X's CRC answer).
  std::string sign(std::string_view secret, std::string_view data) const;
};

// Config load: the channel's app secrets, trimmed, each at least `min_bytes` long; a shorter
// one is refused with "<which> is too short (<n> bytes; <what_it_is>)", never echoing it.
// At least one secret must be given (the caller words that refusal).
result<std::vector<std::string>> hmac_secrets(const channel_config& cfg, std::size_t min_bytes,
                                              std::string_view what_it_is);

}  // namespace sb
