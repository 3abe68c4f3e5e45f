#include "channels/x/x.hpp"

#include "channels/crypto.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

using namespace fixtures;

const std::string consumer_secret = "kT9vQ2xW7pL4mN8rS1yB6cF3hJ5dG0aZ2eU7iO9wX4qR8tY1uP";
const std::string old_secret = "Pq1uY8tR4xW9oI7uE2zA0gD5jH3fC6bY1sR8nM4lP7wX2qV9kT";
const std::string account = "1460987654321098752";

channel_config config(std::vector<std::string> secrets = {consumer_secret}) {
  return test_channel("x-support", "x", std::move(secrets));
}

request signed_post(std::string body, const std::string& secret = consumer_secret) {
  request r{.target = "/v1/webhooks/x-support", .now = test_now};
  r.body = std::move(body);
  r.fields = {{"Content-Type", "application/json; charset=utf-8"},
              {"x-twitter-webhooks-signature", x_signature(secret, r.body)}};
  return r;
}

std::string fixture(const std::string& name) { return read_fixture("x", name); }

std::unique_ptr<adapter> make(const channel_config& cfg = config()) {
  auto a = make_x_adapter(cfg);
  REQUIRE(a.has_value());
  return std::move(*a);
}

parse_result accepted(request& r, const channel_config& cfg = config()) {
  return accepted_result(make(cfg)->receive(r.view()));
}

error refused(request& r) { return refusal(make()->receive(r.view())); }

std::string dm(const std::string& sender, const std::string& recipient, const std::string& text) {
  return R"({"for_user_id":")" + account +
         R"(","direct_message_events":[{"type":"message_create","id":"1859613472905728001","created_timestamp":"1795341600250","message_create":{"target":{"recipient_id":")" +
         recipient + R"("},"sender_id":")" + sender + R"(","message_data":{"text":")" + text +
         R"("}}}]})";
}

// ---- config -------------------------------------------------------------------------------------

TEST_CASE("make_x_adapter checks the consumer secret") {
  auto none = make_x_adapter(config({}));
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().detail ==
        "an x channel needs the app's consumer secret (secret or secret_file)");
  auto short_one = make_x_adapter(config({consumer_secret, "tiny"}));
  REQUIRE_FALSE(short_one.has_value());
  CHECK(short_one.error().detail.starts_with("secret 2 of 2 is too short (4 bytes;"));
  CHECK(make_x_adapter(config({consumer_secret + "\n"})).has_value());
}

// ---- the CRC handshake ---------------------------------------------------------------------

request crc(const std::string& query) {
  return {.method = "GET", .target = "/v1/webhooks/x-support" + query, .now = test_now};
}

TEST_CASE("the CRC answer matches an independent HMAC (openssl dgst -sha256 -hmac | base64)") {
  request r = crc("?crc_token=9b4507b3-9040-4669-9ca3-6b94edb50553&nonce=MTU3OTE5MTQ5Mzk3Ng");
  auto a = make()->handshake(r.view());
  REQUIRE(a.has_value());
  CHECK(a->status == 200);
  CHECK(a->content_type == "application/json");
  CHECK(a->body == R"({"response_token":"sha256=3MybbXLRO/SwsIbgFZISH1pIAcd/yenQzDKUgs1zP2U="})");
  CHECK(x_signature(consumer_secret, "9b4507b3-9040-4669-9ca3-6b94edb50553") ==
        "sha256=3MybbXLRO/SwsIbgFZISH1pIAcd/yenQzDKUgs1zP2U=");
}

TEST_CASE("the CRC answer uses the first configured secret") {
  request r = crc("?crc_token=abc");
  auto a = make(config({old_secret, consumer_secret}))->handshake(r.view());
  REQUIRE(a.has_value());
  auto body = boost::json::parse(a->body);
  CHECK(body.at("response_token").as_string() == x_signature(old_secret, "abc"));
}

TEST_CASE("a percent-encoded crc_token is decoded before signing") {
  request r = crc("?crc_token=YWJj%2BZGVm%2F%3D");
  auto a = make()->handshake(r.view());
  REQUIRE(a.has_value());
  CHECK(boost::json::parse(a->body).at("response_token").as_string() ==
        x_signature(consumer_secret, "YWJj+ZGVm/="));
}

TEST_CASE("the crc_token ends where the target ends, in a buffer that goes on") {
  const std::string buffer = "GET /v1/webhooks/x-support?crc_token=abc HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string_view target = std::string_view(buffer).substr(4, buffer.find(" HTTP/1.1") - 4);
  const request_view req{"GET", target, {}, {}, test_now};
  auto a = make()->handshake(req);
  REQUIRE(a.has_value());
  CHECK(boost::json::parse(a->body).at("response_token").as_string() ==
        x_signature(consumer_secret, "abc"));
}

TEST_CASE("CRC refusals are 400s") {
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "query parameter crc_token is required"},
      {"?nonce=1", "query parameter crc_token is required"},
      {"?crc_token=", "query parameter crc_token is required"},
      {"?crc_token=%7B%22for_user_id%22%3A%221%22%7D",
       "query parameter crc_token must be 1..1024 printable ASCII characters without \"{\""},
      {"?crc_token=a%20b",
       "query parameter crc_token must be 1..1024 printable ASCII characters without \"{\""},
      {"?crc_token=" + std::string(1025, 'a'),
       "query parameter crc_token must be 1..1024 printable ASCII characters without \"{\""},
      {"?crc_token=%zz", "the request target cannot be parsed"},
  };
  for (const auto& [query, detail] : cases) {
    CAPTURE(query);
    request r = crc(query);
    auto a = make()->handshake(r.view());
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(describe(a.error().code).http_status == 400);
    CHECK(a.error().detail == detail);
  }
}

TEST_CASE("a CRC answer can never serve as the signature of a body we accept") {
  // The forger asks for the "CRC" of a forged event body and replays it as the signature.
  const std::string forged = dm("3001969357", account, "forged");
  request r = crc("?crc_token=" + forged);
  CHECK_FALSE(make()->handshake(r.view()).has_value());
}

// ---- direct messages -----------------------------------------------------------------------

TEST_CASE("direct messages in both directions; typing and read events ignored") {
  request r = signed_post(fixture("dm_batch.json"));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 2);
  REQUIRE(res.messages.size() == 3);
  // The read event: the customer read our DMs up to event 1859613799123456002, whose snowflake
  // says 2024-11-21T14:36:17.467Z (id >> 22, from X's epoch).
  REQUIRE(res.statuses.size() == 2);
  CHECK(res.statuses[0].provider_id == "1859613799123456002");
  CHECK(res.statuses[0].status == "read");
  CHECK(res.statuses[1].status == "read");
  CHECK(res.statuses[1].watermark_for == identity{"x", "3001969357"});
  CHECK(res.statuses[1].at == (std::int64_t{1859613799123456002} >> 22) + 1'288'834'974'657);

  const inbound_message& in = res.messages[0];
  CHECK(in.provider_id == "1859613472905728001");
  CHECK(in.direction == "inbound");
  CHECK(in.visibility == "private");
  CHECK(in.identities == std::vector<identity>{{"x", "3001969357"}});
  CHECK(in.sender_name == "Līga Ozola");
  CHECK(in.extra.at("screen_name").as_string() == "liga_ozola");
  CHECK(in.text == "Sveiki! Mans pasūtījums #4471 nav piegādāts 😟 https://t.co/xK2mPq9Zr1");
  CHECK(in.sent_at == 1'795'341'600'250);
  CHECK(in.recipient == account);
  REQUIRE(in.attachments.size() == 1);
  CHECK(in.attachments[0].name == "Abc9XyZ1.jpg");
  CHECK(in.attachments[0].content_type == "image/jpeg");
  CHECK(in.attachments[0].url ==
        "https://ton.twitter.com/1.1/ton/data/dm/1859613472905728001/1859613460012345344/"
        "Abc9XyZ1.jpg");

  const inbound_message& out = res.messages[1];
  CHECK(out.direction == "outbound");
  CHECK(out.identities == std::vector<identity>{{"x", "3001969357"}});
  CHECK(out.sender_name.empty());
  CHECK(out.extra.at("screen_name").as_string() == "liga_ozola");
  CHECK(out.text == "Atvainojamies! Pārbaudām sūtījumu #4471.");

  const inbound_message& quick = res.messages[2];
  CHECK(quick.sender_name == "Marek Nowak");
  CHECK(quick.extra.at("quick_reply").as_string() == "order_status_4471");
}

TEST_CASE("a DM without a users map has no name but is kept") {
  request r = signed_post(dm("3001969357", account, "labdien"));
  const inbound_message m = accepted(r).messages.at(0);
  CHECK(m.sender_name.empty());
  CHECK_FALSE(m.extra.contains("screen_name"));
  CHECK(m.text == "labdien");
}

TEST_CASE("unicode escapes in DMs") {
  request r = signed_post(dm("3001969357", account, R"(r\u0113\u0137ins \ud83e\uddfe)"));
  CHECK(accepted(r).messages.at(0).text == "rēķins 🧾");
}

// ---- mentions ------------------------------------------------------------------------------

TEST_CASE("tweets naming the account are public; the account's replies outbound") {
  request r = signed_post(fixture("tweets.json"));
  const parse_result res = accepted(r);
  // the account's own standalone tweet, a retweet, a tweet to someone else
  CHECK(res.ignored == 3);
  REQUIRE(res.messages.size() == 3);

  SUBCASE("a mention") {
    const inbound_message& m = res.messages[0];
    CHECK(m.visibility == "public");
    CHECK(m.direction == "inbound");
    CHECK(m.provider_id == "1859620000000000001");
    CHECK(m.identities == std::vector<identity>{{"x", "3001969357"}});
    CHECK(m.sender_name == "Līga Ozola");
    CHECK(m.extra.at("screen_name").as_string() == "liga_ozola");
    CHECK(m.extra.at("post").as_object().at("tweet_id").as_string() == "1859620000000000001");
    CHECK_FALSE(m.extra.contains("reply_to"));
    CHECK(m.text == "@zilaisveikals mana pakete jau nedēļu ir ceļā, kas notiek? 😤");
    CHECK(m.sent_at == 1'795'341'600'000);
    CHECK(m.recipient == account);
  }
  SUBCASE("a reply to the account, long: the full text and its media") {
    const inbound_message& m = res.messages[1];
    CHECK(m.identities == std::vector<identity>{{"x", "982734561029384756"}});
    CHECK(m.text.starts_with("Thanks, but the tracking link you sent is broken."));
    CHECK(m.text.find("nobody answers the phone") != std::string::npos);
    CHECK(m.extra.at("reply_to").as_string() == "1859610000000000000");
    REQUIRE(m.attachments.size() == 2);
    CHECK(m.attachments[0].name == "GdX1a2B3c4D5e6F.jpg");
    CHECK(m.attachments[0].content_type == "image/jpeg");
    CHECK(m.attachments[1].url ==
          "https://video.twimg.com/ext_tw_video/1859619990000000009/pu/vid/1280x720/high.mp4");
    CHECK(m.attachments[1].content_type == "video/mp4");
    CHECK(m.attachments[1].name == "high.mp4");
  }
  SUBCASE("the account's public answer") {
    const inbound_message& m = res.messages[2];
    CHECK(m.direction == "outbound");
    CHECK(m.visibility == "public");
    CHECK(m.identities == std::vector<identity>{{"x", "3001969357"}});
    CHECK(m.sender_name.empty());
    CHECK(m.extra.at("screen_name").as_string() == "liga_ozola");
    CHECK(m.extra.at("reply_to").as_string() == "1859620000000000001");
  }
}

TEST_CASE("favorites, follows and deletes are ignored") {
  request r = signed_post(fixture("other_events.json"));
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 4);
}

TEST_CASE("non-message DM events are ignored") {
  request r = signed_post(R"({"for_user_id":")" + account +
                          R"(","direct_message_events":[{"type":"message_delete","id":"1"}]})");
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 1);
}

// ---- malformed bodies ----------------------------------------------------------------------

TEST_CASE("malformed X bodies are refused, naming the field") {
  const std::pair<std::string, std::string> cases[] = {
      {"", "body is not valid JSON (UTF-8)"},
      {R"({"for_user_id":"1","direct_message_events":[)", "body is not valid JSON (UTF-8)"},
      {"[]", "body must be a JSON object"},
      {R"({"direct_message_events":[]})", "field for_user_id is required"},
      {R"({"for_user_id":["1"]})", "field for_user_id must be a string"},
      {R"({"for_user_id":"1","direct_message_events":{}})",
       "field direct_message_events must be an array"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return signed_post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("an X event that cannot be read is kept, naming the field") {
  const std::string dm0 = "field direct_message_events[0].";
  const std::string tw0 = "field tweet_create_events[0].";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"9"}]})",
       dm0 + "message_create is required"},
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","message_create":{}}]})",
       dm0 + "id is required"},
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"9","message_create":{"target":{"recipient_id":"1"}}}]})",
       dm0 + "message_create.sender_id is required"},
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"9","message_create":{"sender_id":"2"}}]})",
       dm0 + "message_create.target is required"},
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"9","created_timestamp":"Sun Nov 22","message_create":{"sender_id":"2","target":{"recipient_id":"1"}}}]})",
       dm0 + "created_timestamp must be a unix time (an integer)"},
      {R"({"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"9","message_create":{"sender_id":"2","target":{"recipient_id":"1"},"message_data":{"text":{}}}}]})",
       dm0 + "message_create.message_data.text must be a string"},
      {R"({"for_user_id":"1","tweet_create_events":[{"id_str":"5","text":"@x"}]})",
       tw0 + "user is required"},
      {R"({"for_user_id":"1","tweet_create_events":[{"id_str":"5","user":{"id_str":"2"},"entities":{"user_mentions":[{"id_str":"1"}]},"timestamp_ms":"Sun Nov 22"}]})",
       tw0 + "timestamp_ms must be a unix time (an integer)"},
      {R"({"for_user_id":"1","tweet_create_events":[{"user":{"id_str":"2"},"in_reply_to_user_id_str":"1"}]})",
       tw0 + "id is required"},
      {R"({"for_user_id":"1","tweet_create_events":[{"id_str":"5","user":{"id_str":"2"},"entities":{"user_mentions":"1"}}]})",
       tw0 + "entities.user_mentions must be an array"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = signed_post(body);
    const unreadable_event u = kept_unreadable(make()->receive(r.view()));
    CHECK(u.reason == detail);
    CHECK(u.path == detail.substr(6, detail.find(']') - 5));
  }

  SUBCASE("a users entry that cannot be read costs only the name") {
    request r = signed_post(
        R"({"for_user_id":"1","users":{"2":"Ann"},"direct_message_events":[{"type":"message_create","id":"9","message_create":{"sender_id":"2","target":{"recipient_id":"1"},"message_data":{"text":"hi"}}}]})");
    const parse_result res = accepted_result(make()->receive(r.view()));
    REQUIRE(res.messages.size() == 1);
    CHECK(res.messages[0].sender_name.empty());
  }
  SUBCASE("X's user_event (access revoked) names no account and carries no message") {
    request r = signed_post(
        R"({"user_event":{"revoke":{"date_time":"2026-11-22T10:00:00.000Z","target":{"app_id":"13090192"},"source":{"user_id":"63046977"}}}})");
    const parse_result res = accepted_result(make()->receive(r.view()));
    CHECK(res.messages.empty());
    CHECK(res.ignored == 1);
  }
}

// X writes &, < and > in tweet text as HTML entities (developer.x.com, "Tweet object").
TEST_CASE("X's HTML escaping is undone in tweets and direct messages") {
  request r = signed_post(
      R"({"for_user_id":"1","tweet_create_events":[{"id_str":"55","text":"@acme Q&amp;A: 2 &lt; 3 &gt; 1 &amp;amp; &quot;hi&quot;","user":{"id_str":"2","name":"Ann"},"entities":{"user_mentions":[{"id_str":"1"}]},"timestamp_ms":"1795341600000"}],)"
      R"("direct_message_events":[{"type":"message_create","id":"9","created_timestamp":"1795341600000","message_create":{"sender_id":"2","target":{"recipient_id":"1"},"message_data":{"text":"fish &amp; chips"}}}]})");
  const parse_result res = accepted_result(make()->receive(r.view()));
  REQUIRE(res.messages.size() == 2);
  CHECK(res.messages[0].text == "fish & chips");
  CHECK(res.messages[1].text == "@acme Q&A: 2 < 3 > 1 &amp; &quot;hi&quot;");
}

TEST_CASE("truncated bodies are malformed") {
  const std::string full = fixture("tweets.json");
  for (std::size_t cut : {full.size() / 2, full.size() - 3}) {
    request r = signed_post(full.substr(0, cut));
    CHECK(refused(r).detail == "body is not valid JSON (UTF-8)");
  }
}

TEST_CASE("Content-Type must be JSON") {
  request r = signed_post(dm("3001969357", account, "hi"));
  r.set("Content-Type", "application/x-www-form-urlencoded");
  CHECK(refused(r).code == errc::unsupported_media_type);
  r.remove("Content-Type");
  CHECK(refused(r).code == errc::unsupported_media_type);
}

// ---- signatures ---------------------------------------------------------------------------

TEST_CASE("x-twitter-webhooks-signature verification") {
  const std::string body = R"({"for_user_id":"1460987654321098752"})";
  request r = signed_post(body);
  auto check_refused = [&](std::string_view detail) { check_bad_signature(refused(r), detail); };
  SUBCASE("the independent vector") {
    CHECK(r.fields.back().second == "sha256=MqFfbYYS46KUx2z870LQIY6TM+ogqGD2/4aLpetxPx8=");
    CHECK(accepted(r).messages.empty());
  }
  SUBCASE("header names are case-insensitive") {
    r.remove("x-twitter-webhooks-signature");
    r.set("X-Twitter-Webhooks-Signature", x_signature(consumer_secret, body));
    accepted(r);
  }
  SUBCASE("missing") {
    r.remove("x-twitter-webhooks-signature");
    check_refused("missing header x-twitter-webhooks-signature");
  }
  SUBCASE("wrong key") {
    r = signed_post(body, old_secret);
    check_refused("signature does not match");
  }
  SUBCASE("wrong body") {
    r.body = R"({"for_user_id":"1460987654321098753"})";
    check_refused("signature does not match");
  }
  SUBCASE("hex instead of base64") {
    r.set("x-twitter-webhooks-signature",
          "sha256=" + hex_encode(hmac_sha256(consumer_secret, body)));
    check_refused("header x-twitter-webhooks-signature must be sha256=<base64 HMAC-SHA256>");
  }
  SUBCASE("sha1") {
    r.set("x-twitter-webhooks-signature",
          "sha1=" + base64_encode(hmac_sha1(consumer_secret, body)));
    check_refused("header x-twitter-webhooks-signature must be sha256=<base64 HMAC-SHA256>");
  }
  SUBCASE("not base64") {
    r.set("x-twitter-webhooks-signature", "sha256=!!!!");
    check_refused("header x-twitter-webhooks-signature must be sha256=<base64 HMAC-SHA256>");
  }
  SUBCASE("a signature made for the CRC token, not the body") {
    r.set("x-twitter-webhooks-signature", x_signature(consumer_secret, "abc"));
    check_refused("signature does not match");
  }
  SUBCASE("rotated secrets: either verifies") {
    r = signed_post(body, old_secret);
    accepted(r, config({consumer_secret, old_secret}));
  }
  SUBCASE("the signature is checked before the content type") {
    r = signed_post("not json", old_secret);
    r.set("Content-Type", "text/plain");
    check_refused("signature does not match");
  }
}

}  // namespace
}  // namespace sb
