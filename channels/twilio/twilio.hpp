// `twilio`: Twilio's SMS/MMS and voice webhooks, form-urlencoded, signed with X-Twilio-Signature
// over the public URL Twilio called (option `public_url`) and the sorted POST parameters.
// SMS: one message per MessageSid. Voice: a Gather result, a recording, a transcription, or a
// call that reached nobody (a missed call), each a callback request for the caller.
// Every success is answered with an empty TwiML <Response/>.
// The provider's side (console URLs, what is kept, answers) is docs/channels/twilio.md.
#pragma once

#include "channels/channel.hpp"
#include "channels/send.hpp"

#include <string_view>

namespace sb {

// Where Twilio's REST API is (the channel's outbound api_base replaces it, in tests).
inline constexpr std::string_view twilio_default_api_base = "https://api.twilio.com";

struct fetch_step;  // channels/fetch.hpp

result<std::unique_ptr<adapter>> make_twilio_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): the Messages API, SMS or WhatsApp as the customer wrote; the
// status callbacks it asks for come back to this channel's webhook (MessageStatus).
result<http_call> build_twilio_send(const channel_config& cfg, const outgoing& o);
send_outcome read_twilio_answer(const http_response& r);

// Customers' files (channels/fetch.hpp, kind "twilio"): the MediaUrl with the outbound
// account_sid and token as basic auth.
result<fetch_step> first_twilio_fetch(const channel_config& cfg, std::string_view media_url);

}  // namespace sb
