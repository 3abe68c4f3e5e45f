// The outbound half of a channel type (docs/replies.md, "Delivery"): an agent's reply turned
// into the request the provider's send API takes, and the provider's answer read back. Pure,
// like the adapters: the delivery engine (delivery/engine.cpp) does the I/O with libcurl.
#pragma once

#include "channels/channel.hpp"
#include "core/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

// A reply on its way, as the store keeps it (store/delivery.hpp, delivery_job).
struct outgoing {
  std::string_view message_id;  // Switchboard's id: the idempotency key where a provider takes one
  std::string_view conversation_id;
  std::string_view channel;
  const boost::json::object& reply;    // the reply's stored JSON (text, attachments, author)
  const boost::json::object& answers;  // the customer's message it answers, stored JSON
  millis now = 0;
};

// One request to a provider: an HTTP request, or (method "SMTP") a mail to an SMTP relay.
struct http_call {
  std::string method = "POST";
  std::string url;  // http(s)://, or smtp(s):// for SMTP
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;      // SMTP: the whole RFC 5322 message
  std::string username;  // basic auth (SMTP: AUTH) when set
  std::string password;
  std::string mail_from;                // SMTP: the envelope sender
  std::vector<std::string> recipients;  // SMTP: the envelope recipients
  bool require_tls = false;             // SMTP: STARTTLS or give up (else used when offered)
  // The id the message carries (an e-mail's Message-ID), kept as the provider's id when its
  // answer names none.
  std::string message_id;
};

// The provider's answer, as far as it was read.
struct http_response {
  unsigned status = 0;
  std::optional<std::string> retry_after;  // the Retry-After header
  std::string body;                        // its first 64 KiB
  millis received_at = 0;  // when it came (a provider may name an instant to retry at)
  // Its headers, names in lower case, values trimmed; the first 32.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (lower case), "" when absent.
  std::string_view header(std::string_view lower_name) const noexcept;
};

// What an attempt came to.
struct send_outcome {
  enum class kind {
    sent,    // the provider took it
    retry,   // try again later (a timeout, 408, 429, 5xx, a rate limit the provider names)
    failed,  // never: the provider refused it for good, with its reason
  };
  kind what = kind::retry;
  std::string provider_id;  // sent: the provider's id for the message, empty when it gives none
  std::string reason;       // retry and failed: what the provider said
  std::optional<std::chrono::seconds> retry_after;  // retry: the provider's wait, when it says
};

// The status alone: 2xx sent; 408, 429 and 5xx retry (with Retry-After); another 4xx failed.
// `reason` is the provider's words for it, or the status and the start of the body.
send_outcome classify_status(const http_response& r, std::string reason = {});

// An answer whose error body is a JSON object with a numeric code and a message (Twilio's
// {"code", "message"}, Postmark's {"ErrorCode", "Message"}): the body parsed (null when it is
// not JSON), the code (0 when none), and the outcome: classify_status with the reason
// "(code) message", and retry when the code is one of `transient` (the provider's rate limits
// and temporary errors, whatever the HTTP status says).
struct coded_answer {
  send_outcome outcome;
  boost::json::value body;
  std::int64_t code = 0;
};
coded_answer read_coded_answer(const http_response& r, std::string_view code_key,
                               std::string_view message_key,
                               std::span<const std::int64_t> transient);

// Retry-After: delta-seconds, or an HTTP-date (RFC 9110) relative to `now`. nullopt when
// neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, millis now);

// The text a provider gets: the reply's text, and each attachment's URL on a line of its own
// (for the types that send attachments as links).
std::string text_with_links(const boost::json::object& reply);

// text_with_links(), when it is at most `max_chars` characters; errc::undeliverable naming
// `provider` and its limit otherwise.
result<std::string> reply_text(const boost::json::object& reply, std::size_t max_chars,
                               std::string_view provider);

// The channel's outbound value of `key`, or `fallback` when the section does not set it.
std::string_view outbound_or(const channel_config& cfg, std::string_view key,
                             std::string_view fallback);

// Characters (code points) of valid UTF-8 text, as providers count their text limits.
std::size_t utf8_length(std::string_view text) noexcept;

// A string field of `o` ("" when absent or not a string); a dotted path walks objects.
std::string_view string_at(const boost::json::object& o, std::string_view path);

}  // namespace sb
