#include "channels/sendgrid/sendgrid.hpp"

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

const std::string password = "sg-inbound-9f3c2a7e5b1d4f60";
const std::string new_password = "sg-inbound-rotated-77c1e2a4";
const std::string boundary_ct = "multipart/form-data; boundary=xYzZY";

channel_config sendgrid_config(std::vector<std::string> secrets = {password},
                               std::string username = {}) {
  return test_channel("support-sendgrid", "sendgrid", std::move(secrets),
                      {{"username", std::move(username)}});
}

std::string fixture(const std::string& name) { return read_fixture("sendgrid", name); }

std::string basic(std::string_view user, std::string_view pass) {
  return "Basic " + base64_encode(std::string(user) + ":" + std::string(pass));
}

request post(std::string body, std::string content_type = boundary_ct,
             const std::string& pass = password, const std::string& user = "parse") {
  request r{.target = "/v1/webhooks/support-sendgrid", .now = test_now};
  r.body = std::move(body);
  r.fields = {{"Content-Type", std::move(content_type)},
              {"Authorization", basic(user, pass)},
              {"User-Agent", "Sendlib/1.0 mx0047p1mdw1.sendgrid.net"}};
  return r;
}

// One form field; `extra` goes after the name in Content-Disposition (filename, headers).
std::string part(std::string_view name, std::string_view value, std::string_view extra = {}) {
  return "--xYzZY\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"" +
         std::string(extra) + "\r\n\r\n" + std::string(value) + "\r\n";
}
std::string form(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += p;
  return out + "--xYzZY--\r\n";
}

SB_ADAPTER_STEPS(make_sendgrid_adapter, sendgrid_config(), only_message, refusal)

const boost::json::object& mail(const inbound_message& m) {
  return m.extra.at("email").as_object();
}

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_sendgrid_adapter") {
  CHECK(make_sendgrid_adapter(sendgrid_config()).has_value());
  CHECK(make_sendgrid_adapter(sendgrid_config({password}, "parse")).has_value());
  auto short_secret = make_sendgrid_adapter(sendgrid_config({"hunter2"}));
  REQUIRE_FALSE(short_secret.has_value());
  CHECK(short_secret.error().detail.starts_with("secret is too short (7 bytes"));
  auto colon = make_sendgrid_adapter(sendgrid_config({password}, "par:se"));
  REQUIRE_FALSE(colon.has_value());
  CHECK(colon.error().detail ==
        "username must not contain ':' (basic auth separates user and password with it)");
  for (const char* bad : {"par\tse", "parse\x7f"}) {
    auto control = make_sendgrid_adapter(sendgrid_config({password}, bad));
    REQUIRE_FALSE(control.has_value());
    CHECK(control.error().detail == "username must not contain control characters");
  }
  CHECK(make_sendgrid_adapter(sendgrid_config({password}, "parse inbound")).has_value());
}

// ---- valid posts -------------------------------------------------------------------------

TEST_CASE("parsed mode: fields, charsets, the header block and attachments") {
  request r = post(fixture("parsed.txt"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "0a1b2c3d.4471@example.fr from renee.lefevre@example.fr");
  // SendGrid's dkim field: {@example.fr : pass}, the From's domain.
  CHECK(m.identities == std::vector<identity>{{"email", "renee.lefevre@example.fr", true}});
  CHECK(m.sender_name == "Renée Lefèvre");
  CHECK(m.recipient == "support@acme.example");
  CHECK(m.subject == "Re: Commande n°4471");
  // `text` was sent in ISO-8859-1, as `charsets` says.
  CHECK(m.text ==
        "Bonjour,\n\nLe colis n°4471 n'est toujours pas arrivé. Pouvez-vous vérifier ?\n\nRenée");
  CHECK(m.sent_at == parse_time("2026-11-22T09:59:45Z"));
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "bon_de_livraison.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 327);
  CHECK(m.attachments[0].bytes == sample_pdf());  // the file part, byte for byte
  const auto& e = mail(m);
  CHECK(e.at("message_id").as_string() == "0a1b2c3d.4471@example.fr");
  CHECK(e.at("in_reply_to").as_string() == "ticket-4471@acme.example");
  CHECK(strings(e.at("references")) == std::vector<std::string>{"ticket-4471@acme.example"});
  CHECK(strings(e.at("to")) == std::vector<std::string>{"support@acme.example"});
  CHECK(strings(e.at("cc")) == std::vector<std::string>{"paul.martin@example.fr"});
  CHECK(e.at("stripped_text").is_null());
}

TEST_CASE("raw mode: the MIME message in `email` is parsed with GMime") {
  request r = post(fixture("raw.txt"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "raw-sg-0001@mail.example.lv from janis.berzins@example.lv");
  CHECK(m.identities == std::vector<identity>{{"email", "janis.berzins@example.lv", true}});
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.subject == "Paroles atjaunošana");
  CHECK(m.text == "Nevaru atjaunot paroli — saite nedarbojas.");
  CHECK(m.recipient == "support@acme.example");
  CHECK(m.sent_at == parse_time("2026-11-22T10:00:00Z"));
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "kļūda.png");
  CHECK(m.attachments[0].content_type == "image/png");
  CHECK(m.attachments[0].size == 81);
  REQUIRE(m.attachments[0].bytes.has_value());  // the MIME part, decoded
  CHECK(m.attachments[0].bytes->size() == 81);
  CHECK(m.attachments[0].bytes->starts_with(png_signature));
}

TEST_CASE("charsets: per field, or the part's own charset parameter") {
  request r = post(
      form({part("from", "\xe9\xd7\xc1\xce <ivan@example.ru>"),
            part("subject", "\xf0\xd2\xc9\xd7\xc5\xd4"), part("text", "\x93quoted\x94 \x80 5"),
            part("html", "<p>x</p>", "\r\nContent-Type: text/plain; charset=utf-8"),
            part("charsets", R"({"from":"KOI8-R","subject":"koi8-r","text":"windows-1252"})")}));
  const inbound_message m = accepted(r);
  CHECK(m.sender_name == "Иван");
  CHECK(m.subject == "Привет");
  CHECK(m.text == "“quoted” € 5");
}

TEST_CASE("the header block fills in for missing fields; attachment-info for file metadata") {
  request r = post(form(
      {part("headers",
            "From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.com>\nTo: help@acme.example\n"
            "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\nMessage-ID: <hb-1@example.com>\n"
            "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"),
       part("text", "hello"),
       part("attachment-info", R"({"attachment1":{"filename":"scan.tiff","type":"image/tiff"}})"),
       part("attachment1", "II*\x00"s, "; filename=\"\"")}));
  const inbound_message m = accepted(r);
  CHECK(m.identities == std::vector<identity>{{"email", "zoe@example.com", false}});
  CHECK(m.sender_name == "Zoë");
  CHECK(m.subject == "Grüße");
  CHECK(m.provider_id == "hb-1@example.com from zoe@example.com (unverified)");
  CHECK(m.recipient == "help@acme.example");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].name == "scan.tiff");
  CHECK(m.attachments[0].content_type == "image/tiff");
  CHECK(m.attachments[0].size == 4);
  CHECK(m.attachments[0].bytes == "II*\x00"s);
}

TEST_CASE("the envelope sender is the last resort") {
  request r =
      post(form({part("from", "Support Robot"),
                 part("envelope", R"({"to":["support@acme.example"],"from":"bot@example.com"})"),
                 part("text", "x")}));
  CHECK(accepted(r).identities == std::vector<identity>{{"email", "bot@example.com", false}});
}

TEST_CASE("Event Webhook posts (JSON) are counted as ignored") {
  request r = post(fixture("events.json"), "application/json");
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 2);
  // The delivered event moves the reply sent with X-Message-Id "14c5d75ce93"; the open event
  // names no message and is skipped.
  REQUIRE(res->statuses.size() == 1);
  CHECK(res->statuses[0].provider_id == "14c5d75ce93");
  CHECK(res->statuses[0].status == "delivered");
  CHECK(res->statuses[0].at == 1'795'341'600'000);
}

TEST_CASE("Event Webhook: open as read, bounce and dropped as failed, deferred says nothing") {
  request r =
      post(R"([{"event":"open","sg_message_id":"W86.filter1","timestamp":1795341610},)"
           R"({"event":"bounce","sg_message_id":"X97.filter2","timestamp":1795341611,)"
           R"("status":"5.1.1","reason":"550 5.1.1 The email account does not exist."},)"
           R"({"event":"dropped","sg_message_id":"Y08.filter3","reason":"Bounced Address"},)"
           R"({"event":"deferred","sg_message_id":"Z19.filter4"}, 7])",
           "application/json");
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->ignored == 5);
  REQUIRE(res->statuses.size() == 3);
  CHECK((res->statuses[0].provider_id == "W86" && res->statuses[0].status == "read"));
  CHECK(res->statuses[1].status == "failed");
  CHECK(res->statuses[1].reason == "bounce 5.1.1: 550 5.1.1 The email account does not exist.");
  CHECK(res->statuses[2].reason == "dropped: Bounced Address");
}

TEST_CASE("a bounce report is counted as ignored") {
  request r = post(form({part("headers",
                              "From: MAILER-DAEMON@mx.example\nContent-Type: multipart/report; "
                              "report-type=delivery-status; boundary=x\n"),
                         part("from", "MAILER-DAEMON@mx.example")}));
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 1);
}

// ---- authentication ----------------------------------------------------------------------

TEST_CASE("basic auth: 401 before anything else") {
  SUBCASE("missing") {
    request r = post(fixture("parsed.txt"));
    r.remove("Authorization");
    const error e = refused(r);
    CHECK(e.code == errc::unauthorized);
    CHECK(e.detail == "missing Authorization header (HTTP basic auth)");
  }
  SUBCASE("wrong password") {
    request r = post(fixture("parsed.txt"), boundary_ct, new_password);
    CHECK(refused(r).detail == "wrong user name or password");
  }
  SUBCASE("any user name unless `username` is set") {
    request r = post(fixture("parsed.txt"), boundary_ct, password, "someone-else");
    CHECK(accepted(r).provider_id == "0a1b2c3d.4471@example.fr from renee.lefevre@example.fr");
    CHECK(refused(r, sendgrid_config({password}, "parse")).code == errc::unauthorized);
    request r2 = post(fixture("parsed.txt"));
    CHECK(accepted(r2, sendgrid_config({password}, "parse")).provider_id ==
          "0a1b2c3d.4471@example.fr from renee.lefevre@example.fr");
  }
  SUBCASE("rotated secrets") {
    const channel_config cfg = sendgrid_config({new_password, password});
    request r = post(fixture("parsed.txt"));
    CHECK(accepted(r, cfg).subject == "Re: Commande n°4471");
    request r2 = post(fixture("parsed.txt"), boundary_ct, new_password);
    CHECK(accepted(r2, cfg).subject == "Re: Commande n°4471");
  }
  SUBCASE("401 wins over a wrong Content-Type and a broken body") {
    request r = post("garbage", "text/plain", "wrong-password-000000");
    CHECK(refused(r).code == errc::unauthorized);
  }
}

// ---- content types and malformed bodies --------------------------------------------------

TEST_CASE("Content-Type must be multipart/form-data") {
  for (const char* wrong : {"application/x-www-form-urlencoded", "text/plain", ""}) {
    CAPTURE(wrong);
    request r = post(fixture("parsed.txt"), wrong);
    const error e = refused(r);
    CHECK(e.code == errc::unsupported_media_type);
    CHECK(e.detail == "Content-Type must be multipart/form-data");
  }
}

TEST_CASE("malformed bodies are 400, naming the field") {
  request r =
      post(form({part("email", "From: a@example.com\r\nSubject: x\r\n\r\nbody")}).substr(0, 40));
  CHECK(refused(r).detail == "multipart body is truncated (no closing boundary)");
  request json = post("[{\"event\":", "application/json");
  CHECK(refused(json).detail == "body is not valid JSON");
}

// SendGrid retries a refused post for three days, then drops the mail: one it posts that cannot
// be read is kept, naming the field.
TEST_CASE("a mail that cannot be read is kept, naming the field") {
  const std::pair<std::string, std::string> cases[] = {
      {form({part("text", "no sender anywhere")}), "field from is required"},
      {form({part("from", "not an address"), part("text", "x")}),
       "field from is not a valid email address"},
      {form({part("email", "   ")}), "field email is empty"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(detail);
    request r = post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == "body");
    CHECK(u.reason == detail);
  }
}

TEST_CASE("side fields that cannot be read are left out; the mail is read without them") {
  for (const auto& [name, value] :
       {std::pair{"envelope", "{not json"}, std::pair{"charsets", "[\"utf-8\"]"},
        std::pair{"attachment-info", "7"}}) {
    CAPTURE(name);
    request r = post(
        form({part("from", "Ann <ann@example.com>"), part("text", "hello"), part(name, value)}));
    const parse_result res = accepted_result(receive(r));
    REQUIRE(res.messages.size() == 1);
    CHECK(res.messages[0].text == "hello");
    CHECK(res.unreadable.empty());
  }
}

TEST_CASE("every truncation of the fixtures: refused or parsed, never a crash") {
  for (const char* name : {"parsed.txt", "raw.txt"}) {
    const std::string full = fixture(name);
    for (std::size_t n = 0; n < full.size(); n += 5) {
      request r = post(full.substr(0, n));
      auto res = receive(r);
      if (!res) CHECK(res.error().code == errc::malformed);
    }
  }
}

}  // namespace
}  // namespace sb
