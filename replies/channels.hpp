// Which channels send agents' replies, and the providers' windows for them: what the store
// checks a reply against, in the transaction that commits it (docs/replies.md, "Channels and
// windows").
#pragma once

#include "channels/settings.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct reply_channel {
  std::string type;
  // Messenger and Instagram: replies after the 24-hour window carry the HUMAN_AGENT tag, which
  // Meta allows for 7 days after the customer's last message.
  bool human_agent = false;
};

// By channel name: the channels with an `outbound:` section whose type delivers replies
// (channel_type_info::build_send).
using reply_channels = std::map<std::string, reply_channel, std::less<>>;

reply_channels sending_channels(const std::vector<channel>& channels);

// How long after the customer's last message on `ch` a free-form reply may still be sent, 0
// when the provider sets no limit. `from_type` is the identity type of that message's sender:
// Twilio's window is WhatsApp's, for WhatsApp senders only.
millis reply_window(const reply_channel& ch, std::string_view from_type);

// errc::window_closed, saying which window, when a reply at `now` to a customer whose last
// message on channel `name` came at `last_inbound` is outside it.
error check_window(std::string_view name, const reply_channel& ch, std::string_view from_type,
                   millis last_inbound, millis now);

// Why channel `name` of `channels` (a config's) cannot send a reply; nullopt when it can.
std::optional<std::string> cannot_send(const std::vector<channel>& channels, std::string_view name);

}  // namespace sb
