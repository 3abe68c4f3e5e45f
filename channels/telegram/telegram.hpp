// `telegram`: a Telegram bot's webhook (setWebhook with a secret_token). Each POST is one Update;
// `message` and `edited_message` updates become messages (text, caption, photo, document and
// other files), everything else (channel posts, callback queries, member changes) is ignored.
// The secret is the token Telegram echoes in X-Telegram-Bot-Api-Secret-Token.
// Identity: telegram = the sender's user id. The bot's side is docs/channels/telegram.md.
#pragma once

#include "channels/channel.hpp"

#include <string_view>

namespace sb {

struct fetch_step;  // channels/fetch.hpp

// The Bot API's base (outbound api_base overrides it), for sends and files.
inline constexpr std::string_view telegram_default_api_base = "https://api.telegram.org";

result<std::unique_ptr<adapter>> make_telegram_adapter(const channel_config& cfg);

// Replies (channels/send.hpp): Bot API sendMessage to the chat the answered message came from.
result<http_call> build_telegram_send(const channel_config& cfg, const outgoing& o);
send_outcome read_telegram_answer(const http_response& r);

// Customers' files (channels/fetch.hpp, kind "telegram"): getFile with the outbound token, then
// the file_path it answers with.
result<fetch_step> first_telegram_fetch(const channel_config& cfg, std::string_view file_id);
result<fetch_step> next_telegram_fetch(const channel_config& cfg, const http_response& answer);

}  // namespace sb
