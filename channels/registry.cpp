// The channel-type registry: one line per type. Adding a channel type is a folder under
// channels/ and one row here; the config loader rejects unknown types and lists these.
#include "channels/callback/callback.hpp"
#include "channels/channel.hpp"
#include "channels/chat/chat.hpp"
#include "channels/instagram/instagram.hpp"
#include "channels/mailgun/mailgun.hpp"
#include "channels/messenger/messenger.hpp"
#include "channels/mime/mime.hpp"
#include "channels/postmark/postmark.hpp"
#include "channels/sendgrid/sendgrid.hpp"
#include "channels/telegram/telegram.hpp"
#include "channels/twilio/twilio.hpp"
#include "channels/whatsapp/whatsapp.hpp"
#include "channels/x/x.hpp"

namespace sb {
namespace {

// type, kind, option keys, needs a secret, factory, default body limit (0: server's; mail with
// attachments and WhatsApp's batches are larger than the server's default)
constexpr channel_type_info registry[] = {
    {"chat", "chat", chat_option_keys, true, &make_chat_adapter, 0},
    {"mailgun", "email", mailgun_option_keys, true, &make_mailgun_adapter, email::default_max_body},
    {"sendgrid", "email", sendgrid_option_keys, true, &make_sendgrid_adapter,
     email::default_max_body},
    {"postmark", "email", postmark_option_keys, true, &make_postmark_adapter,
     email::default_max_body},
    {"mime", "email", mime_option_keys, true, &make_mime_adapter, email::default_max_body},
    {"messenger", "social", messenger_option_keys, true, &make_messenger_adapter, 0},
    {"instagram", "social", instagram_option_keys, true, &make_instagram_adapter, 0},
    {"whatsapp", "social", whatsapp_option_keys, true, &make_whatsapp_adapter,
     whatsapp_default_max_body},
    {"x", "social", x_option_keys, true, &make_x_adapter, 0},
    {"callback", "phone", callback_option_keys, true, &make_callback_adapter, 0},
    {"twilio", "phone", twilio_option_keys, true, &make_twilio_adapter, 0},
    {"telegram", "social", telegram_option_keys, true, &make_telegram_adapter, 0},
};

}  // namespace

std::span<const channel_type_info> channel_types() noexcept { return registry; }

const channel_type_info* find_channel_type(std::string_view type) noexcept {
  for (const auto& info : registry)
    if (info.type == type) return &info;
  return nullptr;
}

}  // namespace sb
