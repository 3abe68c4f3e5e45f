// The channel-type registry: one line per type. Adding a channel type is a folder under
// channels/ and one row here; the config loader rejects unknown types and lists these.
#include "channels/channel.hpp"
#include "channels/chat/chat.hpp"

namespace sb {
namespace {

// type, kind, option keys, needs a secret, factory, default body limit (0: server's)
constexpr channel_type_info registry[] = {
    {"chat", "chat", chat_option_keys, true, &make_chat_adapter, 0},
};

}  // namespace

std::span<const channel_type_info> channel_types() noexcept { return registry; }

const channel_type_info* find_channel_type(std::string_view type) noexcept {
  for (const auto& info : registry)
    if (info.type == type) return &info;
  return nullptr;
}

}  // namespace sb
