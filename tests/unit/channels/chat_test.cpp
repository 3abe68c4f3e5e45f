#include "channels/chat/chat.hpp"

#include "channels/crypto.hpp"
#include "channels/standard_webhooks.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

const standard_webhooks_test_channel web_chat{.name = "web-chat",
                                              .type = "chat",
                                              .key = "chat-secret-A: 32 bytes of key!!",
                                              .rotated_key = "chat-secret-B: 32 bytes of key!!",
                                              .other_key = "the callback channel's own key!!",
                                              .message_id = "msg_2bXyZ7"};

std::string fixture(const std::string& name) { return read_fixture("chat", name); }

SB_ADAPTER_STEPS(make_chat_adapter, web_chat.config(), only_message, refusal)

// A valid minimal body with `fields` spliced in after the id, for type-check cases.
const std::string minimal = R"({"id":"m-1","visitor":{"id":"v-1"},"text":"hi"})";

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_chat_adapter validates secrets and options") {
  SUBCASE("valid, with and without the whsec_ prefix and with a trailing newline") {
    CHECK(make_chat_adapter(web_chat.config({whsec(web_chat.key)})).has_value());
    CHECK(make_chat_adapter(web_chat.config({base64_encode(web_chat.key)})).has_value());
    CHECK(make_chat_adapter(web_chat.config({whsec(web_chat.key) + "\n"})).has_value());
  }
  SUBCASE("no secret") {
    auto a = make_chat_adapter(web_chat.config({}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail == "a chat channel needs a secret (secret or secret_file)");
  }
  SUBCASE("a secret that is not base64") {
    auto a = make_chat_adapter(web_chat.config({"whsec_this is not base64!"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail == "secret is not valid base64 (expected whsec_<base64>)");
  }
  SUBCASE("the second of two secrets is bad; the message says which, never the secret") {
    auto a = make_chat_adapter(web_chat.config({whsec(web_chat.key), "whsec_s3cr3t!"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "secret 2 of 2 is not valid base64 (expected whsec_<base64>)");
    CHECK(a.error().detail.find("s3cr3t") == std::string::npos);
  }
  SUBCASE("a secret too short to be a key") {
    auto a = make_chat_adapter(web_chat.config({whsec("short")}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail ==
          "secret is too short (5 bytes after base64 decoding; use at least 16 random bytes)");
  }
  SUBCASE("default_country") {
    CHECK(make_chat_adapter(web_chat.config({whsec(web_chat.key)}, "LV")).has_value());
    CHECK(make_chat_adapter(web_chat.config({whsec(web_chat.key)}, "lv")).has_value());
    auto a = make_chat_adapter(web_chat.config({whsec(web_chat.key)}, "Latvia"));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail.starts_with(
        "default_country \"Latvia\" is not a supported ISO 3166-1 alpha-2 code (supported: AE "));
  }
}

// ---- a valid request ---------------------------------------------------------------------

TEST_CASE("switchboard.chat-status/v1: the backend reports how far an agent's reply got") {
  const auto report = [](const std::string& body) {
    request r = web_chat.signed_post(body);
    return receive(r, web_chat.config());
  };
  auto res = report(R"({"schema":"switchboard.chat-status/v1","message_id":"01a2-r1",)"
                    R"("status":"read","at":"2026-12-07T12:45:00Z"})");
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 1);
  CHECK(res->signature.has_value());  // its webhook-id is remembered like a message's
  REQUIRE(res->statuses.size() == 1);
  CHECK(res->statuses[0].provider_id == "01a2-r1");
  CHECK(res->statuses[0].status == "read");
  CHECK(res->statuses[0].at == parse_time("2026-12-07T12:45:00Z"));
  res = report(R"({"schema":"switchboard.chat-status/v1","message_id":"r1","status":"delivered"})");
  REQUIRE(res.has_value());
  CHECK_FALSE(res->statuses[0].at);
  // A status it cannot be, no message_id, a bad time: 400, naming the field.
  res = report(R"({"schema":"switchboard.chat-status/v1","message_id":"r1","status":"sent"})");
  REQUIRE_FALSE(res.has_value());
  CHECK(res.error().detail == R"(field status must be "delivered" or "read")");
  res = report(R"({"schema":"switchboard.chat-status/v1","status":"read"})");
  REQUIRE_FALSE(res.has_value());
  CHECK(res.error().code == errc::malformed);
  res = report(R"({"schema":"switchboard.chat-status/v1","message_id":"r1","status":"read",)"
               R"("at":"yesterday"})");
  REQUIRE_FALSE(res.has_value());
  CHECK(res.error().detail == "field at must be an RFC 3339 date-time");
}

TEST_CASE("a full chat message is mapped field by field") {
  // The fixture is pretty-printed: it verifies only because the raw bytes are what is signed.
  request r = web_chat.signed_post(fixture("message_full.json"));
  const inbound_message m = accepted(r, web_chat.config({whsec(web_chat.key)}, "LV"));

  CHECK(m.provider_id == "m-1001");
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK(m.sent_at == parse_time("2026-11-22T10:00:00Z"));
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.recipient == "web-chat");
  CHECK(m.subject.empty());
  CHECK(m.text == "Labdien, mans rēķins ir nepareizs 🧾😕 — lūdzu, palīdziet!");
  CHECK(m.language == "lv");
  // The visitor id is the backend's own: verified. The addresses were typed: claims.
  const std::vector<identity> ids{{"chat", "web-chat:v-42"},
                                  {"email", "janis.berzins@example.lv", false},
                                  {"phone", "+37126123456", false}};
  CHECK(m.identities == ids);
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].name == "rēķins-2026-11.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 48213);
  CHECK(m.attachments[0].url == "https://chat.example.lv/files/7f3a/r%C4%93%C4%B7ins-2026-11.pdf");
  CHECK(m.attachments[0].fetch_kind == "url");
  CHECK(m.attachments[0].fetch_ref == m.attachments[0].url);
  CHECK(m.attachments[1].name == "screenshot.png");
  CHECK(m.attachments[1].size == 2048);
  // Only what agents need travels in extra; unknown fields (page_url, browser) are dropped.
  CHECK(m.extra.size() == 1);
  CHECK(m.extra.at("session_id").as_string() == "s-77");
}

TEST_CASE("a minimal chat message") {
  request r = web_chat.signed_post(fixture("message_minimal.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "m-1002");
  CHECK_FALSE(m.sent_at.has_value());
  CHECK(m.sender_name.empty());
  CHECK(m.identities == std::vector<identity>{{"chat", "web-chat:v-43"}});
  CHECK(m.text == "Hi, my invoice is wrong");
  CHECK(m.attachments.empty());
  CHECK_FALSE(m.language.has_value());
  CHECK(m.extra.empty());
}

TEST_CASE("unicode text is kept byte for byte, escaped or not") {
  SUBCASE("raw UTF-8") {
    const std::string text =
        "Labdien, mans rēķins ir nepareizs 👋🏽 👨‍👩‍👧 ✅ 日本語";
    request r = web_chat.signed_post(
        R"({"id":"m-1","visitor":{"id":"v-1","name":"Zoë Ķirse"},"text":")" + text + R"("})");
    const inbound_message m = accepted(r);
    CHECK(m.text == text);
    CHECK(m.sender_name == "Zoë Ķirse");
  }
  SUBCASE("JSON escapes, including a surrogate pair") {
    request r = web_chat.signed_post(
        R"({"id":"m-1","visitor":{"id":"v-1"},"text":"r\u0113\u0137ins \ud83e\uddfe \"q\"\n"})");
    CHECK(accepted(r).text == "rēķins 🧾 \"q\"\n");
  }
}

TEST_CASE("null optional fields are the same as absent ones") {
  request r = web_chat.signed_post(
      R"({"id":"m-1","session_id":null,"sent_at":null,"language":null,)"
      R"("visitor":{"id":"v-1","name":null,"email":null,"phone":null},"text":"hi","attachments":null})");
  const inbound_message m = accepted(r);
  CHECK(m.identities.size() == 1);
  CHECK(m.extra.empty());
  CHECK_FALSE(m.sent_at.has_value());
}

TEST_CASE("sent_at accepts RFC 3339 offsets and fractions") {
  request r = web_chat.signed_post(
      R"({"id":"m-1","sent_at":"2026-11-22T12:00:00.250+02:00","visitor":{"id":"v-1"},"text":"hi"})");
  CHECK(accepted(r).sent_at == parse_time("2026-11-22T10:00:00.250Z"));
}

TEST_CASE("language hints are reduced to ISO 639-1 or dropped") {
  const std::pair<std::string, std::optional<std::string>> cases[] = {{"lv", "lv"},
                                                                      {"LV", "lv"},
                                                                      {"en-GB", "en"},
                                                                      {"pt_BR", "pt"},
                                                                      {"english", std::nullopt},
                                                                      {"", std::nullopt},
                                                                      {"e1", std::nullopt}};
  for (const auto& [hint, expected] : cases) {
    CAPTURE(hint);
    request r = web_chat.signed_post(R"({"id":"m-1","language":")" + hint +
                                     R"(","visitor":{"id":"v-1"},"text":"hi"})");
    CHECK(accepted(r).language == expected);
  }
}

// ---- identities ----------------------------------------------------------------------------

std::string with_contact(std::string_view email, std::string_view phone) {
  return R"({"id":"m-1","visitor":{"id":"v-1","email":")" + std::string(email) + R"(","phone":")" +
         std::string(phone) + R"("},"text":"hi"})";
}

TEST_CASE("email and phone become normalized identities") {
  request r = web_chat.signed_post(with_contact(" Ann.Lee@Example.COM ", "+1 (555) 010-2000"));
  const inbound_message m = accepted(r);
  const std::vector<identity> ids{{"chat", "web-chat:v-1"},
                                  {"email", "ann.lee@example.com", false},
                                  {"phone", "+15550102000", false}};
  CHECK(m.identities == ids);
  CHECK(m.extra.empty());
}

// Identity verification as Intercom's and Chatwoot's widgets do it: the backend, which knows its
// logged-in user, says which of the addresses it checked, inside the signed body.
TEST_CASE("typed addresses are claims unless the backend vouches for them") {
  SUBCASE("visitor.verified lists what the backend checked") {
    request r = web_chat.signed_post(
        R"({"id":"m-v","visitor":{"id":"v-1","email":"ann@example.com","phone":"+15550102000","verified":["email"]},"text":"hi"})");
    const std::vector<identity> ids{{"chat", "web-chat:v-1"},
                                    {"email", "ann@example.com", true},
                                    {"phone", "+15550102000", false}};
    CHECK(accepted(r).identities == ids);
  }
  SUBCASE("identities_verified: true vouches for every one") {
    channel_config cfg = web_chat.config();
    cfg.options["identities_verified"] = "true";
    request r = web_chat.signed_post(with_contact("ann@example.com", "+15550102000"));
    for (const auto& id : accepted(r, cfg).identities) CHECK(id.verified);
  }
  SUBCASE("a bad verified list is the sender's bug: refused") {
    for (const std::string list : {R"("email")", R"(["email","passport"])", R"([1])"}) {
      CAPTURE(list);
      request r = web_chat.signed_post(
          R"({"id":"m-b","visitor":{"id":"v-1","email":"a@example.com","verified":)" + list +
          R"(},"text":"hi"})");
      const error e = refusal(receive(r));
      CHECK(e.code == errc::malformed);
      CHECK(e.detail == "field visitor.verified must be a list of \"email\" or \"phone\"");
    }
  }
  SUBCASE("identities_verified must be true or false") {
    channel_config cfg = web_chat.config();
    cfg.options["identities_verified"] = "yes";
    auto a = make_chat_adapter(cfg);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "identities_verified must be true or false, found \"yes\"");
  }
}

TEST_CASE("national phone numbers use the channel's default_country") {
  request r = web_chat.signed_post(with_contact("ann@example.com", "020 7946 0018"));
  SUBCASE("GB") {
    const inbound_message m = accepted(r, web_chat.config({whsec(web_chat.key)}, "GB"));
    REQUIRE(m.identities.size() == 3);
    CHECK(m.identities[2] == identity{"phone", "+442079460018", false});
  }
  SUBCASE("no default: kept for the agent, not an identity") {
    const inbound_message m = accepted(r);
    CHECK(m.identities.size() == 2);
    CHECK(m.extra.at("invalid_phone").as_string() == "020 7946 0018");
  }
}

TEST_CASE("a mistyped email or phone keeps the message and the raw value") {
  request r = web_chat.signed_post(with_contact("ann at example dot com", "call me maybe"));
  const inbound_message m = accepted(r);
  CHECK(m.identities == std::vector<identity>{{"chat", "web-chat:v-1"}});
  CHECK(m.extra.at("invalid_email").as_string() == "ann at example dot com");
  CHECK(m.extra.at("invalid_phone").as_string() == "call me maybe");
}

TEST_CASE("empty email and phone strings are simply absent") {
  request r = web_chat.signed_post(with_contact("", "  "));
  const inbound_message m = accepted(r);
  CHECK(m.identities.size() == 1);
  CHECK(m.extra.empty());
}

TEST_CASE("the chat identity is scoped by the channel name") {
  request r = web_chat.signed_post(minimal);
  channel_config cfg = web_chat.config();
  cfg.name = "shop-chat";
  const inbound_message m = accepted(r, cfg);
  CHECK(m.identities.front() == identity{"chat", "shop-chat:v-1"});
  CHECK(m.recipient == "shop-chat");
}

// ---- attachments ---------------------------------------------------------------------------

TEST_CASE("attachments") {
  SUBCASE("an attachment alone is a message") {
    request r = web_chat.signed_post(
        R"({"id":"m-1","visitor":{"id":"v-1"},"attachments":[{"url":"https://x.example/a"}]})");
    const inbound_message m = accepted(r);
    CHECK(m.text.empty());
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].url == "https://x.example/a");
    CHECK(m.attachments[0].name.empty());
    CHECK_FALSE(m.attachments[0].size.has_value());
  }
  SUBCASE("only http(s) URLs are fetched; the others are kept as they came") {
    request r = web_chat.signed_post(
        R"({"id":"m-1","visitor":{"id":"v-1"},"attachments":[{"url":"http://x.example/a"},)"
        R"({"name":"b","url":"ftp://x.example/b"},{"name":"c","url":"/files/c"},{"name":"d"}]})");
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 4);
    CHECK(m.attachments[0].fetch_kind == "url");
    CHECK(m.attachments[0].fetch_ref == "http://x.example/a");
    CHECK(m.attachments[1].url == "ftp://x.example/b");
    for (std::size_t i = 1; i < 4; ++i) {
      CHECK(m.attachments[i].fetch_kind.empty());
      CHECK(m.attachments[i].fetch_ref.empty());
    }
  }
  SUBCASE("size 0 and the largest int64 are accepted") {
    request r = web_chat.signed_post(
        R"({"id":"m-1","visitor":{"id":"v-1"},"attachments":[{"name":"empty.txt","size":0},)"
        R"({"name":"huge.bin","size":9223372036854775807}]})");
    const inbound_message m = accepted(r);
    REQUIRE(m.attachments.size() == 2);
    CHECK(m.attachments[0].size == 0);
    CHECK(m.attachments[1].size == std::numeric_limits<std::int64_t>::max());
  }
  SUBCASE("an empty list and no text is not a message") {
    request r =
        web_chat.signed_post(R"({"id":"m-1","visitor":{"id":"v-1"},"text":"","attachments":[]})");
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "a message needs text or at least one attachment");
  }
  SUBCASE("at most 100") {
    std::string list;
    for (int i = 0; i < 101; ++i) list += (i ? "," : "") + R"({"name":"f"})"s;
    request r =
        web_chat.signed_post(R"({"id":"m-1","visitor":{"id":"v-1"},"attachments":[)" + list + "]}");
    CHECK(refused(r).detail == "field attachments has more than 100 entries");
  }
}

// ---- malformed bodies --------------------------------------------------------------------

TEST_CASE("missing fields and wrong types are refused, naming the field") {
  const std::string long_id(257, 'x');
  const std::pair<std::string, std::string_view> cases[] = {
      {R"({"visitor":{"id":"v"},"text":"hi"})", "field id is required"},
      {R"({"id":"","visitor":{"id":"v"},"text":"hi"})", "field id is required"},
      {R"({"id":null,"visitor":{"id":"v"},"text":"hi"})", "field id is required"},
      {R"({"id":1001,"visitor":{"id":"v"},"text":"hi"})", "field id must be a string"},
      {R"({"id":")" + long_id + R"(","visitor":{"id":"v"},"text":"hi"})",
       "field id must be at most 256 bytes"},
      {R"({"id":"m","text":"hi"})", "field visitor is required"},
      {R"({"id":"m","visitor":"v-1","text":"hi"})", "field visitor must be an object"},
      {R"({"id":"m","visitor":{},"text":"hi"})", "field visitor.id is required"},
      {R"({"id":"m","visitor":{"id":42},"text":"hi"})", "field visitor.id must be a string"},
      {R"({"id":"m","visitor":{"id":"v","name":7},"text":"hi"})",
       "field visitor.name must be a string"},
      {R"({"id":"m","visitor":{"id":"v","email":true},"text":"hi"})",
       "field visitor.email must be a string"},
      {R"({"id":"m","visitor":{"id":"v","phone":15550102000},"text":"hi"})",
       "field visitor.phone must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"text":12})", "field text must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"text":["hi"]})", "field text must be a string"},
      {R"({"id":"m","visitor":{"id":"v"}})", "a message needs text or at least one attachment"},
      {R"({"id":"m","sent_at":"yesterday","visitor":{"id":"v"},"text":"hi"})",
       "field sent_at must be an RFC 3339 date-time"},
      {R"({"id":"m","sent_at":"2026-11-22","visitor":{"id":"v"},"text":"hi"})",
       "field sent_at must be an RFC 3339 date-time"},
      {R"({"id":"m","sent_at":"2026-02-30T10:00:00Z","visitor":{"id":"v"},"text":"hi"})",
       "field sent_at must be an RFC 3339 date-time"},
      {R"({"id":"m","sent_at":1795341600,"visitor":{"id":"v"},"text":"hi"})",
       "field sent_at must be a string"},
      {R"({"id":"m","session_id":77,"visitor":{"id":"v"},"text":"hi"})",
       "field session_id must be a string"},
      {R"({"id":"m","language":1,"visitor":{"id":"v"},"text":"hi"})",
       "field language must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":{}})", "field attachments must be an array"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":["a.png"]})",
       "field attachments[0] must be an object"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"content_type":"image/png"}]})",
       "field attachments[0] needs a name or a url"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a"},{"url":5}]})",
       "field attachments[1].url must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":1}]})",
       "field attachments[0].name must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","content_type":false}]})",
       "field attachments[0].content_type must be a string"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":"2048"}]})",
       "field attachments[0].size must be a non-negative integer"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":-1}]})",
       "field attachments[0].size must be a non-negative integer"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":1.5}]})",
       "field attachments[0].size must be a non-negative integer"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":1e30}]})",
       "field attachments[0].size must be a non-negative integer"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":9223372036854775808}]})",
       "field attachments[0].size is out of range"},
      {R"({"id":"m","visitor":{"id":"v"},"attachments":[{"name":"a","size":-9223372036854775809}]})",
       "field attachments[0].size must be a non-negative integer"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return web_chat.signed_post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("bodies that are not one JSON object") {
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "body is not valid JSON (UTF-8)"},
      {"{", "body is not valid JSON (UTF-8)"},
      {minimal + " x", "body is not valid JSON (UTF-8)"},
      {minimal + minimal, "body is not valid JSON (UTF-8)"},
      {R"({"id":"m","visitor":{"id":"v"},"text":"hi",})", "body is not valid JSON (UTF-8)"},
      {R"({"id":"m",/* c */"visitor":{"id":"v"},"text":"hi"})", "body is not valid JSON (UTF-8)"},
      {R"({'id':'m'})", "body is not valid JSON (UTF-8)"},
      {"[]", "body must be a JSON object"},
      {"null", "body must be a JSON object"},
      {R"("text")", "body must be a JSON object"},
      {"42", "body must be a JSON object"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return web_chat.signed_post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("invalid UTF-8 is refused, however it is spelled") {
  for (const std::string& bad :
       {"bad \xff byte"s, "overlong \xc0\xaf slash"s, "cut \xc4"s, "surrogate \xed\xa0\x80 bytes"s,
        "\\ud800 lone escape"s, "\\udc00 trailing escape"s, "too big \xf4\x90\x80\x80"s}) {
    CAPTURE(bad);
    request r =
        web_chat.signed_post(R"({"id":"m-1","visitor":{"id":"v-1"},"text":")" + bad + R"("})");
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "body is not valid JSON (UTF-8)");
  }
}

std::string nested(std::size_t levels) {
  // An ignored field nested `levels` deep inside the top-level object (depth 1).
  return R"({"id":"m-1","visitor":{"id":"v-1"},"text":"hi","x":)" + std::string(levels, '[') +
         std::string(levels, ']') + "}";
}

TEST_CASE("nesting is bounded") {
  SUBCASE("32 levels in all are accepted") {
    request r = web_chat.signed_post(nested(31));
    accepted(r);
  }
  SUBCASE("33 levels are refused") {
    request r = web_chat.signed_post(nested(32));
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "body is nested too deeply");
  }
  SUBCASE("a hostile depth is refused without exhausting the stack") {
    request r = web_chat.signed_post(std::string(200'000, '[') + std::string(200'000, ']'));
    CHECK(refused(r).detail == "body is nested too deeply");
  }
}

// ---- content type --------------------------------------------------------------------------

TEST_CASE("Content-Type must be JSON in UTF-8") {
  SUBCASE("accepted spellings") {
    for (const std::string ct : {"application/json", "application/json; charset=utf-8",
                                 "Application/JSON;charset=\"UTF-8\"", "application/json ; foo=bar",
                                 "application/json;"}) {
      CAPTURE(ct);
      request r = web_chat.signed_post(minimal);
      r.set("Content-Type", ct);
      accepted(r);
    }
  }
  SUBCASE("other media types") {
    for (const std::string ct :
         {"", "text/plain", "application/jsonx", "application/json-patch+json",
          "application/x-www-form-urlencoded", "json", "application/"}) {
      CAPTURE(ct);
      request r = web_chat.signed_post(minimal);
      r.set("Content-Type", ct);
      const error e = refused(r);
      CHECK(e.code == errc::unsupported_media_type);
      CHECK(e.detail == "Content-Type must be application/json");
    }
  }
  SUBCASE("missing") {
    request r = web_chat.signed_post(minimal);
    r.remove("Content-Type");
    CHECK(refused(r).code == errc::unsupported_media_type);
  }
  SUBCASE("another charset") {
    request r = web_chat.signed_post(minimal);
    r.set("Content-Type", "application/json; charset=iso-8859-1");
    const error e = refused(r);
    CHECK(e.code == errc::unsupported_media_type);
    CHECK(e.detail == "Content-Type charset must be utf-8");
  }
}

TEST_CASE("the signature is checked before anything in the request is looked at") {
  request r = web_chat.signed_post("not json at all");
  r.set("Content-Type", "text/plain");
  r.set("webhook-signature", web_chat.signature(web_chat.rotated_key, r.body));
  CHECK(refused(r).code == errc::bad_signature);
  // Properly signed, the same request fails on the content type, before the body is parsed.
  r.set("webhook-signature", web_chat.signature(web_chat.key, r.body));
  CHECK(refused(r).code == errc::unsupported_media_type);
}

// ---- signatures ---------------------------------------------------------------------------

TEST_CASE("every kind of bad signature is a 401") {
  check_standard_webhooks_refusals(
      web_chat, [](request& r, const channel_config& cfg) { return refused(r, cfg); }, minimal,
      R"({"id":"m-1","visitor":{"id":"v-1"},"text":"hi!"})");
}

TEST_CASE("timestamps inside the tolerance and any configured secret verify") {
  check_standard_webhooks_accepts(
      web_chat, [](request& r, const channel_config& cfg) { accepted(r, cfg); },
      [](request& r, const channel_config& cfg) { return refused(r, cfg); }, minimal);
}

}  // namespace
}  // namespace sb
