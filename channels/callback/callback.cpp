// `callback`: one callback request per request, signed with Standard Webhooks.
// The request pipeline is standard_webhooks_adapter's, as for `chat`; this file is its last
// step, the field mapping with type checks, each error naming the field: 400.
// The customer is known only by the phone number to call, so a number that cannot be read is
// refused (400) rather than kept: a callback request nobody can call back is a sender bug.
// The number is a claim (typed into a form) unless the signed body lists it in `verified`.
#include "channels/callback/callback.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/json_fields.hpp"
#include "channels/common/limits.hpp"
#include "channels/common/text.hpp"
#include "channels/normalize.hpp"
#include "channels/standard_webhooks.hpp"
#include "core/ascii.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

constexpr std::size_t max_digits = 64;

// ---- field readers: each names the field it refuses --------------------------------------

using json_fields::field;
using json_fields::optional_string;  // an absent, null or empty string is nullopt

result<millis> required_time(const json::object& obj, std::string_view key, std::string_view path) {
  SB_TRY(s, optional_string(obj, key, path));
  if (!*s) return malformed(fmt::format("field {} is required", path));
  if (auto t = parse_time(**s)) return *t;
  return malformed(fmt::format("field {} must be an RFC 3339 date-time", path));
}

json::value string_or_null(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

// ---- mapping -------------------------------------------------------------------------------

class callback_adapter final : public standard_webhooks_adapter {
 public:
  using standard_webhooks_adapter::standard_webhooks_adapter;

 private:
  result<inbound_message> to_message(const json::object& body) const override;
  result<json::value> read_window(const json::object& body) const;
};

// {"start","end"} in our own RFC 3339 spelling, or null when the customer gave no window.
result<json::value> callback_adapter::read_window(const json::object& body) const {
  const json::value* v = field(body, "window");
  if (v == nullptr) return json::value(nullptr);
  const json::object* window = v->if_object();
  if (window == nullptr) return malformed("field window must be an object");
  SB_TRY(start, required_time(*window, "start", "window.start"));
  SB_TRY(end, required_time(*window, "end", "window.end"));
  if (*end <= *start) return malformed("field window.end must be after window.start");
  return json::value(json::object{{"start", format_time(*start)}, {"end", format_time(*end)}});
}

result<inbound_message> callback_adapter::to_message(const json::object& body) const {
  inbound_message msg;
  msg.recipient = channel_;

  SB_TRY(id, optional_string(body, "id", "id"));
  if (!*id) return malformed("field id is required");
  if ((*id)->size() > max_id_bytes)
    return malformed(fmt::format("field id must be at most {} bytes", max_id_bytes));
  msg.provider_id = std::move(**id);

  SB_TRY(phone, optional_string(body, "phone", "phone"));
  if (!*phone || ascii_trim(**phone, " \t").empty()) return malformed("field phone is required");
  auto e164 = normalize_phone(**phone, default_country_);
  if (!e164)
    return malformed(
        default_country_.empty()
            ? "field phone must be a phone number in international form (+...)"
            : "field phone must be a phone number, international (+...) or national for " +
                  default_country_);
  // A number typed into a form proves nothing; one the sender vouches for (verified: ["phone"]
  // in the signed body: caller ID it trusts, a logged-in user's number) is verified.
  static constexpr std::string_view kinds[] = {"phone"};
  SB_TRY(vouched, verified_fields(body, "verified", kinds));
  msg.identities.push_back({"phone", *e164, identities_verified_ || !vouched->empty()});

  SB_TRY(name, optional_string(body, "name", "name"));
  if (*name) msg.sender_name = std::move(**name);

  SB_TRY(requested_at, optional_string(body, "requested_at", "requested_at"));
  if (*requested_at) {
    msg.sent_at = parse_time(**requested_at);
    if (!msg.sent_at) return malformed("field requested_at must be an RFC 3339 date-time");
  }

  SB_TRY(window, read_window(body));

  SB_TRY(language, optional_string(body, "language", "language"));
  if (*language) msg.language = language_code(**language);

  // The remaining strings, read in one place so each refusal names its field.
  std::optional<std::string> reason, digits, transcript, recording;
  for (auto [key, out] :
       {std::pair{"reason", &reason}, std::pair{"ivr_digits", &digits},
        std::pair{"transcript", &transcript}, std::pair{"recording_url", &recording}}) {
    SB_TRY(s, optional_string(body, key, key));
    *out = std::move(*s);
  }
  if (digits) {
    if (digits->size() > max_digits)
      return malformed(fmt::format("field ivr_digits must be at most {} keys", max_digits));
    if (digits->find_first_not_of("0123456789*#") != std::string::npos)
      return malformed("field ivr_digits may only hold the keys 0-9, * and #");
  }

  // Routes match text: the customer's own words when there are any, else why they asked.
  if (transcript)
    msg.text = *transcript;
  else if (reason)
    msg.text = *reason;
  if (recording) msg.attachments.push_back({"recording", "", std::nullopt, *recording});

  json::object callback;
  callback["phone"] = *e164;
  callback["window"] = std::move(*window);
  callback["reason"] = string_or_null(reason);
  callback["ivr_digits"] = string_or_null(digits);
  callback["transcript"] = string_or_null(transcript);
  callback["recording_url"] = string_or_null(recording);
  msg.extra["callback"] = std::move(callback);
  return msg;
}

}  // namespace

result<std::unique_ptr<adapter>> make_callback_adapter(const channel_config& cfg) {
  return make_standard_webhooks_adapter<callback_adapter>(cfg, "callback");
}

}  // namespace sb
