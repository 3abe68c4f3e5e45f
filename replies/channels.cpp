#include "replies/channels.hpp"

#include <fmt/core.h>

namespace sb {
namespace {

constexpr millis hour = 3600 * 1000;

}  // namespace

reply_channels sending_channels(const std::vector<channel>& channels) {
  reply_channels out;
  for (const auto& c : channels) {
    if (!c.config.outbound || c.type == nullptr || c.type->build_send == nullptr) continue;
    reply_channel r;
    r.type = c.config.type;
    const auto h = c.config.outbound->find("human_agent");
    r.human_agent = h != c.config.outbound->end() && h->second == "true";
    out.emplace(c.config.name, std::move(r));
  }
  return out;
}

millis reply_window(const reply_channel& ch, std::string_view from_type) {
  // WhatsApp's customer service window: free-form messages only within 24 hours of the
  // customer's last message; after it, only approved templates, which replies are not.
  if (ch.type == "whatsapp" || (ch.type == "twilio" && from_type == "whatsapp")) return 24 * hour;
  // Meta's standard messaging window, and the HUMAN_AGENT tag's 7 days.
  if (ch.type == "messenger" || ch.type == "instagram")
    return ch.human_agent ? 7 * 24 * hour : 24 * hour;
  return 0;
}

error check_window(std::string_view name, const reply_channel& ch, std::string_view from_type,
                   millis last_inbound, millis now) {
  const millis window = reply_window(ch, from_type);
  if (window == 0 || now - last_inbound <= window) return {};
  const bool days = window % (24 * hour) == 0 && window > 24 * hour;
  return {errc::window_closed,
          fmt::format("channel {} ({}) takes replies for {} {} after the customer's last "
                      "message, which came at {}; answer on another channel",
                      name, ch.type, days ? window / (24 * hour) : window / hour,
                      days ? "days" : "hours", format_time(last_inbound))};
}

std::optional<std::string> cannot_send(const std::vector<channel>& channels,
                                       std::string_view name) {
  for (const auto& c : channels) {
    if (c.config.name != name) continue;
    if (c.type == nullptr || c.type->build_send == nullptr)
      return fmt::format("channel {} is of type {}, which cannot send replies", name,
                         c.config.type);
    if (!c.config.outbound)
      return fmt::format("channel {} has no outbound: section, so it sends no replies", name);
    return std::nullopt;
  }
  return fmt::format("no channel named {}", name);
}

}  // namespace sb
