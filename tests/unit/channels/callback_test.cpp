#include "channels/callback/callback.hpp"

#include "channels/crypto.hpp"
#include "channels/standard_webhooks.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

// 2026-11-22T10:05:30Z: every request is judged at this instant (five minutes after the other
// channel tests' fixtures::test_now).
constexpr millis test_now = 1'795'341'930'000;

const standard_webhooks_test_channel callbacks{.name = "callbacks",
                                               .type = "callback",
                                               .key = "callback-secret-A: 32 bytes key!",
                                               .rotated_key = "callback-secret-B: 32 bytes key!",
                                               .other_key = "the web-chat channel's own key!!",
                                               .message_id = "msg_cb9_attempt1",
                                               .now = test_now};

std::string fixture(const std::string& name) { return read_fixture("callback", name); }

SB_ADAPTER_STEPS(make_callback_adapter, callbacks.config(), message_without_ack, refusal)

const boost::json::object& callback_of(const inbound_message& m) { return object_at(m, "callback"); }

const std::string minimal = R"({"id":"cb-1","phone":"+15550102000"})";

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_callback_adapter validates secrets and options") {
  SUBCASE("valid, with and without the whsec_ prefix") {
    CHECK(make_callback_adapter(callbacks.config({whsec(callbacks.key)})).has_value());
    CHECK(
        make_callback_adapter(callbacks.config({base64_encode(callbacks.key) + "\n"})).has_value());
    CHECK(make_callback_adapter(
              callbacks.config({whsec(callbacks.key), whsec(callbacks.rotated_key)}, "LV"))
              .has_value());
  }
  SUBCASE("no secret") {
    auto a = make_callback_adapter(callbacks.config({}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail == "a callback channel needs a secret (secret or secret_file)");
  }
  SUBCASE("a secret that is not base64; never echoed") {
    auto a = make_callback_adapter(callbacks.config({whsec(callbacks.key), "whsec_s3cr3t!"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "secret 2 of 2 is not valid base64 (expected whsec_<base64>)");
    CHECK(a.error().detail.find("s3cr3t") == std::string::npos);
  }
  SUBCASE("a secret too short to be a key") {
    auto a = make_callback_adapter(callbacks.config({whsec("short")}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail ==
          "secret is too short (5 bytes after base64 decoding; use at least 16 random bytes)");
  }
  SUBCASE("default_country") {
    auto a = make_callback_adapter(callbacks.config({whsec(callbacks.key)}, "XX"));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail.starts_with(
        "default_country \"XX\" is not a supported ISO 3166-1 alpha-2 code (supported: AE "));
  }
}

// ---- valid requests -------------------------------------------------------------------------

TEST_CASE("a full callback request is mapped field by field") {
  // Pretty-printed: it verifies only because the raw bytes are what is signed.
  request r = callbacks.signed_post(fixture("request_full.json"));
  const inbound_message m = accepted(r);

  CHECK(m.provider_id == "cb-9");
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK(m.sent_at == parse_time("2026-11-22T10:05:00Z"));
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.recipient == "callbacks");
  CHECK(m.identities == std::vector<identity>{{"phone", "+37126123456", false}});  // a claim
  const std::string transcript =
      "Labdien, man divreiz noņēma naudu par novembra rēķinu 💳. Lūdzu, piezvaniet!";
  CHECK(m.text == transcript);  // the customer's words win over the reason
  CHECK(m.language == "lv");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "recording");
  CHECK(m.attachments[0].url == "https://ivr.example.lv/recordings/2026/11/22/cb-9.mp3");

  // Only the callback object travels in extra; unknown fields (source, attempt) are dropped.
  CHECK(m.extra.size() == 1);
  const auto& cb = callback_of(m);
  CHECK(cb.size() == 6);
  CHECK(cb.at("phone").as_string() == "+37126123456");
  // The window in UTC, whatever offset the sender wrote.
  CHECK(cb.at("window").as_object().at("start").as_string() == "2026-11-22T14:00:00Z");
  CHECK(cb.at("window").as_object().at("end").as_string() == "2026-11-22T16:00:00Z");
  CHECK(cb.at("reason").as_string() == "rēķina jautājums");
  CHECK(cb.at("ivr_digits").as_string() == "1");
  CHECK(cb.at("transcript").as_string() == transcript);
  CHECK(cb.at("recording_url").as_string() ==
        "https://ivr.example.lv/recordings/2026/11/22/cb-9.mp3");
}

// A number typed into a web form proves nothing; caller ID the IVR trusts, or a logged-in user's
// number, is vouched for in the signed body.
TEST_CASE("the phone number is a claim unless the sender vouches for it") {
  request r = callbacks.signed_post(R"({"id":"cb-v","phone":"+15550102000","verified":["phone"]})");
  CHECK(accepted(r).identities == std::vector<identity>{{"phone", "+15550102000", true}});
  request bad =
      callbacks.signed_post(R"({"id":"cb-b","phone":"+15550102000","verified":["email"]})");
  CHECK(refusal(receive(bad)).detail == "field verified must be a list of \"phone\"");
}

TEST_CASE("a minimal callback request: an id and a phone number") {
  request r = callbacks.signed_post(fixture("request_minimal.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "cb-10");
  CHECK(m.identities == std::vector<identity>{{"phone", "+15550102000", false}});
  CHECK_FALSE(m.sent_at.has_value());
  CHECK(m.sender_name.empty());
  CHECK(m.text.empty());
  CHECK(m.attachments.empty());
  CHECK_FALSE(m.language.has_value());
  const auto& cb = callback_of(m);
  CHECK(cb.at("phone").as_string() == "+15550102000");
  for (const char* key : {"window", "reason", "ivr_digits", "transcript", "recording_url"}) {
    CAPTURE(key);
    CHECK(cb.at(key).is_null());
  }
}

TEST_CASE("the text is the transcript, else the reason") {
  SUBCASE("reason only") {
    request r = callbacks.signed_post(
        R"({"id":"cb-1","phone":"+15550102000","reason":"billing question"})");
    CHECK(accepted(r).text == "billing question");
  }
  SUBCASE("an empty transcript does not hide the reason") {
    request r = callbacks.signed_post(
        R"({"id":"cb-1","phone":"+15550102000","reason":"refund","transcript":""})");
    const inbound_message m = accepted(r);
    CHECK(m.text == "refund");
    CHECK(callback_of(m).at("transcript").is_null());
  }
}

TEST_CASE("null optional fields are the same as absent ones") {
  request r = callbacks.signed_post(
      R"({"id":"cb-1","phone":"+15550102000","name":null,"requested_at":null,"window":null,)"
      R"("reason":null,"ivr_digits":null,"language":null,"recording_url":null,"transcript":null})");
  const inbound_message m = accepted(r);
  CHECK(callback_of(m).at("window").is_null());
  CHECK(m.text.empty());
}

TEST_CASE("phone numbers") {
  SUBCASE("spelled in many international ways") {
    for (const std::string phone :
         {"+1 (555) 010-2000", "+1.555.010.2000", "0015550102000", " +15550102000 "}) {
      CAPTURE(phone);
      request r = callbacks.signed_post(R"({"id":"cb-1","phone":")" + phone + R"("})");
      CHECK(callback_of(accepted(r)).at("phone").as_string() == "+15550102000");
    }
  }
  SUBCASE("national with default_country") {
    request r = callbacks.signed_post(R"({"id":"cb-1","phone":"020 7946 0018"})");
    const inbound_message m = accepted(r, callbacks.config({whsec(callbacks.key)}, "GB"));
    CHECK(m.identities == std::vector<identity>{{"phone", "+442079460018", false}});
  }
  SUBCASE("national without default_country: nobody could call it back") {
    request r = callbacks.signed_post(R"({"id":"cb-1","phone":"020 7946 0018"})");
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "field phone must be a phone number in international form (+...)");
  }
  SUBCASE("not a number at all") {
    request r = callbacks.signed_post(R"({"id":"cb-1","phone":"call me maybe"})");
    CHECK(refused(r, callbacks.config({whsec(callbacks.key)}, "LV")).detail ==
          "field phone must be a phone number, international (+...) or national for LV");
  }
}

TEST_CASE("ivr_digits holds phone keys") {
  for (const std::string digits : {"0", "1#", "*72", "1234567890*#"}) {
    CAPTURE(digits);
    request r = callbacks.signed_post(R"({"id":"cb-1","phone":"+15550102000","ivr_digits":")" +
                                      digits + R"("})");
    CHECK(callback_of(accepted(r)).at("ivr_digits").as_string() == digits);
  }
}

TEST_CASE("unicode is kept byte for byte, escaped or not") {
  request r = callbacks.signed_post(
      R"({"id":"cb-1","phone":"+15550102000","name":"Zoë Ķirse 👩🏽‍💼",)"
      R"("reason":"r\u0113\u0137ins \ud83e\uddfe","transcript":"Привет, 日本語 ✅"})");
  const inbound_message m = accepted(r);
  CHECK(m.sender_name == "Zoë Ķirse 👩🏽‍💼");
  CHECK(callback_of(m).at("reason").as_string() == "rēķins 🧾");
  CHECK(m.text == "Привет, 日本語 ✅");
}

TEST_CASE("language hints are reduced to ISO 639-1 or dropped") {
  const std::pair<std::string, std::optional<std::string>> cases[] = {
      {"lv", "lv"}, {"EN-gb", "en"}, {"latvian", std::nullopt}, {"1v", std::nullopt}};
  for (const auto& [hint, expected] : cases) {
    CAPTURE(hint);
    request r = callbacks.signed_post(R"({"id":"cb-1","phone":"+15550102000","language":")" + hint +
                                      R"("})");
    CHECK(accepted(r).language == expected);
  }
}

// ---- malformed bodies --------------------------------------------------------------------

TEST_CASE("missing fields and wrong types are refused, naming the field") {
  const std::string long_id(257, 'x');
  const std::pair<std::string, std::string_view> cases[] = {
      {R"({"phone":"+15550102000"})", "field id is required"},
      {R"({"id":"","phone":"+15550102000"})", "field id is required"},
      {R"({"id":9,"phone":"+15550102000"})", "field id must be a string"},
      {R"({"id":")" + long_id + R"(","phone":"+15550102000"})",
       "field id must be at most 256 bytes"},
      {R"({"id":"cb"})", "field phone is required"},
      {R"({"id":"cb","phone":""})", "field phone is required"},
      {R"({"id":"cb","phone":"   "})", "field phone is required"},
      {R"({"id":"cb","phone":15550102000})", "field phone must be a string"},
      {R"({"id":"cb","phone":"+15550102000","name":["Ann"]})", "field name must be a string"},
      {R"({"id":"cb","phone":"+15550102000","requested_at":"soon"})",
       "field requested_at must be an RFC 3339 date-time"},
      {R"({"id":"cb","phone":"+15550102000","requested_at":1795341900})",
       "field requested_at must be a string"},
      {R"({"id":"cb","phone":"+15550102000","window":"14:00-16:00"})",
       "field window must be an object"},
      {R"({"id":"cb","phone":"+15550102000","window":{"end":"2026-11-22T16:00:00Z"}})",
       "field window.start is required"},
      {R"({"id":"cb","phone":"+15550102000","window":{"start":"2026-11-22T14:00:00Z"}})",
       "field window.end is required"},
      {R"({"id":"cb","phone":"+15550102000","window":{"start":"14:00","end":"16:00"}})",
       "field window.start must be an RFC 3339 date-time"},
      {R"({"id":"cb","phone":"+15550102000","window":{"start":"2026-11-22T14:00:00Z","end":16}})",
       "field window.end must be a string"},
      {R"({"id":"cb","phone":"+15550102000","window":{"start":"2026-11-22T14:00:00Z","end":"2026-11-22T14:00:00Z"}})",
       "field window.end must be after window.start"},
      {R"({"id":"cb","phone":"+15550102000","window":{"start":"2026-11-22T16:00:00Z","end":"2026-11-22T17:00:00+02:00"}})",
       "field window.end must be after window.start"},
      {R"({"id":"cb","phone":"+15550102000","reason":5})", "field reason must be a string"},
      {R"({"id":"cb","phone":"+15550102000","ivr_digits":1})", "field ivr_digits must be a string"},
      {R"({"id":"cb","phone":"+15550102000","ivr_digits":"1, then 2"})",
       "field ivr_digits may only hold the keys 0-9, * and #"},
      {R"({"id":"cb","phone":"+15550102000","ivr_digits":")" + std::string(65, '1') + R"("})",
       "field ivr_digits must be at most 64 keys"},
      {R"({"id":"cb","phone":"+15550102000","language":{"code":"lv"}})",
       "field language must be a string"},
      {R"({"id":"cb","phone":"+15550102000","recording_url":true})",
       "field recording_url must be a string"},
      {R"({"id":"cb","phone":"+15550102000","transcript":["I was"," charged twice"]})",
       "field transcript must be a string"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return callbacks.signed_post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("bodies that are not one JSON object") {
  const std::string full = fixture("request_full.json");
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "body is not valid JSON (UTF-8)"},
      {full.substr(0, full.size() / 2), "body is not valid JSON (UTF-8)"},  // truncated
      {minimal + minimal, "body is not valid JSON (UTF-8)"},
      {R"({"id":"cb","phone":"+15550102000",})", "body is not valid JSON (UTF-8)"},
      {"[" + minimal + "]", "body must be a JSON object"},
      {"null", "body must be a JSON object"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return callbacks.signed_post(std::move(body)); },
      [](request& r) { return refused(r); });
}

TEST_CASE("invalid UTF-8 is refused") {
  for (const std::string& bad : {"bad \xff byte"s, "cut \xc4"s, "\\ud800 lone escape"s}) {
    CAPTURE(bad);
    request r =
        callbacks.signed_post(R"({"id":"cb-1","phone":"+15550102000","reason":")" + bad + R"("})");
    CHECK(refused(r).detail == "body is not valid JSON (UTF-8)");
  }
}

TEST_CASE("nesting is bounded") {
  const auto nested = [](std::size_t levels) {
    return R"({"id":"cb-1","phone":"+15550102000","x":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}";
  };
  SUBCASE("32 levels in all are accepted") {
    request r = callbacks.signed_post(nested(31));
    accepted(r);
  }
  SUBCASE("33 are refused") {
    request r = callbacks.signed_post(nested(32));
    CHECK(refused(r).detail == "body is nested too deeply");
  }
  SUBCASE("a hostile depth") {
    request r = callbacks.signed_post(std::string(100'000, '[') + std::string(100'000, ']'));
    CHECK(refused(r).detail == "body is nested too deeply");
  }
}

// ---- content type --------------------------------------------------------------------------

TEST_CASE("Content-Type must be JSON in UTF-8, checked after the signature") {
  SUBCASE("with a charset") {
    request r = callbacks.signed_post(minimal);
    r.set("Content-Type", "application/json; charset=UTF-8");
    accepted(r);
  }
  SUBCASE("a form") {
    request r = callbacks.signed_post(minimal);
    r.set("Content-Type", "application/x-www-form-urlencoded");
    const error e = refused(r);
    CHECK(e.code == errc::unsupported_media_type);
    CHECK(e.detail == "Content-Type must be application/json");
  }
  SUBCASE("missing") {
    request r = callbacks.signed_post(minimal);
    r.remove("Content-Type");
    CHECK(refused(r).code == errc::unsupported_media_type);
  }
  SUBCASE("latin-1") {
    request r = callbacks.signed_post(minimal);
    r.set("Content-Type", "application/json; charset=latin1");
    CHECK(refused(r).detail == "Content-Type charset must be utf-8");
  }
  SUBCASE("unsigned and of the wrong type: 401") {
    request r = callbacks.signed_post("phone=+15550102000", callbacks.rotated_key);
    r.set("Content-Type", "application/x-www-form-urlencoded");
    CHECK(refused(r).code == errc::bad_signature);
  }
}

// ---- signatures ---------------------------------------------------------------------------

TEST_CASE("every kind of bad signature is a 401") {
  check_standard_webhooks_refusals(
      callbacks, [](request& r, const channel_config& cfg) { return refused(r, cfg); }, minimal,
      R"({"id":"cb-1","phone":"+15550109999"})");
}

TEST_CASE("timestamps inside the tolerance and any configured secret verify") {
  check_standard_webhooks_accepts(
      callbacks, [](request& r, const channel_config& cfg) { accepted(r, cfg); },
      [](request& r, const channel_config& cfg) { return refused(r, cfg); }, minimal);
}

}  // namespace
}  // namespace sb
