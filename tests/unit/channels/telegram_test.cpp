#include "channels/telegram/telegram.hpp"

#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

// What `openssl rand -hex 32` gives, and a second one for rotation.
const std::string token_a = "5c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";
const std::string token_b = "Support_Bot-token_2026-11_rotated";

channel_config telegram_config(std::vector<std::string> secrets = {token_a},
                               std::string bot_username = "example_support_bot") {
  return test_channel("telegram", "telegram", std::move(secrets),
                      {{"bot_username", std::move(bot_username)}});
}

// As Telegram's servers send it.
request post(std::string body, std::string token = token_a) {
  request r{.target = "/v1/webhooks/telegram", .now = test_now};
  r.body = std::move(body);
  r.fields = {{"Host", "support.example.com"},
              {"Content-Type", "application/json"},
              {"X-Telegram-Bot-Api-Secret-Token", std::move(token)}};
  return r;
}

std::string fixture(const std::string& name) { return read_fixture("telegram", name); }

SB_ADAPTER_STEPS(make_telegram_adapter, telegram_config(), message_without_ack, refusal)

void ignored(request& r, const channel_config& cfg = telegram_config()) {
  const parse_result res = accepted_result(receive(r, cfg));
  CHECK(res.messages.empty());
  CHECK(res.ignored == 1);
}

const boost::json::object& telegram_of(const inbound_message& m) {
  return object_at(m, "telegram");
}

// A message update with `fields` spliced into the message object.
std::string update(std::string_view fields, std::int64_t update_id = 1000) {
  return R"({"update_id":)" + std::to_string(update_id) +
         R"(,"message":{"message_id":7,"from":{"id":42,"is_bot":false,"first_name":"Ann"},)"
         R"("chat":{"id":42,"type":"private"},"date":1795341600)" +
         (fields.empty() ? "" : "," + std::string(fields)) + "}}";
}

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_telegram_adapter validates the secret tokens") {
  SUBCASE("valid") {
    CHECK(make_telegram_adapter(telegram_config()).has_value());
    CHECK(make_telegram_adapter(telegram_config({token_a, token_b})).has_value());
    CHECK(make_telegram_adapter(telegram_config({std::string(256, 'a')}, "")).has_value());
    CHECK(make_telegram_adapter(telegram_config({token_a + "\n"})).has_value());
  }
  SUBCASE("no secret") {
    auto a = make_telegram_adapter(telegram_config({}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail ==
          "a telegram channel needs a secret: the secret_token given to setWebhook (secret or "
          "secret_file)");
  }
  SUBCASE("too short or too long") {
    auto a = make_telegram_adapter(telegram_config({"short-token"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail ==
          "secret must be 16 to 256 characters long (it has 11); generate one with openssl rand "
          "-hex 32");
    auto b = make_telegram_adapter(telegram_config({token_a, std::string(257, 'a')}));
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().detail.starts_with("secret 2 of 2 must be 16 to 256 characters long"));
  }
  SUBCASE("characters Telegram refuses; never echoed") {
    auto a = make_telegram_adapter(telegram_config({"s3cr3t+token/with=base64"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "secret may only contain A-Z, a-z, 0-9, _ and - (Telegram's rule)");
    CHECK(a.error().detail.find("s3cr3t") == std::string::npos);
  }
}

// ---- valid updates -------------------------------------------------------------------------

TEST_CASE("a text message is mapped field by field") {
  request r = post(fixture("message_text.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "732104519");
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK(m.identities == std::vector<identity>{{"telegram", "5512398841"}});
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.language == "lv");
  CHECK(m.sent_at == parse_time("2026-11-22T10:00:00Z"));
  CHECK(m.recipient == "example_support_bot");
  CHECK(m.text == "Labdien! Mans rēķins ir nepareizs 🧾 — vai varat palīdzēt? 🙏");
  CHECK(m.attachments.empty());
  CHECK(m.extra.size() == 1);
  const auto& tg = telegram_of(m);
  CHECK(tg.at("chat_id").as_int64() == 5512398841);
  CHECK(tg.at("chat_type").as_string() == "private");
  CHECK(tg.at("message_id").as_int64() == 1187);
  CHECK(tg.at("username").as_string() == "janis_b");
  CHECK_FALSE(tg.contains("file_ids"));
}

TEST_CASE("a photo: the largest size, its file_id, and the caption as text") {
  request r = post(fixture("message_photo.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "732104520");
  CHECK(m.text == "Šeit ir ekrānuzņēmums 📸");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "photo");
  CHECK(m.attachments[0].content_type == "image/jpeg");
  CHECK(m.attachments[0].size == 84122);
  CHECK(m.attachments[0].url.empty());  // only the bot token can fetch it
  CHECK(m.attachments[0].fetch_kind == "telegram");
  CHECK(m.attachments[0].fetch_ref == "AgACAgQAAxkBAAIEn2c1-large");
  const auto& ids = telegram_of(m).at("file_ids").as_array();
  REQUIRE(ids.size() == 1);
  CHECK(ids[0].as_string() == "AgACAgQAAxkBAAIEn2c1-large");
}

TEST_CASE("a document keeps its name, type and size") {
  request r = post(fixture("message_document.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "732104521");
  CHECK(m.text.empty());
  CHECK(m.sender_name == "Jānis");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "rēķins-2026-11.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 48213);
  CHECK(m.attachments[0].url.empty());
  CHECK(m.attachments[0].fetch_kind == "telegram");
  CHECK(m.attachments[0].fetch_ref == "BQACAgQAAxkBAAIEoGc1-doc");
  const auto& ids = telegram_of(m).at("file_ids").as_array();
  REQUIRE(ids.size() == 1);
  CHECK(ids[0].as_string() == "BQACAgQAAxkBAAIEoGc1-doc");  // not the thumbnail's
}

TEST_CASE("an edited message is marked, and dated when it was edited") {
  request r = post(fixture("edited_message.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "732104522");
  CHECK(m.text ==
        "Labdien! Mans novembra rēķins ir nepareizs 🧾 — vai varat palīdzēt? 🙏");
  CHECK(m.sent_at == parse_time("2026-11-22T10:00:25Z"));
  CHECK(m.extra.at("edited").as_bool());
  CHECK(telegram_of(m).at("message_id").as_int64() == 1187);  // the message it changes
}

TEST_CASE("an unedited message carries no edited flag") {
  request r = post(update(R"("text":"hi")"));
  CHECK_FALSE(accepted(r).extra.contains("edited"));
}

TEST_CASE("other files: voice, audio, video, video notes, stickers, animations") {
  SUBCASE("a voice note") {
    request r = post(update(
        R"("voice":{"duration":4,"mime_type":"audio/ogg","file_id":"AwACAgQ-voice","file_unique_id":"u","file_size":15311})"));
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "voice.ogg");
    CHECK(m.attachments[0].content_type == "audio/ogg");
    CHECK(m.attachments[0].size == 15311);
    CHECK(m.attachments[0].fetch_kind == "telegram");
    CHECK(m.attachments[0].fetch_ref == "AwACAgQ-voice");
    CHECK(telegram_of(m).at("file_ids").as_array()[0].as_string() == "AwACAgQ-voice");
  }
  SUBCASE("an animated sticker") {
    request r = post(update(
        R"("sticker":{"width":512,"height":512,"emoji":"👍","is_animated":true,"is_video":false,"type":"regular","file_id":"CAACAgIA-stk","file_unique_id":"u","file_size":12201})"));
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "sticker");
    CHECK(m.attachments[0].content_type == "application/x-tgsticker");
  }
  SUBCASE("an animation arrives with a document copy: one attachment") {
    request r = post(update(
        R"("animation":{"file_name":"funny.mp4","mime_type":"video/mp4","duration":3,"width":320,"height":240,"file_id":"CgACAgQ-anim","file_unique_id":"u","file_size":90210},)"
        R"("document":{"file_name":"funny.mp4","mime_type":"video/mp4","file_id":"CgACAgQ-anim","file_unique_id":"u","file_size":90210})"));
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "funny.mp4");
    CHECK(telegram_of(m).at("file_ids").as_array().size() == 1);
  }
  SUBCASE("a document without a name or type") {
    request r = post(update(R"("document":{"file_id":"BQAC-x","file_unique_id":"u"})"));
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "document");
    CHECK(m.attachments[0].content_type.empty());
    CHECK_FALSE(m.attachments[0].size.has_value());
  }
}

TEST_CASE("senders, chats and languages") {
  SUBCASE("only a first name; a language tag with a region") {
    request r = post(
        R"({"update_id":5,"message":{"message_id":1,"from":{"id":77,"is_bot":false,"first_name":"Zoë","language_code":"pt-br"},)"
        R"("chat":{"id":77,"type":"private"},"date":1795341600,"text":"Olá"}})");
    const inbound_message m = accepted(r);
    CHECK(m.sender_name == "Zoë");
    CHECK(m.language == "pt");
    CHECK_FALSE(telegram_of(m).contains("username"));
  }
  SUBCASE("a group chat with a negative id") {
    request r = post(
        R"({"update_id":6,"message":{"message_id":3,"from":{"id":77,"is_bot":false,"first_name":"Ann","last_name":"Lee"},)"
        R"("chat":{"id":-1001234567890,"title":"Customers","type":"supergroup"},"date":1795341600,"text":"@example_support_bot help"}})");
    const inbound_message m = accepted(r);
    CHECK(m.identities == std::vector<identity>{{"telegram", "77"}});
    CHECK(m.sender_name == "Ann Lee");
    CHECK(telegram_of(m).at("chat_id").as_int64() == -1001234567890);
    CHECK(telegram_of(m).at("chat_type").as_string() == "supergroup");
    CHECK(telegram_of(m).at("chat_title").as_string() == "Customers");
    CHECK(m.visibility == "public");  // every member of the group reads it
    CHECK_FALSE(m.language.has_value());
  }
  SUBCASE("a private chat is private") {
    request r = post(update(R"("text":"hi")"));
    CHECK(accepted(r).visibility == "private");
  }
  SUBCASE("without bot_username the recipient is the channel") {
    request r = post(update(R"("text":"hi")"));
    CHECK(accepted(r, telegram_config({token_a}, "")).recipient == "telegram");
  }
  SUBCASE("bot_username written with an @") {
    request r = post(update(R"("text":"hi")"));
    CHECK(accepted(r, telegram_config({token_a}, "@example_support_bot")).recipient ==
          "example_support_bot");
  }
  SUBCASE("unicode in many scripts, raw and escaped") {
    request r = post(update(R"("text":"Привет 👋🏽 日本語 \u0101\ud83e\uddfe")"));
    CHECK(accepted(r).text == "Привет 👋🏽 日本語 ā🧾");
  }
}

TEST_CASE("updates that are not a customer writing are ignored") {
  SUBCASE("a button press, the bot blocked, a post in a channel") {
    for (const std::string name :
         {"callback_query.json", "my_chat_member.json", "channel_post.json"}) {
      CAPTURE(name);
      request r = post(fixture(name));
      ignored(r);
    }
  }
  SUBCASE("kinds this version does not know") {
    request r = post(R"({"update_id":9,"message_reaction":{"chat":{"id":1,"type":"private"}}})");
    ignored(r);
  }
  SUBCASE("an update with nothing but its id") {
    request r = post(R"({"update_id":9})");
    ignored(r);
  }
  SUBCASE("a member joining, a poll, dice: nothing to read") {
    for (const std::string& fields :
         {R"("new_chat_members":[{"id":99,"is_bot":false,"first_name":"Bo"}])"s,
          R"("dice":{"emoji":"🎲","value":4})"s}) {
      CAPTURE(fields);
      request r = post(update(fields));
      ignored(r);
    }
  }
  SUBCASE("a message with no sender (on behalf of a channel)") {
    request r = post(
        R"({"update_id":9,"message":{"message_id":1,"sender_chat":{"id":-100,"type":"channel"},"chat":{"id":-100,"type":"channel"},"date":1795341600,"text":"hi"}})");
    ignored(r);
  }
  // Telegram's placeholder senders (Bot API: "from ... for messages sent on behalf of a chat,
  // the field contains a fake sender user"): GroupAnonymousBot, Channel_Bot, "Telegram".
  SUBCASE("a message on behalf of a chat, under a placeholder sender") {
    request r = post(
        R"({"update_id":10,"message":{"message_id":2,"from":{"id":1087968824,"is_bot":true,"first_name":"Group","username":"GroupAnonymousBot"},"sender_chat":{"id":-1001234567890,"title":"Customers","type":"supergroup"},"chat":{"id":-1001234567890,"title":"Customers","type":"supergroup"},"date":1795341600,"text":"admins here"}})");
    ignored(r);
  }
}

// Bot API "Location", "Venue" and "Contact" objects (core.telegram.org/bots/api).
TEST_CASE("locations, venues and contacts are kept, as data and as text") {
  SUBCASE("a location pin") {
    request r = post(update(R"("location":{"latitude":56.949649,"longitude":24.105186})"));
    const inbound_message m = accepted(r);
    CHECK(m.text == "Location: 56.949649, 24.105186");
    CHECK(m.generated_text_from == 0);
    CHECK(m.extra.at("location").as_object().at("latitude").as_double() ==
          doctest::Approx(56.949649));
  }
  SUBCASE("a live location; its moves, which arrive as edits, are not messages") {
    request r = post(update(
        R"("location":{"latitude":56.9,"longitude":24.1,"live_period":900,"horizontal_accuracy":12.5})"));
    const inbound_message m = accepted(r);
    CHECK(m.extra.at("live_location").as_bool());
    request move = post(
        R"({"update_id":1001,"edited_message":{"message_id":7,"from":{"id":42,"is_bot":false,"first_name":"Ann"},)"
        R"("chat":{"id":42,"type":"private"},"date":1795341600,"edit_date":1795341660,)"
        R"("location":{"latitude":56.91,"longitude":24.11,"live_period":900,"heading":90}}})");
    ignored(move);
  }
  SUBCASE("a venue, with its location beside it") {
    request r = post(update(
        R"("location":{"latitude":56.944328,"longitude":24.114316},"venue":{"location":{"latitude":56.944328,"longitude":24.114316},"title":"Rīgas Centrāltirgus","address":"Nēģu iela 7, Rīga","foursquare_id":"4b5b1f2bf964a520f5e428e3"})"));
    const inbound_message m = accepted(r);
    CHECK(m.text == "Location: Rīgas Centrāltirgus, Nēģu iela 7, Rīga (56.944328, 24.114316)");
    CHECK(m.extra.at("location").as_object().at("name").as_string() == "Rīgas Centrāltirgus");
  }
  SUBCASE("a contact card") {
    request r = post(update(
        R"("contact":{"phone_number":"+37126123456","first_name":"Ann","last_name":"Lee","user_id":42})"));
    const inbound_message m = accepted(r);
    CHECK(m.text == "Contact: Ann Lee, +37126123456");
    REQUIRE(m.extra.at("contacts").as_array().size() == 1);
    CHECK(m.identities ==
          std::vector<identity>{{"telegram", "42"}});  // the sender's, not the card's
  }
  SUBCASE("a caption with a location keeps the caption first") {
    request r =
        post(update(R"("caption":"mēs esam šeit","location":{"latitude":56.9,"longitude":24.1})"));
    const inbound_message m = accepted(r);
    CHECK(m.text == "mēs esam šeit\nLocation: 56.900000, 24.100000");
    CHECK(m.generated_text_from == std::string("mēs esam šeit\n").size());
  }
}

// ---- malformed bodies --------------------------------------------------------------------

TEST_CASE("an update without a usable update_id is refused") {
  const std::pair<std::string, std::string_view> cases[] = {
      {R"({"message":{}})", "field update_id is required"},
      {R"({"update_id":"732104519","message":{}})", "field update_id must be an integer"},
      {R"({"update_id":1.5})", "field update_id must be an integer"},
      {R"({"update_id":-1})", "field update_id must not be negative"},
      {R"({"update_id":18446744073709551615})", "field update_id is out of range"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return post(std::move(body)); },
      [](request& r) { return refused(r); });
}

// Telegram delivers nothing more to a bot until an update is acknowledged: a message that
// cannot be read is kept, and answered 2xx.
TEST_CASE("a message with missing fields or wrong types is kept, naming the field") {
  const std::pair<std::string, std::string_view> cases[] = {
      {R"({"update_id":1,"message":"hi"})", "field message must be an object"},
      {R"({"update_id":1,"edited_message":[]})", "field edited_message must be an object"},
      {R"({"update_id":1,"message":{"from":"Ann","chat":{"id":1},"text":"hi"}})",
       "field message.from must be an object"},
      {R"({"update_id":1,"message":{"from":{"first_name":"Ann"},"chat":{"id":1},"text":"hi"}})",
       "field message.from.id is required"},
      {R"({"update_id":1,"message":{"from":{"id":"42"},"chat":{"id":1},"text":"hi"}})",
       "field message.from.id must be an integer"},
      {R"({"update_id":1,"message":{"from":{"id":42,"first_name":7},"chat":{"id":1},"text":"hi"}})",
       "field message.from.first_name must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42,"language_code":["lv"]},"chat":{"id":1},"text":"hi"}})",
       "field message.from.language_code must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"text":"hi"}})",
       "field message.chat is required"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"type":"private"},"text":"hi"}})",
       "field message.chat.id is required"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1,"type":1},"text":"hi"}})",
       "field message.chat.type must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"date":"today","text":"hi"}})",
       "field message.date must be an integer"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"date":-5,"text":"hi"}})",
       "field message.date is out of range"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"date":99999999999999,"text":"hi"}})",
       "field message.date is out of range"},
      {R"({"update_id":1,"edited_message":{"from":{"id":42},"chat":{"id":1},"edit_date":"x","text":"hi"}})",
       "field edited_message.edit_date must be an integer"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"message_id":"7","text":"hi"}})",
       "field message.message_id must be an integer"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"text":12}})",
       "field message.text must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"caption":{}}})",
       "field message.caption must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"photo":{"file_id":"x"}}})",
       "field message.photo must be an array"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"photo":["x"]}})",
       "field message.photo[0] must be an object"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"photo":[{"file_id":"a"},{"width":90}]}})",
       "field message.photo[1].file_id is required"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"photo":[{"file_id":"a","width":"90"}]}})",
       "field message.photo[0].width must be an integer"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"document":"BQAC"}})",
       "field message.document must be an object"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"document":{"file_id":"a","file_size":-1}}})",
       "field message.document.file_size must not be negative"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"document":{"file_id":"a","file_name":5}}})",
       "field message.document.file_name must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"voice":{"mime_type":"audio/ogg"}}})",
       "field message.voice.file_id is required"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"sticker":{"file_id":7}}})",
       "field message.sticker.file_id must be a string"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"location":{"latitude":"56.9","longitude":24.1}}})",
       "field message.location.latitude must be a number"},
      {R"({"update_id":1,"message":{"from":{"id":42},"chat":{"id":1},"venue":{"title":"x"}}})",
       "field message.venue.location is required"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.reason == detail);
    CHECK(u.path ==
          (body.find("edited_message") != std::string::npos ? "edited_message" : "message"));
  }
}

TEST_CASE("bodies that are not one JSON object") {
  const std::string text = fixture("message_text.json");
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "body is not valid JSON (UTF-8)"},
      {text.substr(0, text.size() - 20), "body is not valid JSON (UTF-8)"},  // truncated
      {R"({"update_id":1,})", "body is not valid JSON (UTF-8)"},
      {R"([{"update_id":1}])", "body must be a JSON object"},
      {"732104519", "body must be a JSON object"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("invalid UTF-8 is refused") {
  for (const std::string& bad : {"bad \xff byte"s, "overlong \xc0\xaf"s, "\\udc00 lone"s}) {
    CAPTURE(bad);
    request r = post(update(R"("text":")" + bad + R"(")"));
    CHECK(refused(r).detail == "body is not valid JSON (UTF-8)");
  }
}

TEST_CASE("nesting is bounded") {
  SUBCASE("deep enough for Telegram's own nesting (a reply inside a message)") {
    request r = post(update(
        R"("text":"yes","reply_to_message":{"message_id":6,"from":{"id":7012345678,"is_bot":true,"first_name":"Bot"},"chat":{"id":42,"type":"private"},"date":1795341500,"text":"Did that help?","reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"y"}]]}})"));
    CHECK(accepted(r).text == "yes");
  }
  SUBCASE("a hostile depth") {
    request r = post(R"({"update_id":1,"x":)" + std::string(100'000, '[') +
                     std::string(100'000, ']') + "}");
    CHECK(refused(r).detail == "body is nested too deeply");
  }
}

// ---- content type --------------------------------------------------------------------------

TEST_CASE("Content-Type must be JSON, checked after the secret token") {
  SUBCASE("with a charset") {
    request r = post(update(R"("text":"hi")"));
    r.set("Content-Type", "application/json; charset=utf-8");
    accepted(r);
  }
  SUBCASE("other types") {
    for (const std::string ct : {"text/plain", "application/x-www-form-urlencoded", ""}) {
      CAPTURE(ct);
      request r = post(update(R"("text":"hi")"));
      r.set("Content-Type", ct);
      const error e = refused(r);
      CHECK(e.code == errc::unsupported_media_type);
      CHECK(e.detail == "Content-Type must be application/json");
    }
  }
  SUBCASE("missing") {
    request r = post(update(R"("text":"hi")"));
    r.remove("Content-Type");
    CHECK(refused(r).code == errc::unsupported_media_type);
  }
  SUBCASE("a wrong token with a wrong type: 401") {
    request r = post("not json", token_b);
    r.set("Content-Type", "text/plain");
    CHECK(refused(r).code == errc::bad_signature);
  }
}

// ---- the secret token ------------------------------------------------------------------------

TEST_CASE("every kind of bad secret token is a 401") {
  request r = post(fixture("message_text.json"));
  auto check_refused = [&](std::string_view detail, const channel_config& cfg = telegram_config()) {
    check_bad_signature(refused(r, cfg), detail);
  };
  SUBCASE("missing") {
    r.remove("X-Telegram-Bot-Api-Secret-Token");
    check_refused("missing header X-Telegram-Bot-Api-Secret-Token");
  }
  SUBCASE("empty") {
    r.set("X-Telegram-Bot-Api-Secret-Token", "");
    check_refused("missing header X-Telegram-Bot-Api-Secret-Token");
  }
  SUBCASE("another token") {
    r.set("X-Telegram-Bot-Api-Secret-Token", token_b);
    check_refused("secret token does not match");
  }
  SUBCASE("a prefix of the token") {
    r.set("X-Telegram-Bot-Api-Secret-Token", token_a.substr(0, token_a.size() - 1));
    check_refused("secret token does not match");
  }
  SUBCASE("the token and more") {
    r.set("X-Telegram-Bot-Api-Secret-Token", token_a + "0");
    check_refused("secret token does not match");
  }
  SUBCASE("the token in another case") {
    std::string upper = token_a;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    r.set("X-Telegram-Bot-Api-Secret-Token", upper);
    check_refused("secret token does not match");
  }
  SUBCASE("the bot token in place of the secret token") {
    r.set("X-Telegram-Bot-Api-Secret-Token", "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
    check_refused("secret token does not match");
  }
  SUBCASE("neither of two rotated tokens") {
    r.set("X-Telegram-Bot-Api-Secret-Token", "an-old-token-that-was-retired-0001");
    check_refused("secret token does not match", telegram_config({token_a, token_b}));
  }
}

TEST_CASE("header names are case-insensitive, and key rotation accepts any configured token") {
  SUBCASE("lower-case header name") {
    request r = post(update(R"("text":"hi")"));
    r.remove("X-Telegram-Bot-Api-Secret-Token");
    r.set("x-telegram-bot-api-secret-token", token_a);
    accepted(r);
  }
  SUBCASE("the new token") {
    request r = post(update(R"("text":"hi")"), token_b);
    accepted(r, telegram_config({token_a, token_b}));
  }
  SUBCASE("the old token") {
    request r = post(update(R"("text":"hi")"), token_a);
    accepted(r, telegram_config({token_a, token_b}));
  }
}

TEST_CASE("the provider id is the update_id: a redelivery is the same message") {
  request first = post(update(R"("text":"hi")", 732104600));
  request again = post(update(R"("text":"hi")", 732104600));
  request next = post(update(R"("text":"hi")", 732104601));
  CHECK(accepted(first).provider_id == "732104600");
  CHECK(accepted(again).provider_id == "732104600");
  CHECK(accepted(next).provider_id == "732104601");
}

}  // namespace
}  // namespace sb
