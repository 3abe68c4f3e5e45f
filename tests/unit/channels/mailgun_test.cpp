#include "channels/mailgun/mailgun.hpp"

#include "channels/crypto.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

const std::string fixture_ts = "1795341600";  // the fixtures were signed 30 s earlier

const std::string key = "key-7e1b3c9a2f0d4e6b8a1c3e5f7a9b0c2d";  // signed the fixtures
const std::string old_key = "key-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";

channel_config mailgun_config(std::vector<std::string> secrets = {key}) {
  return test_channel("support-mailgun", "mailgun", std::move(secrets));
}

struct request {
  std::string content_type;
  std::string body;
  millis now = test_now;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<header_field> views;

  request_view view() {
    fields = {{"Content-Type", content_type}, {"User-Agent", "mailgun/treq-16.12.0"}};
    views.clear();
    for (const auto& [name, value] : fields) views.push_back({name, value});
    return {"POST", "/v1/webhooks/support-mailgun", views, body, now};
  }
};

std::string fixture(const std::string& name) { return read_fixture("mailgun", name); }

using field_list = std::vector<std::pair<std::string, std::string>>;

std::string sign(std::string_view k, std::string_view ts, std::string_view token) {
  const std::string_view parts[] = {ts, token};
  return hex_encode(hmac_sha256_concat(k, parts));
}

// A urlencoded route post of `fields`, signed with `k` at `ts` (unless the caller already
// put signing fields in).
request form_post(field_list fields, std::string_view k = key, std::string ts = fixture_ts) {
  const std::string token = "5b2f3e8a1c9d4e7f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
  fields.emplace_back("timestamp", ts);
  fields.emplace_back("token", token);
  fields.emplace_back("signature", sign(k, ts, token));
  request r;
  r.content_type = "application/x-www-form-urlencoded";
  r.body = form_body(fields);
  return r;
}

request urlencoded_fixture() {
  request r;
  r.content_type = "application/x-www-form-urlencoded";
  r.body = fixture("message_urlencoded.txt");
  return r;
}

request multipart_fixture() {
  request r;
  r.content_type = "multipart/form-data; boundary=a7Bx92kLmZq4";
  r.body = fixture("message_multipart.txt");
  return r;
}

SB_ADAPTER_STEPS(make_mailgun_adapter, mailgun_config(), only_message, refusal)

std::size_t ignored(request& r, const channel_config& cfg = mailgun_config()) {
  const parse_result res = accepted_result(receive(r, cfg));
  CHECK(res.messages.empty());
  return res.ignored;
}

const boost::json::object& mail(const inbound_message& m) {
  return m.extra.at("email").as_object();
}

// Replaces the first occurrence of `what` in the body.
void replace(request& r, std::string_view what, std::string_view with) {
  const auto pos = r.body.find(what);
  REQUIRE(pos != std::string::npos);
  r.body.replace(pos, what.size(), with);
}

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_mailgun_adapter") {
  CHECK(make_mailgun_adapter(mailgun_config()).has_value());
  auto none = make_mailgun_adapter(mailgun_config({}));
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().detail ==
        "a mailgun channel needs a secret: the domain's HTTP webhook signing key");
}

// ---- valid posts -------------------------------------------------------------------------

TEST_CASE("a urlencoded route post is mapped field by field") {
  request r = urlencoded_fixture();
  const inbound_message m = accepted(r);
  CHECK(m.provider_id ==
        "CAF7k2pQ.20261122.1159@mail.example.lv from janis.berzins@example.lv (unverified)");
  CHECK(m.identities == std::vector<identity>{{"email", "janis.berzins@example.lv", false}});
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.recipient == "support@acme.example");
  CHECK(m.subject == "Re: Rēķins Nr. 2026-118");
  CHECK(m.text ==
        "Labdien!\n\nMans rēķins Nr. 2026-118 ir nepareizs — summa ir 149,00 €.\n\nJānis\n\n"
        "On Fri, 20 Nov 2026 at 10:00, Acme Support <support@acme.example> wrote:\n"
        "> Your invoice is attached.");
  CHECK(m.sent_at == parse_time("2026-11-22T09:59:30Z"));
  CHECK(m.attachments.empty());
  CHECK(m.visibility == "private");
  CHECK(m.direction == "inbound");
  const auto& e = mail(m);
  CHECK(e.at("message_id").as_string() == "CAF7k2pQ.20261122.1159@mail.example.lv");
  CHECK(e.at("in_reply_to").as_string() == "ticket-7781.reply-2@acme.example");
  CHECK(strings(e.at("references")).size() == 3);
  CHECK(strings(e.at("to")) == std::vector<std::string>{"support@acme.example"});
  CHECK(strings(e.at("cc")) == std::vector<std::string>{"liga.ozolina@example.lv"});
  CHECK(e.at("stripped_text").as_string() ==
        "Labdien!\n\nMans rēķins Nr. 2026-118 ir nepareizs — summa ir 149,00 €.");
}

TEST_CASE("a multipart route post with attachments") {
  request r = multipart_fixture();
  const inbound_message m = accepted(r);
  CHECK(m.provider_id ==
        "a1b2c3d4-5e6f@mail.example.de from juergen.mueller@example.de (unverified)");
  CHECK(m.identities == std::vector<identity>{{"email", "juergen.mueller@example.de", false}});
  CHECK(m.sender_name == "Müller, Jürgen");
  CHECK(m.subject == "Schadensmeldung – Fotos anbei");
  CHECK(m.text ==
        "Guten Tag,\n\nanbei die Fotos des beschädigten Pakets.\n\nMit freundlichen Grüßen\n"
        "Jürgen Müller");
  CHECK(m.sent_at == parse_time("2026-11-22T09:59:00Z"));
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].name == "Schadensbericht.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 327);
  // The file parts' bytes, as posted: binary, NUL and high bytes included.
  CHECK(m.attachments[0].bytes == sample_pdf());
  CHECK(m.attachments[1].name == "Paket_beschädigt.png");
  CHECK(m.attachments[1].content_type == "image/png");
  CHECK(m.attachments[1].size == 81);
  REQUIRE(m.attachments[1].bytes.has_value());
  CHECK(m.attachments[1].bytes->size() == 81);
  CHECK(m.attachments[1].bytes->starts_with(png_signature));
  CHECK(mail(m).at("in_reply_to").is_null());
}

TEST_CASE("message-headers stands in for missing header fields") {
  request r = form_post(
      {{"from", "Ann <ann@example.com>"},
       {"recipient", "support@acme.example"},
       {"body-plain", "hi"},
       {"message-headers",
        R"([["Message-Id","<mh-1@example.com>"],["In-Reply-To","<t-1@acme.example>"],)"
        R"(["References","<t-0@acme.example> <t-1@acme.example>"],)"
        R"(["Date","Sun, 22 Nov 2026 10:00:00 +0000"],["To","a@acme.example, b@acme.example"],)"
        R"(["Subject","=?UTF-8?Q?Sveiki_=F0=9F=91=8B?="]])"}});
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "mh-1@example.com from ann@example.com (unverified)");
  CHECK(m.subject == "Sveiki 👋");
  CHECK(m.sent_at == parse_time("2026-11-22T10:00:00Z"));
  CHECK(m.recipient == "support@acme.example");
  const auto& e = mail(m);
  CHECK(e.at("in_reply_to").as_string() == "t-1@acme.example");
  CHECK(strings(e.at("references")) ==
        std::vector<std::string>{"t-0@acme.example", "t-1@acme.example"});
  CHECK(strings(e.at("to")) == std::vector<std::string>{"a@acme.example", "b@acme.example"});
}

TEST_CASE("an HTML-only post: the text comes from body-html") {
  request r = form_post({{"from", "ann@example.com"},
                         {"body-plain", ""},
                         {"body-html", "<p>Only <i>HTML</i> here&nbsp;&#x1F44B;</p>"}});
  CHECK(accepted(r).text == "Only HTML here 👋");
}

TEST_CASE("raw MIME posts (body-mime) are parsed with GMime") {
  const std::string mime =
      "From: =?UTF-8?Q?L=C4=ABga?= <liga@example.lv>\r\nTo: support@acme.example\r\n"
      "Subject: =?UTF-8?B?UGFyb2xl?=\r\nMessage-ID: <raw-1@example.lv>\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
      "\r\nR=C4=93=C4=B7ins\r\n";
  request r = form_post({{"recipient", "help@acme.example"},
                         {"sender", "liga@example.lv"},
                         {"from", "Līga <liga@example.lv>"},
                         {"subject", "Parole"},
                         {"body-mime", mime}});
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "raw-1@example.lv from liga@example.lv (unverified)");
  CHECK(m.sender_name == "Līga");
  CHECK(m.subject == "Parole");
  CHECK(m.text == "Rēķins");
  CHECK(m.recipient == "help@acme.example");
}

TEST_CASE("stored-message notifications carry attachment URLs") {
  request r = form_post(
      {{"from", "ann@example.com"},
       {"body-plain", "see attached"},
       {"attachments",
        R"([{"url":"https://storage.eu.mailgun.net/v3/domains/acme.example/messages/AgEF/attachments/0",)"
        R"("content-type":"image/jpeg","name":"foto.jpg","size":51234}])"}});
  const inbound_message m = accepted(r);
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "foto.jpg");
  CHECK(m.attachments[0].content_type == "image/jpeg");
  CHECK(m.attachments[0].size == 51234);
  CHECK(m.attachments[0].url.starts_with("https://storage.eu.mailgun.net/"));
}

TEST_CASE("the sender: From first, the envelope sender when From is unusable") {
  SUBCASE("From is not an address") {
    request r = form_post({{"from", "Mail Robot"}, {"sender", "robot@shop.example"}});
    CHECK(accepted(r).identities == std::vector<identity>{{"email", "robot@shop.example", false}});
  }
  SUBCASE("neither is: the mail is kept unreadable") {
    request r = form_post({{"from", "Mail Robot"}, {"sender", "nobody"}, {"body-plain", "x"}});
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == "body");
    CHECK(u.reason == "field from is not a valid email address");
  }
  SUBCASE("none given") {
    request r = form_post({{"recipient", "support@acme.example"}, {"body-plain", "x"}});
    CHECK(kept_unreadable(receive(r)).reason == "field from is required");
  }
  // A post without the from field still carries the mail's From among its headers; the
  // envelope sender (an SRS or bounce address) is not the author.
  SUBCASE("a blank from field: the From of message-headers") {
    request r = form_post({{"from", " "},
                           {"sender", "bounces@mg.example.net"},
                           {"message-headers", R"([["From","ann@example.com"]])"},
                           {"body-plain", "x"}});
    CHECK(accepted(r).identities == std::vector<identity>{{"email", "ann@example.com", false}});
  }
  SUBCASE("no from field: the From of message-headers, not the envelope sender") {
    request r =
        form_post({{"sender", "bounces+srs=abc=example.com@mg.example.net"},
                   {"message-headers",
                    R"([["From","Ann Lee <ann@example.com>"],["Auto-Submitted","auto-replied"]])"},
                   {"body-plain", "x"}});
    const inbound_message m = accepted(r);
    CHECK(m.identities == std::vector<identity>{{"email", "ann@example.com", false}});
    CHECK(m.sender_name == "Ann Lee");
    CHECK(m.extra.at("auto_reply_reason").as_string() == "Auto-Submitted: auto-replied");
  }
}

// ---- events ------------------------------------------------------------------------------

TEST_CASE("event webhooks and posts without message fields are counted as ignored") {
  SUBCASE("a JSON event webhook, signed") {
    request r;
    r.content_type = "application/json";
    r.body = fixture("event_delivered.json");
    CHECK(ignored(r) == 1);
  }
  SUBCASE("a legacy urlencoded event") {
    request r = form_post({{"event", "opened"}, {"message-id", "x@y"}, {"ip", "203.0.113.9"}});
    CHECK(ignored(r) == 1);
  }
  SUBCASE("a bounce report") {
    request r = form_post({{"from", "MAILER-DAEMON@mx.example"},
                           {"Content-Type", "multipart/report; report-type=delivery-status"}});
    CHECK(ignored(r) == 1);
  }
}

TEST_CASE("events move agents' replies: delivered, opened as read, failed for good") {
  const auto statuses = [](std::string_view from, std::string_view to) {
    request r;
    r.content_type = "application/json";
    r.body = fixture("event_delivered.json");
    replace(r, from, to);  // the signature covers the timestamp and token, not the event
    const parse_result res = accepted_result(receive(r, mailgun_config()));
    CHECK(res.ignored == 1);
    return res.statuses;
  };
  auto st = statuses("\"event\": \"delivered\"", "\"event\": \"delivered\"");
  REQUIRE(st.size() == 1);
  CHECK(st[0].provider_id == "ticket-7781.reply-2@acme.example");
  CHECK(st[0].status == "delivered");
  CHECK(st[0].at == 1'795'341'599'500);
  st = statuses("\"event\": \"delivered\"", "\"event\": \"opened\"");
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "read");
  st = statuses("\"event\": \"delivered\"",
                R"("event": "failed", "severity": "permanent", "reason": "bounce",)"
                R"( "delivery-status": {"code": 550, "message": "5.1.1 No such user"})");
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "failed");
  CHECK(st[0].reason == "(550) 5.1.1 No such user");
  // Mailgun retries a temporary failure: nothing to say yet. Other events say nothing.
  CHECK(statuses("\"event\": \"delivered\"", R"("event": "failed", "severity": "temporary")")
            .empty());
  CHECK(statuses("\"event\": \"delivered\"", "\"event\": \"clicked\"").empty());
}

// ---- signatures --------------------------------------------------------------------------

TEST_CASE("signature failures are 401") {
  SUBCASE("missing fields, each") {
    for (const char* name : {"timestamp", "token", "signature"}) {
      CAPTURE(name);
      request r = form_post({{"from", "ann@example.com"}});
      const auto pos = r.body.find("&"s + name + "=");
      REQUIRE(pos != std::string::npos);
      const auto end = r.body.find('&', pos + 1);
      r.body.erase(pos, end == std::string::npos ? std::string::npos : end - pos);
      const error e = refused(r);
      CHECK(e.code == errc::bad_signature);
      CHECK(e.detail == "missing field "s + name);
    }
  }
  SUBCASE("signed with another key") {
    request r = form_post({{"from", "ann@example.com"}}, old_key);
    const error e = refused(r);
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "signature does not match");
  }
  SUBCASE("the fixture checked against another key") {
    request r = urlencoded_fixture();
    CHECK(refused(r, mailgun_config({old_key})).detail == "signature does not match");
  }
  SUBCASE("a changed token or timestamp") {
    request r = urlencoded_fixture();
    replace(r, "token=c7a6", "token=d7a6");
    CHECK(refused(r).detail == "signature does not match");
    request r2 = urlencoded_fixture();
    replace(r2, "timestamp=1795341600", "timestamp=1795341601");
    CHECK(refused(r2).detail == "signature does not match");
  }
  SUBCASE("replayed: older than the tolerance, or too far in the future") {
    request r = urlencoded_fixture();
    r.now = (1'795'341'600 + 301) * 1000LL;
    CHECK(refused(r).detail ==
          "field timestamp is outside the tolerance (a replay, or a clock is off)");
    r.now = (1'795'341'600 + 300) * 1000LL;
    CHECK(accepted(r).subject == "Re: Rēķins Nr. 2026-118");
    r.now = (1'795'341'600 - 301) * 1000LL;
    CHECK(refused(r).code == errc::bad_signature);
  }
  SUBCASE("a channel's own tolerance") {
    channel_config cfg = mailgun_config();
    cfg.tolerance = std::chrono::seconds{20};
    request r = urlencoded_fixture();  // signed 30 s before test_now
    CHECK(refused(r, cfg).code == errc::bad_signature);
  }
  SUBCASE("not hex, or not a SHA-256") {
    request r = form_post({{"from", "ann@example.com"}});
    const auto pos = r.body.find("signature=");
    r.body.replace(pos + 10, 4, "zzzz");
    CHECK(refused(r).detail == "field signature is not a hex HMAC-SHA256");
    request r2 = form_post({{"from", "ann@example.com"}});
    r2.body.erase(r2.body.size() - 2);
    CHECK(refused(r2).detail == "field signature is not a hex HMAC-SHA256");
  }
  SUBCASE("a timestamp that is not a number") {
    request r = form_post({{"from", "ann@example.com"}}, key, "17953416OO");
    CHECK(refused(r).detail == "field timestamp is not a unix time in seconds");
  }
  SUBCASE("the multipart fixture without its signature") {
    request r = multipart_fixture();
    replace(r, "name=\"signature\"", "name=\"x-signature\"");
    CHECK(refused(r).detail == "missing field signature");
  }
  SUBCASE("a JSON event with a bad or no signature") {
    request r;
    r.content_type = "application/json";
    r.body = fixture("event_delivered.json");
    replace(r, "\"token\": \"e1", "\"token\": \"f1");
    CHECK(refused(r).detail == "signature does not match");
    r.body = R"({"event-data":{"event":"opened"}})";
    CHECK(refused(r).detail == "missing field signature");
  }
}

TEST_CASE("rotated signing keys: either is accepted; upper-case hex too") {
  request r = urlencoded_fixture();
  CHECK(accepted(r, mailgun_config({old_key, key})).provider_id ==
        "CAF7k2pQ.20261122.1159@mail.example.lv from janis.berzins@example.lv (unverified)");
  request r2 = form_post({{"from", "ann@example.com"}}, old_key);
  CHECK(accepted(r2, mailgun_config({key, old_key})).identities.size() == 1);
  request r3 = form_post({{"from", "ann@example.com"}});
  const auto pos = r3.body.find("signature=") + 10;
  for (std::size_t i = pos; i < r3.body.size(); ++i)
    if (r3.body[i] >= 'a' && r3.body[i] <= 'f') r3.body[i] = static_cast<char>(r3.body[i] - 32);
  CHECK(accepted(r3).identities.size() == 1);
}

// ---- content types and malformed bodies --------------------------------------------------

TEST_CASE("Content-Type") {
  request r = urlencoded_fixture();
  r.content_type = "text/plain";
  const error e = refused(r);
  CHECK(e.code == errc::unsupported_media_type);
  CHECK(e.detail ==
        "Content-Type must be application/x-www-form-urlencoded or multipart/form-data");
  r.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  CHECK(accepted(r).subject == "Re: Rēķins Nr. 2026-118");
}

TEST_CASE("malformed bodies are 400") {
  SUBCASE("a bad percent escape") {
    request r = urlencoded_fixture();
    r.body += "&broken=%zz";
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "body is not valid application/x-www-form-urlencoded");
  }
  SUBCASE("a truncated multipart body") {
    request r = multipart_fixture();
    r.body.resize(r.body.size() / 2);
    CHECK(refused(r).detail == "multipart body is truncated (no closing boundary)");
  }
  SUBCASE("a multipart Content-Type without a boundary") {
    request r = multipart_fixture();
    r.content_type = "multipart/form-data";
    CHECK(refused(r).detail == "Content-Type multipart/form-data has no boundary");
  }
  // Signed, so it is Mailgun's: a mail it posts that cannot be read is kept, never refused
  // (Mailgun drops a mail after its retries).
  SUBCASE("message-headers that are not a list of pairs: the mail is kept") {
    request r = form_post({{"from", "ann@example.com"}, {"message-headers", "[[\"To\"]]"}});
    CHECK(kept_unreadable(receive(r)).reason ==
          "field message-headers must be a JSON list of [name, value] pairs");
    request r2 = form_post({{"from", "ann@example.com"}, {"message-headers", "[[\"To\","}});
    CHECK(kept_unreadable(receive(r2)).reason == "field message-headers is not valid JSON");
  }
  SUBCASE("a JSON event that is not JSON") {
    request r;
    r.content_type = "application/json";
    r.body = "{\"signature\":";
    CHECK(refused(r).detail == "body is not valid JSON");
  }
  SUBCASE("every truncation of both fixtures: refused or parsed, never a crash") {
    for (const request& full : {urlencoded_fixture(), multipart_fixture()}) {
      for (std::size_t n = 0; n < full.body.size(); n += 5) {
        request r = full;
        r.body.resize(n);
        auto res = receive(r);
        if (!res) CHECK(res.error().code != errc::internal);
      }
    }
  }
}

}  // namespace
}  // namespace sb
