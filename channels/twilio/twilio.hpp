// `twilio`: Twilio's SMS/MMS and voice webhooks, form-urlencoded, signed with X-Twilio-Signature
// over the public URL Twilio called (option `public_url`) and the sorted POST parameters.
// SMS: one message per MessageSid. Voice: a Gather result, a recording, a transcription, or a
// call that reached nobody (a missed call), each a callback request for the caller.
// Every success is answered with an empty TwiML <Response/>.
// The provider's side (console URLs, what is kept, answers) is docs/channels/twilio.md.
#pragma once

#include "channels/channel.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_twilio_adapter(const channel_config& cfg);

}  // namespace sb
