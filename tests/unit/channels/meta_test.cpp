#include "channels/meta/meta.hpp"

#include "channels/crypto.hpp"
#include "channels/messenger/messenger.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sb {
namespace {

using namespace fixtures;

const std::string app_secret = "6f1d3b2a9c8e7f6a5b4c3d2e1f0a9b8c";
const std::string old_secret = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";
const std::string other_secret = "ffeeddccbbaa99887766554433221100";
const std::string verify_token = "sb-verify-Zq81kPw";
const secret_set verify_tokens(std::span<const std::string>(&verify_token, 1));

channel_config config(std::vector<std::string> secrets = {app_secret},
                      std::string token = verify_token) {
  return test_channel("fb-page", "messenger", std::move(secrets),
                      {{"verify_token", std::move(token)}});
}

const std::string path = "/v1/webhooks/fb-page";

request get(std::string query) {
  return {.method = "GET", .target = path + query, .now = test_now};
}

request signed_post(std::string body, const std::string& secret = app_secret) {
  return meta_post({.target = path, .now = test_now}, std::move(body), secret);
}

const std::string empty_batch = R"({"object":"page","entry":[]})";

// ---- settings -------------------------------------------------------------------------------

TEST_CASE("meta::read_settings checks the app secret and the verify token") {
  SUBCASE("valid") {
    auto s = meta::read_settings(config(), "page");
    REQUIRE(s.has_value());
    CHECK(s->object == "page");
    CHECK(s->type == "messenger");
    CHECK(s->channel == "fb-page");
    CHECK(s->verify_token.matches(verify_token));
    CHECK_FALSE(s->verify_token.matches(verify_token + "x"));
    CHECK(s->secrets == std::vector<std::string>{app_secret});
  }
  SUBCASE("a secret file's trailing newline is not part of the secret") {
    auto s = meta::read_settings(config({app_secret + "\n"}), "page");
    REQUIRE(s.has_value());
    CHECK(s->secrets.front() == app_secret);
  }
  SUBCASE("no secret") {
    auto s = meta::read_settings(config({}), "page");
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == errc::malformed);
    CHECK(s.error().detail ==
          "channel type messenger needs the Meta app secret (secret or secret_file)");
  }
  SUBCASE("a secret too short, named by position, never echoed") {
    auto s = meta::read_settings(config({app_secret, "s3cr3t"}), "page");
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().detail.starts_with("secret 2 of 2 is too short (6 bytes;"));
    CHECK(s.error().detail.find("s3cr3t") == std::string::npos);
  }
  SUBCASE("no verify_token") {
    auto s = meta::read_settings(config({app_secret}, ""), "page");
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().detail.starts_with("channel type messenger needs verify_token"));
  }
}

// ---- the GET verification handshake -------------------------------------------------------

http_answer answer(request& r) {
  auto a = meta::verify_handshake(r.view(), verify_tokens);
  if (!a) FAIL_CHECK("error: " << a.error().detail);
  REQUIRE(a.has_value());
  return *a;
}

TEST_CASE("the verify handshake echoes hub.challenge exactly") {
  SUBCASE("as Meta sends it") {
    request r =
        get("?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + verify_token);
    const http_answer a = answer(r);
    CHECK(a.status == 200);
    CHECK(a.content_type == "text/plain");
    CHECK(a.body == "1158201444");
  }
  SUBCASE("parameters in any order, percent-encoded") {
    request r =
        get("?hub.verify_token=sb-verify-%5Aq81kPw&hub.challenge=abc%2Fdef%3D&hub.mode=subscribe");
    const http_answer a = answer(r);
    CHECK(a.status == 200);
    CHECK(a.body == "abc/def=");
  }
}

TEST_CASE("the challenge ends where the target ends, in a buffer that goes on") {
  // The HTTP layer hands the target as a view into its read buffer: no NUL after it.
  const std::string buffer =
      "GET /v1/webhooks/fb-page?hub.mode=subscribe&hub.verify_token=" + verify_token +
      "&hub.challenge=42 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string_view target = std::string_view(buffer).substr(4, buffer.find(" HTTP/1.1") - 4);
  const request_view req{"GET", target, {}, {}, test_now};
  auto a = meta::verify_handshake(req, verify_tokens);
  REQUIRE(a.has_value());
  CHECK(a->status == 200);
  CHECK(a->body == "42");
}

TEST_CASE("the verify handshake refuses with a 403 answer, not an error") {
  const std::string cases[] = {
      "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong",
      "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=sb-verify-Zq81kP",
      "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=sb-verify-Zq81kPwX",
      "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=SB-VERIFY-ZQ81KPW",
      "?hub.mode=subscribe&hub.challenge=1158201444",
      "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=",
      "?hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=" + verify_token,
      "?hub.challenge=1158201444&hub.verify_token=" + verify_token,
      "",
      "?",
  };
  for (const auto& query : cases) {
    CAPTURE(query);
    request r = get(query);
    const http_answer a = answer(r);
    CHECK(a.status == 403);
    CHECK(a.body.find("1158201444") == std::string::npos);
  }
}

TEST_CASE("a verified handshake without a usable challenge is a 400") {
  SUBCASE("missing") {
    request r = get("?hub.mode=subscribe&hub.verify_token=" + verify_token);
    auto a = meta::verify_handshake(r.view(), verify_tokens);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail == "query parameter hub.challenge is required");
  }
  SUBCASE("empty") {
    request r = get("?hub.mode=subscribe&hub.challenge=&hub.verify_token=" + verify_token);
    CHECK(meta::verify_handshake(r.view(), verify_tokens).error().code == errc::malformed);
  }
  SUBCASE("too long") {
    request r = get("?hub.mode=subscribe&hub.challenge=" + std::string(1025, '7') +
                    "&hub.verify_token=" + verify_token);
    CHECK(meta::verify_handshake(r.view(), verify_tokens).error().detail ==
          "query parameter hub.challenge must be at most 1024 bytes");
  }
  SUBCASE("a bad percent-escape in the query") {
    request r = get("?hub.mode=subscribe&hub.challenge=%zz&hub.verify_token=" + verify_token);
    auto a = meta::verify_handshake(r.view(), verify_tokens);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
  }
}

TEST_CASE("a Meta adapter answers GET with the handshake") {
  auto adapter = make_messenger_adapter(config());
  REQUIRE(adapter.has_value());
  request ok = get("?hub.mode=subscribe&hub.challenge=42&hub.verify_token=" + verify_token);
  auto a = (*adapter)->handshake(ok.view());
  REQUIRE(a.has_value());
  CHECK(a->status == 200);
  CHECK(a->body == "42");
  request bad = get("?hub.mode=subscribe&hub.challenge=42&hub.verify_token=nope");
  auto b = (*adapter)->handshake(bad.view());
  REQUIRE(b.has_value());
  CHECK(b->status == 403);
}

// ---- X-Hub-Signature-256 -------------------------------------------------------------------

TEST_CASE("meta::sign matches an independent HMAC (openssl dgst -sha256 -hmac)") {
  CHECK(meta::sign(app_secret, empty_batch) ==
        "sha256=e762d9066beffe698697a9f07bfe08ab633d745eee0d4e3eb582ed8002ed06ea");
}

TEST_CASE("X-Hub-Signature-256 verification") {
  const std::vector<std::string> secrets{app_secret};
  request r = signed_post(empty_batch);
  auto refused = [&](std::string_view detail, const std::vector<std::string>& keys = {app_secret}) {
    check_bad_signature(meta::verify_signature(r.view(), keys), detail);
  };
  SUBCASE("valid; header name is case-insensitive; hex in either case") {
    CHECK(meta::verify_signature(r.view(), secrets).code == errc::ok);
    r.remove("X-Hub-Signature-256");
    r.set("x-hub-signature-256",
          "sha256=E762D9066BEFFE698697A9F07BFE08AB633D745EEE0D4E3EB582ED8002ED06EA");
    CHECK(meta::verify_signature(r.view(), secrets).code == errc::ok);
  }
  SUBCASE("missing") {
    r.remove("X-Hub-Signature-256");
    refused("missing header X-Hub-Signature-256");
  }
  SUBCASE("only the legacy SHA-1 header") {
    r.remove("X-Hub-Signature-256");
    r.set("X-Hub-Signature", "sha1=" + hex_encode(hmac_sha1(app_secret, r.body)));
    refused("missing header X-Hub-Signature-256");
  }
  SUBCASE("a sha1= value") {
    r.set("X-Hub-Signature-256", "sha1=" + hex_encode(hmac_sha1(app_secret, r.body)));
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("no prefix") {
    r.set("X-Hub-Signature-256", hex_encode(hmac_sha256(app_secret, r.body)));
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("not hex") {
    r.set("X-Hub-Signature-256", "sha256=" + std::string(64, 'g'));
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("base64 instead of hex") {
    r.set("X-Hub-Signature-256", "sha256=" + base64_encode(hmac_sha256(app_secret, r.body)));
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("truncated") {
    r.set("X-Hub-Signature-256", meta::sign(app_secret, r.body).substr(0, 70));
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("empty") {
    r.set("X-Hub-Signature-256", "sha256=");
    refused("header X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256>");
  }
  SUBCASE("wrong key") {
    r = signed_post(empty_batch, other_secret);
    refused("signature does not match");
  }
  SUBCASE("body changed after signing (one byte)") {
    r.body = R"({"object":"page","entry":[ ]})";
    refused("signature does not match");
  }
  SUBCASE("body re-serialized: whitespace matters") {
    r.body = R"({"object": "page", "entry": []})";
    refused("signature does not match");
  }
  SUBCASE("rotated secrets: the old and the new key both verify") {
    const std::vector<std::string> rotating{app_secret, old_secret};
    r = signed_post(empty_batch, old_secret);
    CHECK(meta::verify_signature(r.view(), rotating).code == errc::ok);
    r = signed_post(empty_batch, app_secret);
    CHECK(meta::verify_signature(r.view(), rotating).code == errc::ok);
    r = signed_post(empty_batch, other_secret);
    refused("signature does not match", rotating);
  }
  SUBCASE("no secrets at all fails closed") { refused("signature does not match", {}); }
}

// ---- the shared POST pipeline (through messenger) -------------------------------------------

result<parse_result> receive(request& r) {
  auto adapter = make_messenger_adapter(config());
  REQUIRE(adapter.has_value());
  return (*adapter)->receive(r.view());
}

error refused(request& r) {
  auto res = receive(r);
  REQUIRE_FALSE(res.has_value());
  return res.error();
}

TEST_CASE("the signature is checked before anything else") {
  request r = signed_post("not json", other_secret);
  r.set("Content-Type", "text/plain");
  CHECK(refused(r).code == errc::bad_signature);
  r = signed_post("not json");
  r.set("Content-Type", "text/plain");
  CHECK(refused(r).code == errc::unsupported_media_type);
  r = signed_post("not json");
  CHECK(refused(r).code == errc::malformed);
}

TEST_CASE("Content-Type must be JSON in UTF-8") {
  for (const std::string ct : {"application/json", "application/json; charset=utf-8",
                               "Application/JSON;charset=\"UTF-8\""}) {
    CAPTURE(ct);
    request r = signed_post(empty_batch);
    r.set("Content-Type", ct);
    CHECK(receive(r).has_value());
  }
  for (const std::string ct : {"", "text/plain", "application/x-www-form-urlencoded",
                               "application/json; charset=iso-8859-1"}) {
    CAPTURE(ct);
    request r = signed_post(empty_batch);
    r.set("Content-Type", ct);
    CHECK(refused(r).code == errc::unsupported_media_type);
  }
  request r = signed_post(empty_batch);
  r.remove("Content-Type");
  CHECK(refused(r).code == errc::unsupported_media_type);
}

TEST_CASE("envelopes that are not Meta's are refused, naming what is wrong") {
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "body is not valid JSON (UTF-8)"},
      {R"({"object":"page","entry":[)", "body is not valid JSON (UTF-8)"},
      {R"({"object":"page","entry":[]} trailing)", "body is not valid JSON (UTF-8)"},
      {"[]", "body must be a JSON object"},
      {R"({"entry":[]})", "field object is required"},
      {R"({"object":7,"entry":[]})", "field object must be a string"},
      {R"({"object":"instagram","entry":[]})",
       "field object is \"instagram\"; channel type messenger takes \"page\""},
      {R"({"object":"whatsapp_business_account","entry":[]})",
       "field object is \"whatsapp_business_account\"; channel type messenger takes \"page\""},
      {R"({"object":"page"})", "field entry is required"},
      {R"({"object":"page","entry":{}})", "field entry must be an array"},
      {"{\"object\":\"page\",\"entry\":[],\"x\":\"\xff\"}", "body is not valid JSON (UTF-8)"},
      {std::string(100'000, '[') + std::string(100'000, ']'), "body is nested too deeply"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body.substr(0, 80));
    request r = signed_post(body);
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == detail);
  }
}

TEST_CASE("an entry that cannot be read is kept; the other entries are read") {
  const std::tuple<std::string, std::string, std::string> cases[] = {
      {R"({"object":"page","entry":["x"]})", "entry[0]", "field entry[0] must be an object"},
      {R"({"object":"page","entry":[{"id":"1","messaging":[]},{"messaging":[]}]})", "entry[1]",
       "field entry[1].id is required"},
      {R"({"object":"page","entry":[{"id":"1","messaging":{}}]})", "entry[0]",
       "field entry[0].messaging must be an array"},
  };
  for (const auto& [body, path, reason] : cases) {
    CAPTURE(body);
    request r = signed_post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == path);
    CHECK(u.reason == reason);
  }
}

TEST_CASE("an empty batch is nothing, not an error") {
  request r = signed_post(empty_batch);
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 0);
  CHECK_FALSE(res->ack.has_value());
}

}  // namespace
}  // namespace sb
