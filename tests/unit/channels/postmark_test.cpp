#include "channels/postmark/postmark.hpp"

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

const std::string password = "pm-inbound-4c8e1a6f2b9d3e70";
const std::string new_password = "pm-inbound-rotated-0d9e8f7a";

channel_config postmark_config(std::vector<std::string> secrets = {password},
                               std::string username = {}) {
  return test_channel("support-postmark", "postmark", std::move(secrets),
                      {{"username", std::move(username)}});
}

request post(std::string body, const std::string& pass = password,
             const std::string& user = "postmark") {
  request r{.target = "/v1/webhooks/support-postmark", .now = test_now};
  r.body = std::move(body);
  r.fields = {{"Content-Type", "application/json"},
              {"Authorization", "Basic " + base64_encode(user + ":" + pass)},
              {"User-Agent", "Postmark"}};
  return r;
}

std::string fixture(const std::string& name) { return read_fixture("postmark", name); }

// Postmark stops retrying on 403: no refusal may ever be one.
error refusal_not_403(const result<parse_result>& res) {
  const error e = refusal(res);
  CHECK(describe(e.code).http_status != 403);
  return e;
}
SB_ADAPTER_STEPS(make_postmark_adapter, postmark_config(), only_message, refusal_not_403)

const boost::json::object& mail(const inbound_message& m) {
  return m.extra.at("email").as_object();
}

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_postmark_adapter") {
  CHECK(make_postmark_adapter(postmark_config()).has_value());
  CHECK(make_postmark_adapter(postmark_config({password}, "postmark")).has_value());
  auto none = make_postmark_adapter(postmark_config({}));
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().detail == "a postmark channel needs a secret (secret or secret_file)");
}

// ---- valid posts -------------------------------------------------------------------------

TEST_CASE("a full inbound message is mapped field by field") {
  request r = post(fixture("inbound.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "73e6d360-66eb-11e1-8e72-a8904824019b");
  CHECK(m.identities == std::vector<identity>{{"email", "janis.berzins@example.lv", false}});
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.recipient == "support@acme.example");
  CHECK(m.subject == "Re: Rēķins Nr. 2026-118 — kvīts");
  CHECK(m.text ==
        "Labdien!\n\nPielikumā kvīts par 149,00 € maksājumu.\n\nJānis\n\n"
        "On Fri, 20 Nov 2026, Acme Support wrote:\n> Please send the receipt.");
  CHECK(m.sent_at == parse_time("2026-11-22T09:59:30Z"));  // "+02:00" offsets read right
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].name == "kvīts-149.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 327);
  CHECK(m.attachments[0].bytes == sample_pdf());  // Content, base64-decoded byte for byte
  CHECK(m.attachments[1].name == "bilde.png");
  CHECK(m.attachments[1].size == 81);  // no ContentLength: the decoded bytes
  REQUIRE(m.attachments[1].bytes.has_value());
  CHECK(m.attachments[1].bytes->size() == 81);
  CHECK(m.attachments[1].bytes->starts_with(png_signature));
  const auto& e = mail(m);
  CHECK(e.at("message_id").as_string() == "CAF7k2pR.20261122.1159@mail.example.lv");
  CHECK(e.at("in_reply_to").as_string() == "ticket-7781.reply-3@acme.example");
  CHECK(strings(e.at("references")) ==
        std::vector<std::string>{"ticket-7781@acme.example", "ticket-7781.reply-3@acme.example"});
  CHECK(strings(e.at("to")) == std::vector<std::string>{"support@acme.example"});
  CHECK(strings(e.at("cc")) ==
        std::vector<std::string>{"liga.ozolina@example.lv", "billing@acme.example"});
  CHECK(e.at("stripped_text").as_string() == "Labdien!\n\nPielikumā kvīts par 149,00 € maksājumu.");
}

TEST_CASE("a minimal inbound message") {
  request r = post(fixture("inbound_minimal.json"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id == "0f3c7a8e-1b2d-4e5f-9a6b-7c8d9e0f1a2b");
  CHECK(m.identities == std::vector<identity>{{"email", "kiosk@shop.example", false}});
  CHECK(m.sender_name.empty());
  CHECK(m.text == "Kiosk 4 is out of paper.");
  CHECK(m.attachments.empty());
  CHECK(mail(m).at("message_id").is_null());
  CHECK(mail(m).at("stripped_text").is_null());
}

TEST_CASE("fallbacks: From text, HTML body, OriginalRecipient, the header Message-ID") {
  request r = post(
      R"({"From":"\"Bo Berg\" <Bo@Example.SE>","OriginalRecipient":"hash+x@inbound.postmarkapp.com",)"
      R"("HtmlBody":"<p>Hej&nbsp;d&auml;r!</p><p>Mvh Bo</p>","Headers":[{"Name":"Message-ID","Value":"<hdr-1@example.se>"}]})");
  const inbound_message m = accepted(r);
  CHECK(m.identities == std::vector<identity>{{"email", "bo@example.se", false}});
  CHECK(m.sender_name == "Bo Berg");
  CHECK(m.text == "Hej där!\n\nMvh Bo");
  CHECK(m.recipient == "hash+x@inbound.postmarkapp.com");
  CHECK(m.provider_id == "hdr-1@example.se from bo@example.se (unverified)");  // no MessageID field
}

TEST_CASE("null fields are absent fields") {
  request r =
      post(R"({"FromFull":{"Email":"a@example.com","Name":null},"ToFull":null,"Subject":null,)"
           R"("Attachments":null,"Headers":null,"MessageID":"id-1","TextBody":"x"})");
  const inbound_message m = accepted(r);
  CHECK(m.subject.empty());
  CHECK(m.provider_id == "id-1");
}

TEST_CASE("other Postmark webhooks (RecordType other than Inbound) are counted as ignored") {
  request r = post(fixture("bounce.json"));
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 1);
  // A hard bounce fails the agent's reply Postmark sent under that MessageID.
  REQUIRE(res->statuses.size() == 1);
  CHECK(res->statuses[0].provider_id == "883953f4-6105-42a2-a16a-77a8eac79483");
  CHECK(res->statuses[0].status == "failed");
  CHECK(res->statuses[0].reason.starts_with("(HardBounce)"));
  CHECK(res->statuses[0].at == parse_time("2026-11-22T10:00:00Z"));
}

TEST_CASE("Postmark's delivery, open and bounce webhooks as statuses of agents' replies") {
  const auto statuses = [](const std::string& body) {
    request r = post(body);
    auto res = receive(r);
    REQUIRE(res.has_value());
    CHECK(res->ignored == 1);
    return res->statuses;
  };
  auto st = statuses(R"({"RecordType":"Delivery","MessageID":"m-1","Recipient":"a@b.example",)"
                     R"("DeliveredAt":"2026-11-22T10:00:01Z","Details":"Test delivery"})");
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "delivered");
  CHECK(st[0].at == parse_time("2026-11-22T10:00:01Z"));
  st = statuses(R"({"RecordType":"Open","MessageID":"m-1","ReceivedAt":"2026-11-22T10:05:00Z"})");
  REQUIRE(st.size() == 1);
  CHECK(st[0].status == "read");
  // Soft bounces are retried by Postmark; one after which it deactivated the address is final.
  CHECK(statuses(R"({"RecordType":"Bounce","MessageID":"m-1","Type":"SoftBounce"})").empty());
  st = statuses(R"({"RecordType":"Bounce","MessageID":"m-1","Type":"SoftBounce","Inactive":true,)"
                R"("Description":"Too many soft bounces"})");
  REQUIRE(st.size() == 1);
  CHECK(st[0].reason == "(SoftBounce) Too many soft bounces");
  CHECK(statuses(R"({"RecordType":"Click","MessageID":"m-1"})").empty());
  CHECK(statuses(R"({"RecordType":"Delivery"})").empty());  // no MessageID
}

// ---- authentication ----------------------------------------------------------------------

TEST_CASE("basic auth: 401, never 403, before anything else") {
  SUBCASE("missing") {
    request r = post(fixture("inbound.json"));
    r.remove("Authorization");
    const error e = refused(r);
    CHECK(e.code == errc::unauthorized);
    CHECK(describe(e.code).http_status == 401);
  }
  SUBCASE("wrong password") {
    request r = post(fixture("inbound.json"), new_password);
    CHECK(refused(r).detail == "wrong user name or password");
  }
  SUBCASE("the user name, when configured") {
    request r = post(fixture("inbound.json"), password, "someone");
    CHECK(refused(r, postmark_config({password}, "postmark")).code == errc::unauthorized);
    CHECK(accepted(r).provider_id == "73e6d360-66eb-11e1-8e72-a8904824019b");
  }
  SUBCASE("rotated secrets") {
    request r = post(fixture("inbound.json"), new_password);
    CHECK(accepted(r, postmark_config({password, new_password})).subject ==
          "Re: Rēķins Nr. 2026-118 — kvīts");
  }
  SUBCASE("401 wins over a wrong Content-Type") {
    request r = post("{", new_password);
    r.set("Content-Type", "text/plain");
    CHECK(refused(r).code == errc::unauthorized);
  }
}

TEST_CASE("Content-Type must be application/json in UTF-8") {
  request r = post(fixture("inbound_minimal.json"));
  r.set("Content-Type", "application/json; charset=utf-8");
  CHECK(accepted(r).subject == "Printer out of paper");
  r.set("Content-Type", "application/json; charset=iso-8859-1");
  CHECK(refused(r).detail == "Content-Type charset must be utf-8");
  r.set("Content-Type", "text/plain");
  const error e = refused(r);
  CHECK(e.code == errc::unsupported_media_type);
  CHECK(e.detail == "Content-Type must be application/json");
}

// ---- malformed bodies --------------------------------------------------------------------

TEST_CASE("malformed bodies are 400, naming the field") {
  const std::pair<std::string, std::string> cases[] = {
      {"{\"From\":", "body is not valid JSON (UTF-8)"},
      {"[1,2]", "body must be a JSON object"},
      {"{\"TextBody\":\"\xff\"}", "body is not valid JSON (UTF-8)"},
      {std::string(40, '[') + std::string(40, ']'), "body is nested too deeply"},
  };
  refused_as_malformed(
      cases, [](std::string body) { return post(std::move(body)); },
      [](request& r) { return refused(r); });
}

// Postmark retries a refused post, then drops the mail: a mail it posts that cannot be read is
// kept, naming the field.
TEST_CASE("a mail that cannot be read is kept, naming the field") {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"FromFull":"a@example.com"})", "field FromFull must be an object"},
      {R"({"FromFull":{"Email":7}})", "field FromFull.Email must be a string"},
      {R"({"From":"a@example.com","ToFull":{}})", "field ToFull must be an array"},
      {R"({"From":"a@example.com","CcFull":[{"Email":"c@x.example"},"x"]})",
       "field CcFull[1] must be an object"},
      {R"({"From":"a@example.com","Subject":["x"]})", "field Subject must be a string"},
      {R"({"From":"a@example.com","Headers":[{"Name":"Message-ID","Value":1}]})",
       "field Headers[0].Value must be a string"},
      {R"({"From":"a@example.com","Attachments":[{"Name":"a","ContentLength":-1}]})",
       "field Attachments[0].ContentLength must be a non-negative integer"},
      {R"({"From":"a@example.com","Attachments":[{"Name":"a","Content":12}]})",
       "field Attachments[0].Content must be a string"},
      {R"({"From":"a@example.com","Attachments":"none"})", "field Attachments must be an array"},
      {R"({"From":"a@example.com","MessageID":")" + std::string(300, 'x') + "\"}",
       "field MessageID must be at most 256 bytes"},
      {R"({"From":"a@example.com","RecordType":5})", "field RecordType must be a string"},
      {R"({"TextBody":"who sent this?"})", "field FromFull.Email is required"},
      {R"({"FromFull":{"Email":"Ann Lee","Name":"Ann"},"TextBody":"x"})",
       "field FromFull.Email is not a valid email address"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == "body");
    CHECK(u.reason == detail);
  }
}

TEST_CASE("every truncation of the fixture: refused or parsed, never a crash") {
  const std::string full = fixture("inbound.json");
  for (std::size_t n = 0; n < full.size(); n += 3) {
    request r = post(full.substr(0, n));
    auto res = receive(r);
    if (n + 2 < full.size()) {
      REQUIRE_FALSE(res.has_value());
      CHECK(res.error().code == errc::malformed);
    }
  }
}

TEST_CASE("attachment Content: base64 decoded; not base64, the attachment without its bytes") {
  const std::string binary = "\x00\xff\x80 bin\r\n\x01"s;
  const std::string encoded = base64_encode(binary);
  const auto attachment = [](std::string_view name, std::string_view rest) {
    return R"({"Name":")" + std::string(name) + R"(","ContentType":"application/octet-stream",)" +
           std::string(rest) + "}";
  };
  request r = post(R"({"From":"a@example.com","TextBody":"files","Attachments":[)" +
                   attachment("one-line.bin", R"("Content":")" + encoded + R"(")") + "," +
                   attachment("wrapped.bin", R"("Content":")" + encoded.substr(0, 4) + R"(\r\n)" +
                                                 encoded.substr(4) + R"(")") +
                   "," + attachment("padding.bin", R"("ContentLength":2,"Content":"AAE")") + "," +
                   attachment("not-base64.bin", R"("ContentLength":9,"Content":"not base64!")") +
                   "," + attachment("empty.bin", R"("Content":"")") + "]}");
  const inbound_message m = accepted(r);  // the mail is read all the same
  CHECK(m.text == "files");
  REQUIRE(m.attachments.size() == 5);
  for (std::size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK(m.attachments[i].bytes == binary);
    CHECK(m.attachments[i].size == static_cast<std::int64_t>(binary.size()));
  }
  // Unpadded base64 (the decoder is strict) and text that is not base64: listed without bytes,
  // ContentLength their size.
  for (std::size_t i = 2; i < 4; ++i) {
    CAPTURE(i);
    CHECK(m.attachments[i].name == (i == 2 ? "padding.bin" : "not-base64.bin"));
    CHECK_FALSE(m.attachments[i].bytes.has_value());
  }
  CHECK(m.attachments[2].size == 2);
  CHECK(m.attachments[3].size == 9);
  CHECK(m.attachments[4].bytes == "");
  CHECK(m.attachments[4].size == 0);
}

TEST_CASE("101 attachments: 100 kept, one counted") {
  std::string list;
  for (int i = 0; i < 101; ++i)
    list += (i ? ","s : ""s) + R"({"Name":"p)" + std::to_string(i) +
            R"(.jpg","ContentType":"image/jpeg","ContentLength":10,"Content":"AAAA"})";
  request r = post(R"({"From":"a@example.com","Attachments":[)" + list + "]}");
  const inbound_message m = accepted(r);
  CHECK(m.attachments.size() == 100);
  CHECK(mail(m).at("attachments_omitted").as_uint64() == 1);
}

}  // namespace
}  // namespace sb
