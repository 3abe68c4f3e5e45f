// `callback`: our own callback-request webhook (an IVR or a web form asks us to call a customer
// back), signed with the Standard Webhooks scheme like `chat`.
// Body: {"id","phone","name","requested_at","window":{"start","end"},"reason","ivr_digits",
//        "language","recording_url","transcript"}.
// Identity: the phone number in E.164. The sender's contract is docs/channels/callback.md.
#pragma once

#include "channels/channel.hpp"

namespace sb {

result<std::unique_ptr<adapter>> make_callback_adapter(const channel_config& cfg);

}  // namespace sb
