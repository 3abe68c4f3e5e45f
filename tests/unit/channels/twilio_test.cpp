#include "channels/twilio/twilio.hpp"

#include "channels/crypto.hpp"
#include "channels/form.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

const std::string token_a = "9f3c2b7d41e6a8059c1d2e3f4a5b6c7d";  // an Auth Token's shape
const std::string token_b = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const std::string public_url = "https://support.example.com/v1/webhooks/phone";
const std::string path = "/v1/webhooks/phone";
const std::string twiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";

channel_config twilio_config(std::vector<std::string> secrets = {token_a},
                             std::string url = public_url, std::string default_country = {}) {
  return test_channel(
      "phone", "twilio", std::move(secrets),
      {{"public_url", std::move(url)}, {"default_country", std::move(default_country)}});
}

// The signature as Twilio computes it, written out independently of the adapter: the URL,
// then every parameter sorted by name (and by value for a repeated name), name then value.
std::string twilio_signature(std::string_view token, std::string url, std::string_view body) {
  auto params = parse_form(body);
  REQUIRE(params.has_value());
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& f : *params) sorted.emplace_back(f.name, f.value);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [name, value] : sorted) url += name + value;
  return base64_encode(hmac_sha1(token, url));
}

// A request as Twilio sends it to public_url (+ the target's query), signed with `token`.
request signed_post(std::string body, std::string_view token = token_a, std::string target = path,
                    std::string url = public_url) {
  request r{.target = std::move(target), .now = test_now};
  r.body = std::move(body);
  const auto q = r.target.find('?');
  if (q != std::string::npos) url += r.target.substr(q);
  r.fields = {{"Host", "support.example.com"},
              {"Content-Type", "application/x-www-form-urlencoded"},
              {"X-Twilio-Signature", twilio_signature(token, url, r.body)},
              {"I-Twilio-Idempotency-Token", "3f8a1c2e-7d4b-4e9a-b1c6-0f2d3e4a5b6c"}};
  return r;
}

std::string fixture(const std::string& name) {
  std::string s = read_fixture("twilio", name);
  // The files end with a newline for editors; the body Twilio sends does not.
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

void check_ack(const parse_result& res) {
  REQUIRE(res.ack.has_value());
  CHECK(res.ack->status == 200);
  CHECK(res.ack->content_type == "text/xml");
  CHECK(res.ack->body == twiml);
}

// The one message, with the TwiML acknowledgement Twilio expects.
inbound_message message_with_ack(const parse_result& res) {
  check_ack(res);
  return only_message(res);
}

SB_ADAPTER_STEPS(make_twilio_adapter, twilio_config(), message_with_ack, refusal)

void ignored(request& r, const channel_config& cfg = twilio_config()) {
  const parse_result res = accepted_result(receive(r, cfg));
  CHECK(res.messages.empty());
  CHECK(res.ignored == 1);
  check_ack(res);
}

// A signed request Twilio means as a message but that cannot be read: Twilio does not retry a
// refused webhook, so it is kept (and answered with TwiML) rather than refused.
unreadable_event kept(request& r, const channel_config& cfg = twilio_config()) {
  auto res = receive(r, cfg);
  if (res) check_ack(*res);
  const unreadable_event u = kept_unreadable(res);
  CHECK(u.path == "body");
  return u;
}

// A minimal inbound SMS.
pairs sms(std::string body = "hi", std::string from = "+15550102000") {
  return {{"MessageSid", "SM00000000000000000000000000000001"},
          {"AccountSid", "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d"},
          {"From", std::move(from)},
          {"To", "+14155550100"},
          {"Body", std::move(body)},
          {"NumMedia", "0"},
          {"SmsStatus", "received"}};
}

// A minimal inbound voice webhook, plus `more`.
pairs call(pairs more = {}, std::string from = "+442079460018") {
  pairs p{{"CallSid", "CA00000000000000000000000000000001"},
          {"AccountSid", "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d"},
          {"From", std::move(from)},
          {"To", "+14155550100"},
          {"CallStatus", "in-progress"},
          {"Direction", "inbound"}};
  p.insert(p.end(), more.begin(), more.end());
  return p;
}

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_twilio_adapter validates the auth tokens and options") {
  SUBCASE("valid") {
    CHECK(make_twilio_adapter(twilio_config()).has_value());
    CHECK(make_twilio_adapter(twilio_config({token_a, token_b})).has_value());
    CHECK(make_twilio_adapter(twilio_config({token_a}, "http://127.0.0.1:8080/v1/webhooks/phone"))
              .has_value());
    CHECK(make_twilio_adapter(twilio_config({token_a}, public_url, "GB")).has_value());
  }
  SUBCASE("no secret") {
    auto a = make_twilio_adapter(twilio_config({}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail ==
          "a twilio channel needs a secret: the account's Auth Token (secret or secret_file)");
  }
  SUBCASE("an empty secret; the message says which") {
    auto a = make_twilio_adapter(twilio_config({token_a, "  "}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "secret 2 of 2 is empty");
  }
  SUBCASE("public_url is required") {
    auto a = make_twilio_adapter(twilio_config({token_a}, ""));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail ==
          "a twilio channel needs public_url: the URL Twilio calls, as entered in the Twilio "
          "console (e.g. https://example.com/v1/webhooks/phone)");
  }
  SUBCASE("public_url must be an absolute http(s) URL without a query") {
    const std::pair<std::string, std::string> cases[] = {
        {"/v1/webhooks/phone", "public_url \"/v1/webhooks/phone\" is not an absolute URL"},
        {"support.example.com/v1/webhooks/phone",
         "public_url \"support.example.com/v1/webhooks/phone\" is not an absolute URL"},
        {"ftp://support.example.com/phone",
         "public_url \"ftp://support.example.com/phone\" must start with https:// or http://"},
        {"https:///v1/webhooks/phone", "public_url \"https:///v1/webhooks/phone\" has no host"},
        {"https://support.example.com/phone?x=1",
         "public_url \"https://support.example.com/phone?x=1\" must not have a query or "
         "fragment: the query string of each request is appended to it"},
        {"https://support.example.com/phone#top",
         "public_url \"https://support.example.com/phone#top\" must not have a query or "
         "fragment: the query string of each request is appended to it"},
    };
    for (const auto& [url, detail] : cases) {
      CAPTURE(url);
      auto a = make_twilio_adapter(twilio_config({token_a}, url));
      REQUIRE_FALSE(a.has_value());
      CHECK(a.error().code == errc::malformed);
      CHECK(a.error().detail == detail);
    }
  }
  SUBCASE("default_country") {
    auto a = make_twilio_adapter(twilio_config({token_a}, public_url, "Great Britain"));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail.starts_with(
        "default_country \"Great Britain\" is not a supported ISO 3166-1 alpha-2 code"));
  }
}

// ---- the documented vector -----------------------------------------------------------------

TEST_CASE("Twilio's documented signature vector") {
  const pairs params{{"CallSid", "CA1234567890ABCDE"},
                     {"Caller", "+12349013030"},
                     {"Digits", "1234"},
                     {"From", "+12349013030"},
                     {"To", "+18005551212"}};
  const std::string body = form_body(params);
  SUBCASE("the scheme as written in this test") {
    CHECK(twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", body) ==
          "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
  }
  SUBCASE("the adapter accepts it: public_url plus the request's query string") {
    request r{.target = "/myapp.php?foo=1&bar=2", .now = test_now};
    r.body = body;
    r.fields = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}};
    const inbound_message m =
        accepted(r, twilio_config({"12345"}, "https://mycompany.com/myapp.php"));
    CHECK(m.provider_id == "CA1234567890ABCDE:digits");
    CHECK(object_at(m, "callback").at("ivr_digits").as_string() == "1234");
  }
  SUBCASE("the same request without the query string does not verify") {
    request r{.target = "/myapp.php", .now = test_now};
    r.body = body;
    r.fields = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}};
    const error e = refused(r, twilio_config({"12345"}, "https://mycompany.com/myapp.php"));
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "signature does not match");
  }
}

// ---- SMS ---------------------------------------------------------------------------------

TEST_CASE("an MMS with two media and non-ASCII text") {
  request r = signed_post(fixture("sms_mms.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "MM5e8a1f0c2b9d4e7a6c3b1d0e9f8a7b6c");
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK_FALSE(m.sent_at.has_value());
  CHECK(m.identities == std::vector<identity>{{"phone", "+37126123456"}});
  CHECK(m.recipient == "+14155550100");
  CHECK(m.text ==
        "Labdien! Mans rēķins ir nepareizs 🧾 — lūdzu, skatiet pielikumu. Paldies 🙏");
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].content_type == "image/jpeg");
  CHECK(m.attachments[0].url ==
        "https://api.twilio.com/2010-04-01/Accounts/AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d/Messages/"
        "MM5e8a1f0c2b9d4e7a6c3b1d0e9f8a7b6c/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  CHECK(m.attachments[0].name.empty());
  CHECK_FALSE(m.attachments[0].size.has_value());
  CHECK(m.attachments[1].content_type == "application/pdf");
  CHECK(m.attachments[1].url.ends_with("/Media/ME9f8e7d6c5b4a39281706f5e4d3c2b1a0"));
  for (const attachment& a : m.attachments) {  // fetched from the MediaUrl with the account's
    CHECK(a.fetch_kind == "twilio");           // credentials
    CHECK(a.fetch_ref == a.url);
  }
  CHECK_FALSE(m.language.has_value());
  CHECK(m.extra.size() == 1);  // an SMS is not a callback request
  const auto& twilio = object_at(m, "twilio");
  CHECK(twilio.at("message_sid").as_string() == "MM5e8a1f0c2b9d4e7a6c3b1d0e9f8a7b6c");
  CHECK(twilio.at("account_sid").as_string() == "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d");
}

TEST_CASE("a plain SMS keeps '&', '%', '+' and '#' as typed") {
  request r = signed_post(fixture("sms_plain.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "SM2d7c4b1a0f9e8d7c6b5a4f3e2d1c0b9a");
  CHECK(m.text == "Hi, I was charged twice for order #7781 & need a refund (100% sure).");
  CHECK(m.identities == std::vector<identity>{{"phone", "+15550102000"}});
  CHECK(m.attachments.empty());
}

TEST_CASE("SMS: the old SmsSid names are read when MessageSid is missing") {
  pairs p = sms();
  p.erase(p.begin());
  p.emplace_back("SmsMessageSid", "SM00000000000000000000000000000042");
  request r = signed_post(form_body(p));
  CHECK(accepted(r).provider_id == "SM00000000000000000000000000000042");
}

TEST_CASE("SMS text in many scripts") {
  for (const std::string& text :
       {"Sveiki! Vai varat man piezvanīt? Ķēķis, šķūnis, ūdens — ĀČĒĢĪĶĻŅŠŪŽ"s,
        "Привет 👋🏽 👨‍👩‍👧 ✅ 日本語のテキスト"s,
        "مرحبا، أحتاج إلى مساعدة"s}) {
    CAPTURE(text);
    request r = signed_post(form_body(sms(text)));
    CHECK(accepted(r).text == text);
  }
}

TEST_CASE("SMS phone numbers") {
  SUBCASE("a national number with default_country") {
    request r = signed_post(form_body(sms("hi", "020 7946 0018")));
    const inbound_message m = accepted(r, twilio_config({token_a}, public_url, "GB"));
    CHECK(m.identities == std::vector<identity>{{"phone", "+442079460018"}});
  }
  SUBCASE("a national number without default_country: kept for the agent, no identity") {
    request r = signed_post(form_body(sms("hi", "020 7946 0018")));
    const inbound_message m = accepted(r);
    CHECK(m.identities.empty());
    CHECK(m.extra.at("invalid_phone").as_string() == "020 7946 0018");
  }
  SUBCASE("a WhatsApp sender through Twilio is a whatsapp and a phone identity") {
    pairs p = sms("Labdien 👋", "whatsapp:+37126123456");
    p[3].second = "whatsapp:+14155238886";
    request r = signed_post(form_body(p));
    const inbound_message m = accepted(r);
    const std::vector<identity> ids{{"whatsapp", "37126123456"}, {"phone", "+37126123456"}};
    CHECK(m.identities == ids);
    CHECK(m.recipient == "+14155238886");  // the business's number, without Twilio's prefix
  }
}

// Twilio's "WhatsApp: incoming message webhook" parameters (twilio.com/docs/whatsapp/api).
TEST_CASE("WhatsApp through Twilio: the profile name, a location, a button, a reply") {
  SUBCASE("a text with the sender's profile name") {
    pairs p = sms("Labdien", "whatsapp:+37126123456");
    p[3].second = "whatsapp:+14155238886";
    p.emplace_back("ProfileName", "Anna Bērziņa");
    p.emplace_back("WaId", "37126123456");
    p.emplace_back("MessageType", "text");
    request r = signed_post(form_body(p));
    const inbound_message m = accepted(r);
    CHECK(m.sender_name == "Anna Bērziņa");
    CHECK(m.extra.at("twilio").as_object().at("message_type").as_string() == "text");
  }
  SUBCASE("a shared location") {
    pairs p = sms("", "whatsapp:+37126123456");
    p.emplace_back("Latitude", "56.9496");
    p.emplace_back("Longitude", "24.1052");
    p.emplace_back("Label", "Rīgas Centrāltirgus");
    p.emplace_back("Address", "Nēģu iela 7, Rīga");
    request r = signed_post(form_body(p));
    const inbound_message m = accepted(r);
    CHECK(m.text == "Location: Rīgas Centrāltirgus, Nēģu iela 7, Rīga (56.949600, 24.105200)");
    CHECK(m.extra.at("location").as_object().at("longitude").as_double() ==
          doctest::Approx(24.1052));
  }
  SUBCASE("coordinates that are not numbers are kept unreadable") {
    pairs p = sms("", "whatsapp:+37126123456");
    p.emplace_back("Latitude", "north");
    p.emplace_back("Longitude", "24.1052");
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "fields Latitude and Longitude must be coordinates");
  }
  SUBCASE("a button tap and a reply") {
    pairs p = sms("Yes", "whatsapp:+37126123456");
    p.emplace_back("ButtonText", "Yes");
    p.emplace_back("ButtonPayload", "CONFIRM_4471");
    p.emplace_back("OriginalRepliedMessageSid", "MM0123456789abcdef0123456789abcdef");
    request r = signed_post(form_body(p));
    const inbound_message m = accepted(r);
    CHECK(m.extra.at("interactive").as_object().at("id").as_string() == "CONFIRM_4471");
    CHECK(m.extra.at("reply_to").as_string() == "MM0123456789abcdef0123456789abcdef");
  }
}

TEST_CASE("MMS with media only, and media bounds") {
  SUBCASE("no body text, one picture") {
    pairs p = sms("");
    p[5].second = "1";
    p.emplace_back("MediaUrl0", "https://api.twilio.com/m/ME1");
    p.emplace_back("MediaContentType0", "image/png");
    request r = signed_post(form_body(p));
    const inbound_message m = accepted(r);
    CHECK(m.text.empty());
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].content_type == "image/png");
    CHECK(m.attachments[0].fetch_kind == "twilio");
    CHECK(m.attachments[0].fetch_ref == "https://api.twilio.com/m/ME1");
  }
  SUBCASE("NumMedia larger than the media sent") {
    pairs p = sms();
    p[5].second = "2";
    p.emplace_back("MediaUrl0", "https://api.twilio.com/m/ME1");
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "field MediaUrl1 is required");
  }
  SUBCASE("NumMedia not a number, or absurd") {
    for (const std::string n : {"two", "-1", "1.0", "101", "99999999999999999999999"}) {
      CAPTURE(n);
      pairs p = sms();
      p[5].second = n;
      request r = signed_post(form_body(p));
      CHECK(kept(r).reason == "field NumMedia must be a whole number from 0 to 100");
    }
  }
}

TEST_CASE("SMS events that are not customer messages are ignored, with TwiML") {
  SUBCASE("a delivery status callback") {
    request r = signed_post(fixture("sms_status_delivered.form"));
    ignored(r);
  }
  SUBCASE("every outbound status") {
    for (const std::string status :
         {"queued", "sending", "sent", "failed", "undelivered", "read"}) {
      CAPTURE(status);
      pairs p = sms();
      p.emplace_back("MessageStatus", status);
      request r = signed_post(form_body(p));
      ignored(r);
    }
  }
}

TEST_CASE("status callbacks move agents' replies on: sent, delivered, read, failed with a reason") {
  const auto statuses = [](pairs p) {
    request r = signed_post(form_body(p));
    const parse_result res = accepted_result(receive(r, twilio_config()));
    CHECK(res.messages.empty());
    check_ack(res);
    return res.statuses;
  };
  auto st = statuses({{"MessageSid", "SM1"}, {"MessageStatus", "delivered"}, {"To", "+1"}});
  REQUIRE(st.size() == 1);
  CHECK(st[0].provider_id == "SM1");
  CHECK(st[0].status == "delivered");
  st = statuses({{"MessageSid", "SM1"}, {"MessageStatus", "read"}});
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "read");
  st = statuses({{"MessageSid", "SM1"}, {"MessageStatus", "undelivered"}, {"ErrorCode", "30003"}});
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "failed");
  CHECK(st[0].reason == "(30003) Unreachable destination handset");
  st = statuses({{"MessageSid", "SM1"}, {"MessageStatus", "failed"}, {"ErrorCode", "63016"}});
  CHECK(st[0].reason.starts_with("window_closed: (63016)"));
  // The steps before sent tell nothing the reply's own status does not.
  CHECK(statuses({{"MessageSid", "SM1"}, {"MessageStatus", "queued"}}).empty());
  CHECK(statuses({{"MessageSid", "SM1"}, {"MessageStatus", "sending"}}).empty());
}

TEST_CASE("SMS that carry nothing for an agent are ignored, with TwiML") {
  SUBCASE("an empty SMS") {
    request r = signed_post(form_body(sms("")));
    ignored(r);
  }
  SUBCASE("a request that is neither a message nor a call (a Conversations event)") {
    request r = signed_post(form_body({{"EventType", "onConversationAdded"},
                                       {"ConversationSid", "CH0000000000000000000000000000001"},
                                       {"AccountSid", "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d"}}));
    ignored(r);
  }
}

// ---- voice -------------------------------------------------------------------------------

TEST_CASE("voice: a Gather result is a callback request with the IVR digits") {
  request r = signed_post(fixture("voice_gather.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c:digits");
  CHECK(m.identities == std::vector<identity>{{"phone", "+442079460018"}});
  CHECK(m.recipient == "+14155550100");
  CHECK(m.text == "ivr input");
  CHECK(m.attachments.empty());
  const auto& cb = object_at(m, "callback");
  CHECK(cb.size() == 6);
  CHECK(cb.at("phone").as_string() == "+442079460018");
  CHECK(cb.at("window").is_null());
  CHECK(cb.at("reason").as_string() == "ivr input");
  CHECK(cb.at("ivr_digits").as_string() == "1");
  CHECK(cb.at("transcript").is_null());
  CHECK(cb.at("recording_url").is_null());
  const auto& twilio = object_at(m, "twilio");
  CHECK(twilio.at("call_sid").as_string() == "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c");
  CHECK(twilio.at("call_status").as_string() == "in-progress");
}

TEST_CASE("voice: a transcription carries the caller's words and the recording") {
  request r = signed_post(fixture("voice_transcription.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c:transcription");
  const std::string words =
      "Hello, this is Bo Berg. I was charged twice for my November invoice, please call me back "
      "after two.";
  CHECK(m.text == words);
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "recording");
  CHECK(m.attachments[0].content_type == "audio/x-wav");
  const std::string recording =
      "https://api.twilio.com/2010-04-01/Accounts/AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d/Recordings/"
      "RE4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f";
  CHECK(m.attachments[0].url == recording);
  CHECK(m.attachments[0].fetch_kind == "twilio");
  CHECK(m.attachments[0].fetch_ref == recording);
  const auto& cb = object_at(m, "callback");
  CHECK(cb.at("phone").as_string() == "+442079460018");
  CHECK(cb.at("reason").as_string() == "voicemail");
  CHECK(cb.at("transcript").as_string() == words);
  CHECK(cb.at("recording_url").as_string() == recording);
  CHECK(cb.at("ivr_digits").is_null());
  CHECK(object_at(m, "twilio").at("recording_sid").as_string() ==
        "RE4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f");
}

TEST_CASE("voice: a <Record> action is a voicemail; its Digits is not an IVR choice") {
  request r = signed_post(fixture("voice_recording.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c:recording");
  CHECK(m.text == "voicemail");
  REQUIRE(m.attachments.size() == 1);
  const auto& cb = object_at(m, "callback");
  CHECK(cb.at("reason").as_string() == "voicemail");
  CHECK(cb.at("ivr_digits").is_null());
  CHECK(cb.at("transcript").is_null());
  CHECK(cb.at("recording_url")
            .as_string()
            .ends_with("/Recordings/RE4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f"));
  CHECK(object_at(m, "twilio").at("recording_duration").as_int64() == 14);
}

TEST_CASE("voice: a call with nothing but the caller is a missed call") {
  request r = signed_post(fixture("voice_incoming.form"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c:missed");
  CHECK(m.text == "missed call");
  CHECK(m.generated_text_from == 0);  // Switchboard's words: no language detected from them
  CHECK(m.identities == std::vector<identity>{{"phone", "+442079460018"}});
  const auto& cb = object_at(m, "callback");
  CHECK(cb.at("phone").as_string() == "+442079460018");
  CHECK(cb.at("reason").as_string() == "missed call");
  CHECK(cb.at("window").is_null());
  CHECK(cb.at("ivr_digits").is_null());
  CHECK(cb.at("transcript").is_null());
  CHECK(cb.at("recording_url").is_null());
  CHECK(object_at(m, "twilio").at("call_status").as_string() == "ringing");
}

TEST_CASE("voice: the webhooks of one call are distinct messages; a retry is the same one") {
  request g = signed_post(fixture("voice_gather.form"));
  const std::string gather = accepted(g).provider_id;
  request t = signed_post(fixture("voice_transcription.form"));
  request missed = signed_post(fixture("voice_incoming.form"));
  request rec = signed_post(fixture("voice_recording.form"));
  const std::vector<std::string> ids{gather, accepted(t).provider_id, accepted(missed).provider_id,
                                     accepted(rec).provider_id};
  std::vector<std::string> unique = ids;
  std::sort(unique.begin(), unique.end());
  CHECK(std::unique(unique.begin(), unique.end()) == unique.end());
  for (const auto& id : ids) CHECK(id.starts_with("CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c:"));
  // Twilio's retry of the Gather webhook (same body, signed again): the same provider id.
  request retry = signed_post(fixture("voice_gather.form"));
  CHECK(accepted(retry).provider_id == gather);
}

TEST_CASE("voice: speech input from <Gather input=\"speech\">") {
  request r = signed_post(form_body(
      call({{"SpeechResult", "Es gribu runāt ar grāmatvedību"}, {"Confidence", "0.91"}})));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA00000000000000000000000000000001:speech");
  CHECK(m.text == "Es gribu runāt ar grāmatvedību");
  const auto& cb = object_at(m, "callback");
  CHECK(cb.at("reason").as_string() == "ivr input");
  CHECK(cb.at("transcript").as_string() == "Es gribu runāt ar grāmatvedību");
  CHECK(cb.at("ivr_digits").is_null());
}

TEST_CASE("voice: a <Dial> that reached nobody is missed; one that was answered is not") {
  for (const std::string status : {"no-answer", "busy", "failed", "canceled"}) {
    CAPTURE(status);
    request r = signed_post(form_body(
        call({{"DialCallStatus", status}, {"DialCallSid", "CA00000000000000000000000000000002"}})));
    CHECK(accepted(r).provider_id == "CA00000000000000000000000000000001:missed");
  }
  for (const std::string status : {"completed", "answered"}) {
    CAPTURE(status);
    request r = signed_post(form_body(call({{"DialCallStatus", status}})));
    ignored(r);
  }
}

TEST_CASE("voice events that are not callback requests are ignored") {
  SUBCASE("a status callback of a call the business placed") {
    request r = signed_post(fixture("voice_status_outbound.form"));
    ignored(r);
  }
  SUBCASE("outbound-dial legs") {
    pairs p = call();
    p[5].second = "outbound-dial";
    request r = signed_post(form_body(p));
    ignored(r);
  }
  SUBCASE("a recording status callback (it names no caller)") {
    request r = signed_post(form_body({{"AccountSid", "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d"},
                                       {"CallSid", "CA00000000000000000000000000000001"},
                                       {"RecordingSid", "RE00000000000000000000000000000001"},
                                       {"RecordingUrl", "https://api.twilio.com/r/RE1"},
                                       {"RecordingStatus", "completed"},
                                       {"RecordingDuration", "9"},
                                       {"RecordingChannels", "1"},
                                       {"RecordingSource", "RecordVerb"}}));
    ignored(r);
  }
  SUBCASE("a failed transcription") {
    request r = signed_post(form_body(call({{"RecordingUrl", "https://api.twilio.com/r/RE1"},
                                            {"TranscriptionStatus", "failed"},
                                            {"TranscriptionText", ""}})));
    ignored(r);
  }
}

TEST_CASE("voice: a caller that is not a phone number") {
  request r = signed_post(form_body(call({}, "anonymous")));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "CA00000000000000000000000000000001:missed");
  CHECK(m.identities.empty());
  CHECK(m.extra.at("invalid_phone").as_string() == "anonymous");
  CHECK(object_at(m, "callback").at("phone").is_null());

  // Twilio's spelling of a withheld number before 2023: keypad digits of ANONYMOUS, RESTRICTED,
  // UNAVAILABLE, BLOCKED. Numbers in form; nobody's.
  for (const std::string placeholder : {"+266696687", "+7378742833", "+86282452253", "+2562533"}) {
    CAPTURE(placeholder);
    request w = signed_post(form_body(call({}, placeholder)));
    const inbound_message n = accepted(w);
    CHECK(n.identities.empty());
    CHECK(n.extra.at("invalid_phone").as_string() == placeholder);
  }
}

// ---- malformed requests ------------------------------------------------------------------

TEST_CASE("validly signed requests with missing or bad fields are kept, naming the field") {
  SUBCASE("an SMS without From") {
    pairs p = sms();
    p.erase(p.begin() + 2);
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "field From is required");
  }
  SUBCASE("a call without From") {
    pairs p = call();
    p.erase(p.begin() + 2);
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "field From is required");
  }
  SUBCASE("an absurd MessageSid") {
    pairs p = sms();
    p[0].second = std::string(257, 'S');
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "field MessageSid must be at most 256 bytes");
  }
  SUBCASE("an absurd CallSid") {
    pairs p = call();
    p[0].second = std::string(300, 'C');
    request r = signed_post(form_body(p));
    CHECK(kept(r).reason == "field CallSid must be at most 256 bytes");
  }
  SUBCASE("invalid UTF-8 in a value") {
    for (const std::string& bad : {"bad \xff byte"s, "overlong \xc0\xaf"s, "cut \xc4"s,
                                   "surrogate \xed\xa0\x80"s, "too big \xf4\x90\x80\x80"s}) {
      CAPTURE(bad);
      request r = signed_post(form_body(sms(bad)));
      const error e = refused(r);
      CHECK(e.code == errc::malformed);
      CHECK(e.detail == "field Body is not valid UTF-8");
    }
  }
  SUBCASE("invalid UTF-8 in a name") {
    pairs p = sms();
    p.emplace_back("X\xff", "1");
    request r = signed_post(form_body(p));
    CHECK(refused(r).detail == "a field name is not valid UTF-8");
  }
}

TEST_CASE("bodies that are not Twilio's form cannot carry its signature: 401") {
  SUBCASE("a bad %-escape") {
    request r = signed_post(form_body(sms()));
    r.body += "&Extra=%zz";
    CHECK(refused(r).detail == "signature does not match");
  }
  SUBCASE("a truncated body, as a proxy cutting the request would leave it") {
    request r = signed_post(fixture("sms_mms.form"));
    r.body.resize(r.body.size() / 2);
    const error e = refused(r);
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "signature does not match");
  }
  SUBCASE("JSON") {
    request r{.target = path, .now = test_now};
    r.body = R"({"MessageSid":"SM1","From":"+15550102000","Body":"hi"})";
    r.fields = {{"Content-Type", "application/json"},
                {"X-Twilio-Signature", base64_encode(hmac_sha1(token_a, public_url + r.body))}};
    CHECK(refused(r).code == errc::bad_signature);
  }
}

// ---- content type --------------------------------------------------------------------------

TEST_CASE("Content-Type must be a UTF-8 urlencoded form, checked after the signature") {
  SUBCASE("accepted spellings") {
    for (const std::string ct :
         {"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
          "Application/X-WWW-Form-URLEncoded;charset=\"utf-8\""}) {
      CAPTURE(ct);
      request r = signed_post(form_body(sms()));
      r.set("Content-Type", ct);
      accepted(r);
    }
  }
  SUBCASE("other media types") {
    for (const std::string ct : {"", "application/json", "multipart/form-data; boundary=x",
                                 "text/plain", "application/x-www-form-urlencodedx"}) {
      CAPTURE(ct);
      request r = signed_post(form_body(sms()));
      r.set("Content-Type", ct);
      const error e = refused(r);
      CHECK(e.code == errc::unsupported_media_type);
      CHECK(e.detail == "Content-Type must be application/x-www-form-urlencoded");
    }
  }
  SUBCASE("missing") {
    request r = signed_post(form_body(sms()));
    r.remove("Content-Type");
    CHECK(refused(r).code == errc::unsupported_media_type);
  }
  SUBCASE("another charset") {
    request r = signed_post(form_body(sms()));
    r.set("Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1");
    CHECK(refused(r).detail == "Content-Type charset must be utf-8");
  }
  SUBCASE("unsigned with the wrong type: the signature is what is reported") {
    request r = signed_post(form_body(sms()), token_b);
    r.set("Content-Type", "text/plain");
    CHECK(refused(r).code == errc::bad_signature);
  }
}

// ---- signatures ---------------------------------------------------------------------------

TEST_CASE("every kind of bad signature is a 401") {
  const std::string body = form_body(sms("Please call me"));
  request r = signed_post(body);
  auto check_refused = [&](std::string_view detail, const channel_config& cfg = twilio_config()) {
    check_bad_signature(refused(r, cfg), detail);
  };
  SUBCASE("missing header") {
    r.remove("X-Twilio-Signature");
    check_refused("missing header X-Twilio-Signature");
  }
  SUBCASE("empty header") {
    r.set("X-Twilio-Signature", "");
    check_refused("missing header X-Twilio-Signature");
  }
  SUBCASE("wrong auth token") {
    r = signed_post(body, token_b);
    check_refused("signature does not match");
  }
  SUBCASE("a value changed after signing") {
    r.body = form_body(sms("Please call me!"));
    check_refused("signature does not match");
  }
  SUBCASE("a parameter added after signing") {
    r.body += "&Injected=1";
    check_refused("signature does not match");
  }
  SUBCASE("a parameter removed after signing") {
    r.body = r.body.substr(0, r.body.rfind('&'));
    check_refused("signature does not match");
  }
  SUBCASE("signed for another URL") {
    for (const std::string url : {"http://support.example.com/v1/webhooks/phone",
                                  "https://support.example.com/v1/webhooks/sms",
                                  "https://attacker.example/v1/webhooks/phone",
                                  "https://support.example.com/v1/webhooks/phone/"}) {
      CAPTURE(url);
      r = signed_post(body, token_a, path, url);
      check_refused("signature does not match");
    }
  }
  SUBCASE("the query string changed after signing") {
    r = signed_post(body, token_a, path + "?attempt=1");
    r.target = path + "?attempt=2";
    check_refused("signature does not match");
  }
  SUBCASE("signed with a query string, received without it") {
    r = signed_post(body, token_a, path + "?attempt=1");
    r.target = path;
    check_refused("signature does not match");
  }
  SUBCASE("not base64") {
    r.set("X-Twilio-Signature", "not a signature!");
    check_refused("signature does not match");
  }
  SUBCASE("truncated") {
    const std::string sig = twilio_signature(token_a, public_url, body);
    r.set("X-Twilio-Signature", sig.substr(0, sig.size() - 4));
    check_refused("signature does not match");
  }
  SUBCASE("a HMAC-SHA256 in place of the SHA-1") {
    r.set("X-Twilio-Signature", base64_encode(hmac_sha256(token_a, public_url)));
    check_refused("signature does not match");
  }
  SUBCASE("neither of two rotated tokens") {
    r = signed_post(body, "ffffffffffffffffffffffffffffffff");
    check_refused("signature does not match", twilio_config({token_a, token_b}));
  }
}

TEST_CASE("a query string Twilio was given is part of what it signs") {
  const std::string body = form_body(sms());
  request r = signed_post(body, token_a, path + "?skill=billing&x=%C4%81");
  accepted(r);
}

TEST_CASE("key rotation: any configured auth token verifies") {
  const std::string body = form_body(sms());
  SUBCASE("the second token") {
    request r = signed_post(body, token_b);
    accepted(r, twilio_config({token_a, token_b}));
  }
  SUBCASE("the first token") {
    request r = signed_post(body, token_a);
    accepted(r, twilio_config({token_a, token_b}));
  }
  SUBCASE("surrounding whitespace in a configured token is not part of it") {
    request r = signed_post(body, token_a);
    accepted(r, twilio_config({token_a + "\n"}));
  }
}

TEST_CASE("the URL with and without its default port both verify, as in Twilio's validators") {
  const std::string body = form_body(sms());
  SUBCASE("configured without a port, signed with :443") {
    request r =
        signed_post(body, token_a, path, "https://support.example.com:443/v1/webhooks/phone");
    accepted(r);
  }
  SUBCASE("configured with :443, signed without") {
    request r = signed_post(body, token_a, path, public_url);
    accepted(r, twilio_config({token_a}, "https://support.example.com:443/v1/webhooks/phone"));
  }
  SUBCASE("http and port 80") {
    request r = signed_post(body, token_a, path, "http://support.example.com:80/v1/webhooks/phone");
    accepted(r, twilio_config({token_a}, "http://support.example.com/v1/webhooks/phone"));
  }
  SUBCASE("another port is not the default one") {
    request r =
        signed_post(body, token_a, path, "https://support.example.com:8443/v1/webhooks/phone");
    CHECK(refused(r).code == errc::bad_signature);
  }
}

TEST_CASE("repeated and non-ASCII parameter names are signed in byte order") {
  pairs p = sms();
  p.emplace_back("Zeta", "b");
  p.emplace_back("Zeta", "a");
  p.emplace_back("Ēdiens", "zupa");
  p.emplace_back("Alpha", "ā");
  request r = signed_post(form_body(p));
  accepted(r);
  // The same parameters in another order are the same signed content.
  std::reverse(p.begin(), p.end());
  r.body = form_body(p);
  accepted(r);
}

}  // namespace
}  // namespace sb
