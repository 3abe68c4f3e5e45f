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
#include "channels/send.hpp"
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

// The keys of each type's `outbound:` section (docs/replies.md): where and with what credential
// a reply is sent. {name, required, secret}; api_base defaults to the provider's own.
constexpr outbound_key chat_out[] = {{"url", true, false}, {"secret", false, true}};
constexpr outbound_key mailgun_out[] = {
    {"api_base"}, {"domain", true}, {"token", true, true}, {"from", true}};
constexpr outbound_key mail_api_out[] = {{"api_base"}, {"token", true, true}, {"from", true}};
constexpr outbound_key postmark_out[] = {
    {"api_base"}, {"token", true, true}, {"from", true}, {"message_stream"}};
constexpr outbound_key smtp_out[] = {
    {"smtp_url", true}, {"from", true}, {"username"}, {"password", false, true}, {"starttls"}};
constexpr outbound_key meta_out[] = {{"api_base"}, {"token", true, true}, {"human_agent"}};
constexpr outbound_key token_out[] = {{"api_base"}, {"token", true, true}};
constexpr outbound_key twilio_out[] = {{"api_base"}, {"account_sid", true}, {"token", true, true}};

// type, kind, option keys, needs a secret, factory, default body limit (0: server's; mail with
// attachments and WhatsApp's batches are larger than the server's default), outbound keys
constexpr channel_type_info registry[] = {
    {"chat", "chat", contact_keys, true, &make_chat_adapter, 0, chat_out, &build_chat_send,
     &read_chat_answer},
    {"mailgun", "email", mail_keys, true, &make_mailgun_adapter, email::default_max_body,
     mailgun_out, &build_mailgun_send, &read_mailgun_answer},
    {"sendgrid", "email", sendgrid_keys, true, &make_sendgrid_adapter, email::default_max_body,
     mail_api_out, &build_sendgrid_send, &read_sendgrid_answer},
    {"postmark", "email", postmark_keys, true, &make_postmark_adapter, email::default_max_body,
     postmark_out, &build_postmark_send, &read_postmark_answer},
    {"mime", "email", mail_keys, true, &make_mime_adapter, email::default_max_body, smtp_out,
     &build_smtp_send, &read_smtp_answer},
    {"messenger", "social", meta_keys, true, &make_messenger_adapter, 0, meta_out,
     &build_messenger_send, &read_meta_send_answer},
    {"instagram", "social", meta_keys, true, &make_instagram_adapter, 0, meta_out,
     &build_instagram_send, &read_meta_send_answer},
    {"whatsapp", "social", meta_keys, true, &make_whatsapp_adapter, whatsapp_default_max_body,
     token_out, &build_whatsapp_send, &read_whatsapp_answer},
    {"x", "social", {}, true, &make_x_adapter, 0, token_out, &build_x_send, &read_x_answer},
    {"callback", "phone", contact_keys, true, &make_callback_adapter, 0},
    {"twilio", "phone", twilio_keys, true, &make_twilio_adapter, 0, twilio_out, &build_twilio_send,
     &read_twilio_answer},
    {"telegram", "social", telegram_keys, true, &make_telegram_adapter, 0, token_out,
     &build_telegram_send, &read_telegram_answer},
};

}  // namespace

std::span<const channel_type_info> channel_types() noexcept { return registry; }

const channel_type_info* find_channel_type(std::string_view type) noexcept {
  for (const auto& info : registry)
    if (info.type == type) return &info;
  return nullptr;
}

}  // namespace sb
