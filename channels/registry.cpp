// The channel-type registry: one line per type. Adding a channel type is a folder under
// channels/ and one row here; the config loader rejects unknown types and lists these.
#include "channels/callback/callback.hpp"
#include "channels/channel.hpp"
#include "channels/chat/chat.hpp"
#include "channels/email/email.hpp"
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

#include <span>
#include <string_view>

namespace sb {
namespace {

// The config keys each type takes beyond those every channel has (channels/settings.cpp).
constexpr std::string_view contact_keys[] = {"default_country", "identities_verified"};
constexpr std::string_view mail_keys[] = {"trusted_authserv_id"};
constexpr std::string_view postmark_keys[] = {"username", "trusted_authserv_id"};
constexpr std::string_view sendgrid_keys[] = {"username"};
constexpr std::string_view meta_keys[] = {"verify_token"};
constexpr std::string_view twilio_keys[] = {"public_url", "default_country"};
constexpr std::string_view telegram_keys[] = {"bot_username"};

// type, kind, option keys, needs a secret, factory, default body limit (0: server's; mail with
// attachments and WhatsApp's batches are larger than the server's default)
constexpr channel_type_info registry[] = {
    {"chat", "chat", contact_keys, true, &make_chat_adapter, 0},
    {"mailgun", "email", mail_keys, true, &make_mailgun_adapter, email::default_max_body},
    {"sendgrid", "email", sendgrid_keys, true, &make_sendgrid_adapter, email::default_max_body},
    {"postmark", "email", postmark_keys, true, &make_postmark_adapter, email::default_max_body},
    {"mime", "email", mail_keys, true, &make_mime_adapter, email::default_max_body},
    {"messenger", "social", meta_keys, true, &make_messenger_adapter, 0},
    {"instagram", "social", meta_keys, true, &make_instagram_adapter, 0},
    {"whatsapp", "social", meta_keys, true, &make_whatsapp_adapter, whatsapp_default_max_body},
    {"x", "social", {}, true, &make_x_adapter, 0},
    {"callback", "phone", contact_keys, true, &make_callback_adapter, 0},
    {"twilio", "phone", twilio_keys, true, &make_twilio_adapter, 0},
    {"telegram", "social", telegram_keys, true, &make_telegram_adapter, 0},
};

}  // namespace

std::span<const channel_type_info> channel_types() noexcept { return registry; }

const channel_type_info* find_channel_type(std::string_view type) noexcept {
  for (const auto& info : registry)
    if (info.type == type) return &info;
  return nullptr;
}

}  // namespace sb
