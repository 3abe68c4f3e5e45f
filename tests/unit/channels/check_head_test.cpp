// adapter::check_head: what each channel type decides from a POST's headers alone, before the
// body is read (issue #18). A refusal there must be the refusal receive() gives for the same
// headers, whatever the body; a head that could belong to a genuine request must pass.
#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace sb {
namespace {

using fixtures::pairs;
using fixtures::request;
using fixtures::test_now;

constexpr std::int64_t now_s = fixtures::test_now / 1000;

const std::string chat_key = "chat-secret-A: 32 bytes of key!!";
const std::string password = "sg-inbound-9f3c2a7e5b1d4f60";
const std::string tg_token = "5c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d";

channel_config config_of(std::string type) {
  channel_config c;
  c.name = "ch";
  c.type = type;
  if (type == "chat") {
    c.secrets = {fixtures::whsec(chat_key)};
  } else if (type == "sendgrid" || type == "postmark" || type == "mime") {
    c.secrets = {password};
  } else if (type == "telegram") {
    c.secrets = {tg_token};
  } else if (type == "twilio") {
    c.secrets = {"9f3c2b7d41e6a8059c1d2e3f4a5b6c7d"};
    c.options["public_url"] = "https://support.example.com/v1/webhooks/ch";
  } else if (type == "whatsapp") {
    c.secrets = {"5b1f0e3d2c9a8b7f6e5d4c3b2a190817"};
    c.options["verify_token"] = "wa-verify-918";
  } else if (type == "x") {
    c.secrets = {"kT9vQ2xW7pL4mN8rS1yB6cF3hJ5dG0aZ2eU7iO9wX4qR8tY1uP"};
  } else if (type == "mailgun") {
    c.secrets = {"key-7e1b3c9a2f0d4e6b8a1c3e5f7a9b0c2d"};
  }
  return c;
}

std::unique_ptr<adapter> make(const std::string& type) {
  const channel_type_info* info = find_channel_type(type);
  REQUIRE(info != nullptr);
  auto a = info->make(config_of(type));
  REQUIRE(a.has_value());
  return std::move(*a);
}

struct head_case {
  std::string type;
  pairs headers;
  errc expected;  // errc::ok: the head passes
};

std::string basic(const std::string& user, const std::string& pass) {
  return "Basic " + base64_encode(user + ":" + pass);
}

const std::string hex64(64, 'a');
const std::string b64_32 = base64_encode(std::string(32, 'x'));

std::vector<head_case> cases() {
  const std::string ts = std::to_string(now_s);
  const std::string old_ts = std::to_string(now_s - 3600);
  return {
      {"chat", {}, errc::bad_signature},
      {"chat", {{"webhook-id", "m1"}, {"webhook-timestamp", ts}}, errc::bad_signature},
      {"chat",
       {{"webhook-id", "m1"}, {"webhook-timestamp", old_ts}, {"webhook-signature", "v1,AAAA"}},
       errc::bad_signature},
      {"chat",
       {{"webhook-id", "m1"}, {"webhook-timestamp", "soon"}, {"webhook-signature", "v1,AAAA"}},
       errc::bad_signature},
      {"chat",
       {{"webhook-id", "m1"}, {"webhook-timestamp", ts}, {"webhook-signature", "v2,AAAA"}},
       errc::bad_signature},
      {"chat",
       {{"webhook-id", "m1"}, {"webhook-timestamp", ts}, {"webhook-signature", "v1,AAAA"}},
       errc::ok},
      {"sendgrid", {}, errc::unauthorized},
      {"sendgrid", {{"Authorization", basic("parse", "wrong-password-0000")}}, errc::unauthorized},
      {"sendgrid", {{"Authorization", basic("parse", password)}}, errc::ok},
      {"postmark", {{"Authorization", "Bearer " + password}}, errc::unauthorized},
      {"postmark", {{"Authorization", basic("any", password)}}, errc::ok},
      {"mime", {{"Authorization", basic("any", password)}}, errc::unauthorized},
      {"mime", {{"Authorization", "Bearer wrong"}}, errc::unauthorized},
      {"mime", {{"Authorization", "Bearer " + password}}, errc::ok},
      {"telegram", {}, errc::bad_signature},
      {"telegram", {{"X-Telegram-Bot-Api-Secret-Token", "wrong"}}, errc::bad_signature},
      {"telegram", {{"X-Telegram-Bot-Api-Secret-Token", tg_token}}, errc::ok},
      {"twilio", {}, errc::bad_signature},
      {"twilio", {{"X-Twilio-Signature", "  "}}, errc::bad_signature},
      {"twilio", {{"X-Twilio-Signature", "c2lnbmF0dXJl"}}, errc::ok},
      {"whatsapp", {}, errc::bad_signature},
      {"whatsapp", {{"X-Hub-Signature-256", "sha256=zz"}}, errc::bad_signature},
      {"whatsapp", {{"X-Hub-Signature-256", "sha1=" + hex64}}, errc::bad_signature},
      {"whatsapp", {{"X-Hub-Signature-256", "sha256=" + hex64}}, errc::ok},
      {"x", {}, errc::bad_signature},
      {"x", {{"x-twitter-webhooks-signature", "sha256=" + hex64}}, errc::bad_signature},
      {"x", {{"x-twitter-webhooks-signature", "sha256=" + b64_32}}, errc::ok},
      // Mailgun's signature is inside the body: nothing to refuse on the headers.
      {"mailgun", {}, errc::ok},
  };
}

TEST_CASE("check_head refuses what the headers disprove, as receive() does, and no more") {
  for (const auto& c : cases()) {
    CAPTURE(c.type);
    CAPTURE(c.headers.empty() ? std::string("(none)") : c.headers.back().second);
    const auto a = make(c.type);
    request head{.target = "/v1/webhooks/ch", .now = test_now};
    head.fields = c.headers;
    const error e = a->check_head(head.view());
    CHECK(e.code == c.expected);
    if (e.code == errc::ok) continue;
    CHECK_FALSE(e.detail.empty());
    // receive() refuses the same request the same way, whatever body follows.
    for (const std::string body : {"", "{\"object\":\"whatsapp_business_account\"}", "a=b"}) {
      request full = head;
      full.body = body;
      const auto r = a->receive(full.view());
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == c.expected);
    }
  }
}

TEST_CASE("check_head passes a genuine request's head") {
  // A signed chat delivery: what check_head sees of it passes, and receive() accepts it whole.
  const auto a = make("chat");
  const std::string body =
      R"({"id":"m-1","session_id":"s","sent_at":"2026-11-22T10:00:00Z",)"
      R"("visitor":{"id":"v-1"},"text":"hi"})";
  request r = fixtures::standard_webhooks_post({.target = "/v1/webhooks/ch", .now = test_now},
                                               body, chat_key, now_s, "msg_1");
  request head = r;
  head.body.clear();
  CHECK(a->check_head(head.view()).code == errc::ok);
  CHECK(a->receive(r.view()).has_value());
}

}  // namespace
}  // namespace sb
