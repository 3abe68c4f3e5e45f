#include "channels/instagram/instagram.hpp"

#include "channels/meta/meta.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

using namespace fixtures;

const std::string app_secret = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
const std::string account = "17841405822304914";

const meta_test_channel ig{"ig-shop", "instagram", app_secret, "ig-verify-55"};

SB_ADAPTER_STEPS(make_instagram_adapter, ig.config(), whole_result, refusal)

std::string changes(const std::string& field, const std::string& value) {
  return R"({"object":"instagram","entry":[{"id":")" + account +
         R"(","time":1795341700,"changes":[{"field":")" + field + R"(","value":)" + value + "}]}]}";
}

TEST_CASE("direct messages: several in a batch, echoes outbound, receipts ignored") {
  request r = ig.signed_post(ig.fixture("messaging_batch.json"));
  const parse_result res = accepted(r);
  // read, reaction and an unsent message
  CHECK(res.ignored == 3);
  // The read receipt names the message read: a status for the reply sent with that id.
  REQUIRE(res.statuses.size() == 1);
  CHECK(res.statuses[0].status == "read");
  CHECK(res.statuses[0].provider_id.starts_with("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"));
  CHECK_FALSE(res.statuses[0].watermark_for);
  REQUIRE(res.messages.size() == 3);
  const std::vector<identity> customer{{"instagram", account + ":1130945826719384"}};

  const inbound_message& text = res.messages[0];
  CHECK(text.text == "Sveiki! Vai šī kleita ir pieejama arī sarkanā krāsā? 👗❤️");
  CHECK(text.identities == customer);
  CHECK(text.direction == "inbound");
  CHECK(text.visibility == "private");
  CHECK(text.recipient == account);
  CHECK(text.sent_at == 1'795'341'600'500);
  CHECK(text.provider_id.starts_with("aWdfZAG1faXRlbToxOklHTWVzc2FnZA"));

  const inbound_message& story = res.messages[1];
  REQUIRE(story.attachments.size() == 1);
  // Instagram's CDN URLs name no file: the attachment is named by its type.
  CHECK(story.attachments[0].name == "image");
  CHECK(story.attachments[0].url.starts_with("https://lookaside.fbsbx.com/ig_messaging_cdn/"));
  const auto& st = story.extra.at("story").as_object();
  CHECK(st.at("id").as_string() == "17998877665544332");
  CHECK(st.at("url").as_string().starts_with("https://lookaside.fbsbx.com/"));

  const inbound_message& echo = res.messages[2];
  CHECK(echo.direction == "outbound");
  CHECK(echo.identities == customer);
  CHECK(echo.text == "Jā, sarkanā ir pieejama izmēros S un M.");
}

TEST_CASE("comments and mentions are public") {
  request r = ig.signed_post(ig.fixture("comments_mentions.json"));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 1);  // story_insights
  REQUIRE(res.messages.size() == 5);

  SUBCASE("a comment on the account's media") {
    const inbound_message& m = res.messages[0];
    CHECK(m.visibility == "public");
    CHECK(m.direction == "inbound");
    CHECK(m.provider_id == "17982736451029384");
    CHECK(m.identities == std::vector<identity>{{"instagram", account + ":1130945826719384"}});
    CHECK(m.sender_name == "anna.berzina");
    CHECK(m.text == "Cik maksā piegāde uz Rīgu? 🚚");
    const auto& post = m.extra.at("post").as_object();
    CHECK(post.at("media_id").as_string() == "18045671234509876");
    CHECK(post.at("comment_id").as_string() == "17982736451029384");
    CHECK_FALSE(m.sent_at.has_value());  // comment notifications carry no time
  }
  SUBCASE("the account's own reply is outbound") {
    const inbound_message& m = res.messages[1];
    CHECK(m.direction == "outbound");
    CHECK(m.extra.at("reply_to").as_string() == "17982736451029384");
    CHECK(m.sender_name.empty());
  }
  SUBCASE("a live comment") {
    const inbound_message& m = res.messages[2];
    CHECK(m.extra.at("live").as_bool());
    CHECK(m.sender_name == "kristaps_k");
  }
  SUBCASE("a mention in a comment: ids only") {
    const inbound_message& m = res.messages[3];
    CHECK(m.visibility == "public");
    CHECK(m.provider_id == "17894227972186120");
    // The author is unknown: a customer of its own, never merged with anyone.
    CHECK(m.identities ==
          std::vector<identity>{{"instagram", account + ":mention:17894227972186120"}});
    CHECK(m.sender_name.empty());
    CHECK(m.text.empty());
    CHECK(m.extra.at("mention").as_bool());
    CHECK(m.extra.at("post").as_object().at("media_id").as_string() == "17918195224117851");
  }
  SUBCASE("a mention in a caption") {
    CHECK(res.messages[4].provider_id == "17918195224117999");
    CHECK(res.messages[4].identities.at(0).value == account + ":mention:17918195224117999");
    CHECK_FALSE(res.messages[4].extra.at("post").as_object().contains("comment_id"));
  }
}

TEST_CASE("a mention that names its author and text keeps them") {
  request r = ig.signed_post(changes(
      "mentions",
      R"({"media_id":"1","comment_id":"2","text":"@zilais.veikals vai strādājat svētdien?","from":{"id":"884","username":"peteris"}})"));
  const inbound_message m = accepted(r).messages.at(0);
  CHECK(m.text == "@zilais.veikals vai strādājat svētdien?");
  CHECK(m.identities == std::vector<identity>{{"instagram", account + ":884"}});
  CHECK(m.sender_name == "peteris");
}

TEST_CASE("an instagram change that cannot be read is kept, naming the field") {
  const std::pair<std::string, std::string_view> cases[] = {
      {changes("comments", R"({"text":"hi"})"), "field entry[0].changes[0].value.id is required"},
      {changes("comments", R"({"id":"1","text":["hi"]})"),
       "field entry[0].changes[0].value.text must be a string"},
      {changes("comments", R"({"id":"1","from":{"username":"a"}})"),
       "field entry[0].changes[0].value.from.id is required"},
      {changes("comments", R"({"id":"1","media":"m"})"),
       "field entry[0].changes[0].value.media must be an object"},
      {changes("mentions", R"({})"),
       "field entry[0].changes[0].value needs media_id or comment_id"},
      {changes("mentions", "[]"), "field entry[0].changes[0].value must be an object"},
      {R"({"object":"instagram","entry":[{"id":"1","changes":[{"field":7,"value":{}}]}]})",
       "field entry[0].changes[0].field must be a string"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = ig.signed_post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == "entry[0].changes[0]");
    CHECK(u.reason == detail);
  }
  request r = ig.signed_post(R"({"object":"page","entry":[]})");
  CHECK(refused(r).detail ==
        "field object is \"page\"; channel type instagram takes \"instagram\"");
}

// Meta's "Instagram Platform Webhook Notification Examples" documents the comments of apps
// using Instagram Login with field and value directly on the entry.
TEST_CASE("Instagram Login comments with field and value on the entry") {
  request r = ig.signed_post(
      R"({"object":"instagram","entry":[{"id":"17841405726653026","time":1795341600,"field":"comments","value":{"id":"17865799348089039","from":{"id":"1183917212738432","username":"jane.doe"},"text":"Love this! 😍","media":{"id":"18034567890123456","media_product_type":"FEED"}}}]})");
  const inbound_message m = only_message(accepted(r));
  CHECK(m.provider_id == "17865799348089039");
  CHECK(m.visibility == "public");
  CHECK(m.text == "Love this! 😍");
  CHECK(m.identities == std::vector<identity>{{"instagram", "17841405726653026:1183917212738432"}});

  // A flat change that cannot be read is kept; the entry's messaging events are still read.
  request bad = ig.signed_post(
      R"({"object":"instagram","entry":[{"id":"17841405726653026","time":1795341600,"messaging":[{"sender":{"id":"1183917212738432"},"recipient":{"id":"17841405726653026"},"timestamp":1795341600000,"message":{"mid":"aWdfZAG1-flat","text":"hello"}}],"field":"comments","value":{"text":"no id"}}]})");
  const parse_result res = accepted(bad);
  REQUIRE(res.messages.size() == 1);
  CHECK(res.messages[0].text == "hello");
  REQUIRE(res.unreadable.size() == 1);
  CHECK(res.unreadable[0].path == "entry[0]");
  CHECK(res.unreadable[0].reason == "field entry[0].value.id is required");
}

TEST_CASE("unknown change fields are ignored, not refused") {
  request r = ig.signed_post(changes("message_reactions", R"({"anything":[1,2,3]})"));
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 1);
}

TEST_CASE("instagram signatures") {
  request r =
      ig.signed_post(ig.fixture("comments_mentions.json"), "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4c");
  CHECK(refused(r).detail == "signature does not match");
  r.fields.pop_back();
  CHECK(refused(r).detail == "missing header X-Hub-Signature-256");
  r = ig.signed_post(ig.fixture("comments_mentions.json"), "a-rotated-secret-0123456789abcdef");
  CHECK(accepted(r, ig.config({app_secret, "a-rotated-secret-0123456789abcdef"})).messages.size() ==
        5);
}

}  // namespace
}  // namespace sb
