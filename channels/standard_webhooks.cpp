#include "channels/standard_webhooks.hpp"

#include "channels/common/errors.hpp"
#include "channels/crypto.hpp"
#include "channels/json_body.hpp"
#include "channels/normalize.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

namespace sb {
namespace {

constexpr std::string_view secret_prefix = "whsec_";
constexpr std::string_view id_header = "webhook-id";
constexpr std::string_view timestamp_header = "webhook-timestamp";
constexpr std::string_view signature_header = "webhook-signature";
// HMAC keys shorter than this are guessable; Standard Webhooks senders generate 24..64 bytes.
constexpr std::size_t min_secret_bytes = 16;

// Bounds both sides of the window so `now ± tolerance` cannot overflow whatever the config
// says; a century is far beyond any sensible tolerance.
constexpr std::int64_t max_tolerance_s = std::int64_t{100} * 366 * 24 * 3600;

std::string signed_content_mac(std::string_view key, std::string_view id, std::string_view ts,
                               std::string_view body) {
  const std::array<std::string_view, 5> parts{id, ".", ts, ".", body};
  return hmac_sha256_concat(key, parts);
}

// Digits only: a sign or spaces would change the signed bytes without changing the number.
std::optional<std::int64_t> parse_unix_seconds(std::string_view s) noexcept {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;  // out of range
  return value;
}

bool within_tolerance(std::int64_t ts, millis now, std::chrono::seconds tolerance) noexcept {
  // now / 1000 is within ±9.3e15 and the tolerance is clamped, so neither sum overflows.
  const std::int64_t now_s = now / 1000;
  const std::int64_t tol = std::clamp<std::int64_t>(tolerance.count(), 0, max_tolerance_s);
  return ts >= now_s - tol && ts <= now_s + tol;
}

// Splits the header on spaces and keeps the decoded bytes of every well-formed v1 entry. Other
// versions (v1a is Ed25519) are not ours to check; a v1 entry that is not base64 cannot match.
std::vector<std::string> v1_signatures(std::string_view header) {
  std::vector<std::string> out;
  while (!header.empty()) {
    const auto space = header.find(' ');
    const std::string_view entry = header.substr(0, space);
    header = space == std::string_view::npos ? std::string_view{} : header.substr(space + 1);
    const auto comma = entry.find(',');
    if (comma == std::string_view::npos || entry.substr(0, comma) != "v1") continue;
    if (auto raw = base64_decode(entry.substr(comma + 1)); raw && !raw->empty())
      out.push_back(std::move(*raw));
  }
  return out;
}

std::optional<std::string_view> non_empty_header(const request_view& req, std::string_view name) {
  auto value = req.header(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

error missing(std::string_view name) {
  return {errc::bad_signature, "missing header " + std::string(name)};
}

// Config load: every configured secret decoded and at least 16 bytes long (shorter HMAC keys
// are guessable). Errors name a secret by its position, never by its value (they are logged);
// `type` names the channel type when there is no secret at all.
result<std::vector<std::string>> decode_secrets(const std::vector<std::string>& configured,
                                                std::string_view type) {
  if (configured.empty())
    return malformed(fmt::format("a {} channel needs a secret (secret or secret_file)", type));
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < configured.size(); ++i) {
    // Never echo the secret: this text ends up in logs.
    const std::string which = configured.size() == 1
                                  ? "secret"
                                  : fmt::format("secret {} of {}", i + 1, configured.size());
    auto key = decode_standard_webhooks_secret(configured[i]);
    if (!key) return malformed(which + " is not valid base64 (expected whsec_<base64>)");
    if (key->size() < min_secret_bytes)
      return malformed(fmt::format(
          "{} is too short ({} bytes after base64 decoding; use at least {} random bytes)", which,
          key->size(), min_secret_bytes));
    keys.push_back(std::move(*key));
  }
  return keys;
}

}  // namespace

std::optional<std::string> decode_standard_webhooks_secret(std::string_view configured) {
  std::string_view text = ascii_trim(configured);
  if (text.starts_with(secret_prefix)) text.remove_prefix(secret_prefix.size());
  auto key = base64_decode(text);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string sign_standard_webhook(std::string_view secret_bytes, std::string_view id,
                                  std::int64_t timestamp, std::string_view body) {
  const std::string ts = std::to_string(timestamp);
  return "v1," + base64_encode(signed_content_mac(secret_bytes, id, ts, body));
}

error check_standard_webhook_head(const request_view& req, std::chrono::seconds tolerance) {
  if (!non_empty_header(req, id_header)) return missing(id_header);
  const auto ts_text = non_empty_header(req, timestamp_header);
  if (!ts_text) return missing(timestamp_header);
  const auto header = non_empty_header(req, signature_header);
  if (!header) return missing(signature_header);

  const auto ts = parse_unix_seconds(*ts_text);
  if (!ts) return {errc::bad_signature, "header webhook-timestamp is not a unix timestamp"};
  // Before any MAC work: a stale or future timestamp is refused cheaply, and a captured
  // request cannot be replayed once the window has passed.
  if (!within_tolerance(*ts, req.now, tolerance))
    return {errc::bad_signature, "timestamp outside the tolerance"};
  if (v1_signatures(*header).empty())
    return {errc::bad_signature, "header webhook-signature has no v1 signature"};
  return {};
}

error verify_standard_webhook(const request_view& req, std::span<const std::string> decoded_secrets,
                              std::chrono::seconds tolerance) {
  if (error e = check_standard_webhook_head(req, tolerance); e.code != errc::ok) return e;
  const std::string_view id = *req.header(id_header);
  const std::string_view ts_text = *req.header(timestamp_header);
  const std::vector<std::string> offered = v1_signatures(*req.header(signature_header));
  for (const std::string& key : decoded_secrets) {
    const std::string expected = signed_content_mac(key, id, ts_text, req.body);
    if (expected.empty()) continue;  // OpenSSL failure: fail closed
    for (const std::string& candidate : offered)
      if (constant_time_equal(expected, candidate)) return {};
  }
  return {errc::bad_signature, "signature does not match"};
}

result<standard_webhooks_settings> read_standard_webhooks_settings(const channel_config& cfg,
                                                                   std::string_view type) {
  SB_TRY(keys, decode_secrets(cfg.secrets, type));
  SB_TRY(country, default_country_option(cfg));
  standard_webhooks_settings s{cfg.name, std::move(*keys), std::move(*country), cfg.tolerance};
  if (const auto it = cfg.options.find("identities_verified"); it != cfg.options.end()) {
    const bool yes = ascii_iequals(it->second, "true");
    if (!yes && !ascii_iequals(it->second, "false"))
      return error{
          errc::malformed,
          fmt::format("identities_verified must be true or false, found \"{}\"", it->second)};
    s.identities_verified = yes;
  }
  return s;
}

result<std::vector<std::string>> verified_fields(const boost::json::object& obj,
                                                 std::string_view path,
                                                 std::span<const std::string_view> allowed) {
  const std::string_view key = path.substr(path.rfind('.') + 1);
  std::string names;
  for (const auto a : allowed) names += fmt::format("{}\"{}\"", names.empty() ? "" : " or ", a);
  const error wrong{errc::malformed, fmt::format("field {} must be a list of {}", path, names)};
  const boost::json::value* v = obj.if_contains(key);
  std::vector<std::string> out;
  if (v == nullptr || v->is_null()) return out;
  const boost::json::array* list = v->if_array();
  if (list == nullptr) return wrong;
  for (const auto& item : *list) {
    const boost::json::string* s = item.if_string();
    if (s == nullptr ||
        std::find(allowed.begin(), allowed.end(), std::string_view(*s)) == allowed.end())
      return wrong;
    out.emplace_back(*s);
  }
  return out;
}

error standard_webhooks_adapter::check_head(const request_view& head) const {
  return check_standard_webhook_head(head, tolerance_);
}

result<parse_result> standard_webhooks_adapter::receive(const request_view& req) const {
  if (error e = verify_standard_webhook(req, keys_, tolerance_); e.code != errc::ok) return e;
  // The webhook-id names one delivery: the same id with another body is a replay.
  signature_use use;
  use.key = std::string(*non_empty_header(req, id_header));
  use.digest = hex_encode(hmac_sha256("switchboard/replay-digest/v1", req.body));
  use.expires_at = (parse_unix_seconds(*non_empty_header(req, timestamp_header)).value_or(0) +
                    2 * tolerance_.count()) *
                   1000;
  if (error e = check_json_content_type(req.header("content-type")); e.code != errc::ok) return e;
  SB_TRY(body, parse_json_object(req.body));
  if (auto other = read_other(*body)) {
    if (!*other) return other->error();
    (*other)->signature = std::move(use);
    return std::move(**other);
  }
  SB_TRY(msg, to_message(*body));
  parse_result out;
  out.messages.push_back(std::move(*msg));
  out.signature = std::move(use);
  return out;
}

}  // namespace sb
