// Customers' files on WhatsApp: Cloud API media
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media). The webhook names a
// media id; GET /{media-id} answers with a URL valid for 5 minutes, which serves the file to the
// same token.
#include "channels/fetch.hpp"
#include "channels/meta/graph_answer.hpp"
#include "channels/whatsapp/whatsapp.hpp"
#include "core/ascii.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace sb {

namespace json = boost::json;

namespace {

result<std::string> bearer(const channel_config& cfg) {
  SB_TRY(token, fetch_credential(cfg, "token"));
  return fmt::format("Bearer {}", *token);
}

// The file's SHA-256 as Meta states it, 64 hex digits; "" (unknown) when it is anything else.
std::string sha256_hex(std::string_view s) {
  const bool hex = s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
                     return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                   });
  return hex ? ascii_lowered(s) : std::string();
}

}  // namespace

result<fetch_step> first_whatsapp_fetch(const channel_config& cfg, std::string_view media_id) {
  SB_TRY(auth, bearer(cfg));
  SB_TRY(step,
         fetch_get(fmt::format("{}/{}", outbound_or(cfg, "api_base", whatsapp_default_api_base),
                               boost::urls::encode(media_id, boost::urls::unreserved_chars)),
                   false));
  step->call.headers = {{"Authorization", std::move(*auth)}};
  return step;
}

// 200 {"messaging_product": "whatsapp", "url": "https://lookaside.fbsbx.com/...",
// "mime_type": "image/jpeg", "sha256": "<hex>", "file_size": 12345 (or "12345"), "id": "..."};
// errors as every Graph API's.
result<fetch_step> next_whatsapp_fetch(const channel_config& cfg, const http_response& answer) {
  SB_TRY(auth, bearer(cfg));
  const auto a = meta::read_graph_answer(answer, whatsapp_transient_codes, {});
  if (a.outcome.what != send_outcome::kind::sent) return fetch_failure(a.outcome);
  const auto* o = a.body.if_object();
  auto step = fetch_get(o ? string_at(*o, "url") : std::string_view(), true);
  if (!step) return error{errc::undeliverable, "Meta's media answer has no URL to download from"};
  step->call.headers = {{"Authorization", std::move(*auth)}};
  step->sha256_hex = sha256_hex(string_at(*o, "sha256"));
  step->size = size_at(*o, "file_size");
  step->content_type = std::string(string_at(*o, "mime_type"));
  return step;
}

}  // namespace sb
