// Fetching a file a customer sent when the webhook carried only a reference to it
// (attachment::fetch_kind / fetch_ref, channels/message.hpp; docs/attachments.md). Pure, like
// send.hpp: the media fetcher (delivery/media_fetcher.cpp) does the I/O with the same libcurl
// code as agents' replies.
//
//   kind       ref          requests
//   whatsapp   media id     GET {api_base}/{id} with "Authorization: Bearer <outbound token>"
//                           → {"url","mime_type","sha256","file_size","id"}; then GET url with
//                           the same header → the file (checked against sha256 and file_size)
//   telegram   file_id      GET {api_base}/bot<token>/getFile?file_id=<id>
//                           → {"ok":true,"result":{"file_path",...}}; then
//                           GET {api_base}/file/bot<token>/<file_path> → the file
//   twilio     MediaUrl     GET the URL with basic auth <account_sid>:<token> (Twilio answers
//                           with a redirect to its storage: followed, without the credentials)
//   url        a URL        GET as it is (Messenger and Instagram CDN URLs, a chat backend's)
//
// The tokens are the channel's `outbound:` ones (docs/replies.md); api_base as there.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"
#include "core/error.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

// One request of a fetch.
struct fetch_step {
  http_call call;                 // method GET, no body
  bool is_file = false;           // true: this request's answer (2xx) is the file itself
  bool follow_redirects = false;  // credentials are never sent to another host
  // What the provider says of the file, checked against what comes (empty / nullopt: unknown).
  std::string sha256_hex;  // lower-case hex
  std::optional<std::int64_t> size;
  std::string content_type;
};

// The first request for `ref` of `kind` on the channel. Errors: errc::undeliverable when this
// channel cannot fetch it (an unknown kind, a kind the channel type does not fetch, no
// `outbound:` token where one is needed): the attachment is then not kept.
result<fetch_step> first_fetch_step(const channel_config& cfg, std::string_view kind,
                                    std::string_view ref);

// The answer to a step that is not the file itself (a media lookup) → the file's request.
// Errors: errc::unavailable when it may pass (a timeout, 408, 429, 5xx, a provider's
// transient code: try again later), errc::undeliverable when it will not (the media is gone,
// the token is refused), each with the provider's words as detail.
result<fetch_step> next_fetch_step(const channel_config& cfg, std::string_view kind,
                                   const http_response& answer);

// ---- What the kinds (channels/<type>/media.cpp) and the adapters share ----------------------

// An absolute http:// or https:// URL with a host: the only URLs a fetch requests.
bool fetchable_url(std::string_view url) noexcept;

// GET `url`, without credentials. errc::undeliverable unless fetchable_url(url).
result<fetch_step> fetch_get(std::string_view url, bool is_file);

// The channel's outbound `key` (a token, an account): errc::undeliverable when it has none.
result<std::string_view> fetch_credential(const channel_config& cfg, std::string_view key);

// A lookup's answer that is not 2xx, as read for a send (classify_status and the provider's
// codes), as next_fetch_step's error: retry → errc::unavailable, failed → errc::undeliverable.
error fetch_failure(const send_outcome& outcome);

// A file's size as a provider states it: a non-negative integer, or a string of digits (Meta's
// media answers have both); nullopt when absent or anything else.
std::optional<std::int64_t> size_at(const boost::json::object& o, std::string_view key);

}  // namespace sb
