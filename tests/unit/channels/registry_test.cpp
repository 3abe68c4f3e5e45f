// The channel-type registry (channels/registry.cpp): each type's row, in one table.
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
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb {
namespace {

using fixtures::adapter_factory;

// What a channel type's row must say.
struct row {
  std::string_view type;
  adapter_factory make;
  std::string_view kind;
  std::vector<std::string_view> option_keys;  // exactly these, in this order
  std::size_t default_max_body = 0;           // 0: the server's limit
  // The outbound keys in order, "!" after a required one, "*" after a secret one.
  std::vector<std::string> outbound;
};

constexpr std::size_t MiB = 1024 * 1024;

const std::vector<row> expected = {
    {"chat",
     &make_chat_adapter,
     "chat",
     {"default_country", "identities_verified"},
     0,
     {"url!", "secret*"}},
    {"mailgun",
     &make_mailgun_adapter,
     "email",
     {"trusted_authserv_id"},
     25 * MiB,
     {"api_base", "domain!", "token!*", "from!"}},
    {"sendgrid",
     &make_sendgrid_adapter,
     "email",
     {"username"},
     25 * MiB,
     {"api_base", "token!*", "from!"}},
    {"postmark",
     &make_postmark_adapter,
     "email",
     {"username", "trusted_authserv_id"},
     25 * MiB,
     {"api_base", "token!*", "from!", "message_stream"}},
    {"mime",
     &make_mime_adapter,
     "email",
     {"trusted_authserv_id"},
     25 * MiB,
     {"smtp_url!", "from!", "username", "password*", "starttls"}},
    {"messenger",
     &make_messenger_adapter,
     "social",
     {"verify_token"},
     0,
     {"api_base", "token!*", "human_agent"}},
    {"instagram",
     &make_instagram_adapter,
     "social",
     {"verify_token"},
     0,
     {"api_base", "token!*", "human_agent"}},
    // A WhatsApp batch can be larger than the server's default limit.
    {"whatsapp",
     &make_whatsapp_adapter,
     "social",
     {"verify_token"},
     3 * MiB,
     {"api_base", "token!*"}},
    {"x", &make_x_adapter, "social", {}, 0, {"api_base", "token!*"}},
    // A callback request has no text channel back: no outbound keys.
    {"callback", &make_callback_adapter, "phone", {"default_country", "identities_verified"}},
    {"twilio",
     &make_twilio_adapter,
     "phone",
     {"public_url", "default_country"},
     0,
     {"api_base", "account_sid!", "token!*"}},
    {"telegram", &make_telegram_adapter, "social", {"bot_username"}, 0, {"api_base", "token!*"}},
};

TEST_CASE("every channel type is registered with its factory, kind, options and body limit") {
  CHECK(channel_types().size() == expected.size());
  for (const row& want : expected) {
    CAPTURE(want.type);
    const channel_type_info* info = find_channel_type(want.type);
    REQUIRE(info != nullptr);
    CHECK(info->type == want.type);
    CHECK((info->make == want.make));
    CHECK(info->kind == want.kind);
    CHECK(info->needs_secret);
    CHECK(std::vector<std::string_view>(info->option_keys.begin(), info->option_keys.end()) ==
          want.option_keys);
    CHECK(info->default_max_body == want.default_max_body);
    std::vector<std::string> outbound;
    for (const auto& k : info->outbound_keys)
      outbound.push_back(std::string(k.name) + (k.required ? "!" : "") + (k.secret ? "*" : ""));
    CHECK(outbound == want.outbound);
    // The types whose replies are delivered (channels/send.hpp) have both halves: every type
    // with outbound keys.
    const bool sends = !want.outbound.empty();
    CHECK((info->build_send != nullptr) == sends);
    CHECK((info->read_send_answer != nullptr) == sends);
  }
  CHECK(find_channel_type("sms") == nullptr);
}

}  // namespace
}  // namespace sb
