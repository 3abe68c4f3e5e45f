#include "channels/standard_webhooks.hpp"

#include "channels/crypto.hpp"
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

// The Standard Webhooks specification's published test vector.
constexpr std::string_view vector_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view vector_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t vector_ts = 1614265330;
constexpr std::string_view vector_body = R"({"test": 2432232314})";
constexpr std::string_view vector_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

constexpr std::chrono::seconds tolerance{300};

// A request at the vector's own instant.
request at_vector_time() { return {.target = "/v1/webhooks/test", .now = vector_ts * 1000}; }

request vector_request() {
  request r = at_vector_time();
  r.fields = {{"webhook-id", std::string(vector_id)},
              {"webhook-timestamp", std::to_string(vector_ts)},
              {"webhook-signature", std::string(vector_signature)}};
  r.body = vector_body;
  return r;
}

std::vector<std::string> vector_keys() { return {*decode_standard_webhooks_secret(vector_secret)}; }

error verify(request& r, const std::vector<std::string>& keys = vector_keys(),
             std::chrono::seconds tol = tolerance) {
  return verify_standard_webhook(r.view(), keys, tol);
}

TEST_CASE("sign_standard_webhook reproduces the specification's test vector") {
  const auto key = decode_standard_webhooks_secret(vector_secret);
  REQUIRE(key.has_value());
  CHECK(sign_standard_webhook(*key, vector_id, vector_ts, vector_body) == vector_signature);
}

TEST_CASE("verify_standard_webhook accepts the specification's test vector") {
  request r = vector_request();
  const error e = verify(r);
  CHECK(e.code == errc::ok);
  CHECK(e.detail.empty());
}

TEST_CASE("decode_standard_webhooks_secret") {
  const std::string raw = *base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  CHECK(decode_standard_webhooks_secret(vector_secret) == raw);
  CHECK(decode_standard_webhooks_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == raw);
  CHECK(decode_standard_webhooks_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n") == raw);
  CHECK(decode_standard_webhooks_secret("  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\r\n") == raw);
  CHECK_FALSE(decode_standard_webhooks_secret("").has_value());
  CHECK_FALSE(decode_standard_webhooks_secret("whsec_").has_value());
  CHECK_FALSE(decode_standard_webhooks_secret("whsec_not base64!").has_value());
  CHECK_FALSE(decode_standard_webhooks_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS").has_value());
  CHECK_FALSE(
      decode_standard_webhooks_secret("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").has_value());
}

TEST_CASE("header names are case-insensitive") {
  request r = vector_request();
  r.fields = {{"Webhook-Id", std::string(vector_id)},
              {"WEBHOOK-TIMESTAMP", std::to_string(vector_ts)},
              {"Webhook-Signature", std::string(vector_signature)}};
  CHECK(verify(r).code == errc::ok);
}

TEST_CASE("a missing or empty header is named") {
  // Plain loops: doctest SUBCASEs inside a loop would run for the first iteration only.
  for (const std::string name : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
    for (bool present_but_empty : {false, true}) {
      CAPTURE(name);
      CAPTURE(present_but_empty);
      request r = vector_request();
      if (present_but_empty)
        r.set(name, "");
      else
        r.remove(name);
      const error e = verify(r);
      CHECK(e.code == errc::bad_signature);
      CHECK(e.detail == "missing header " + name);
    }
  }
}

TEST_CASE("any configured secret and any offered v1 signature may match") {
  const std::string other_key = "another channel's secret, 32 b.";
  const std::string vector_key = vector_keys().front();
  request r = vector_request();

  SUBCASE("rotation: the matching secret is second") {
    CHECK(verify(r, {other_key, vector_key}).code == errc::ok);
  }
  SUBCASE("rotation: the matching secret is first") {
    CHECK(verify(r, {vector_key, other_key}).code == errc::ok);
  }
  SUBCASE("the sender offers several signatures, one of them ours") {
    r.set("webhook-signature", sign_standard_webhook(other_key, vector_id, vector_ts, vector_body) +
                                   " " + std::string(vector_signature));
    CHECK(verify(r).code == errc::ok);
  }
  SUBCASE("extra spaces and entries of other versions are skipped") {
    r.set("webhook-signature", "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=  v2,xyz " +
                                   std::string(vector_signature) + " ");
    CHECK(verify(r).code == errc::ok);
  }
  SUBCASE("no configured secret matches") {
    const error e = verify(r, {other_key});
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "signature does not match");
  }
  SUBCASE("no secrets at all fails closed") { CHECK(verify(r, {}).code == errc::bad_signature); }
}

TEST_CASE("signatures that must not verify") {
  request r = vector_request();
  auto check_refused = [&](std::string_view detail) {
    const error e = verify(r);
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == detail);
  };
  SUBCASE("body changed by one byte") {
    r.body = R"({"test": 2432232315})";
    check_refused("signature does not match");
  }
  SUBCASE("body with trailing whitespace") {
    r.body += "\n";
    check_refused("signature does not match");
  }
  SUBCASE("another webhook-id") {
    r.set("webhook-id", "msg_other");
    check_refused("signature does not match");
  }
  SUBCASE("the timestamp header differs from the signed one") {
    r.set("webhook-timestamp", std::to_string(vector_ts + 1));
    check_refused("signature does not match");
  }
  SUBCASE("signature truncated to invalid base64") {
    r.set("webhook-signature", std::string(vector_signature.substr(0, 20)));
    check_refused("header webhook-signature has no v1 signature");
  }
  SUBCASE("signature bytes truncated, still valid base64") {
    const std::string raw = *base64_decode(vector_signature.substr(3));
    r.set("webhook-signature", "v1," + base64_encode(raw.substr(0, 16)));
    check_refused("signature does not match");
  }
  SUBCASE("empty v1 signature") {
    r.set("webhook-signature", "v1,");
    check_refused("header webhook-signature has no v1 signature");
  }
  SUBCASE("a bare signature without version") {
    r.set("webhook-signature", std::string(vector_signature.substr(3)));
    check_refused("header webhook-signature has no v1 signature");
  }
  SUBCASE("the right signature under another version") {
    r.set("webhook-signature", "v1a," + std::string(vector_signature.substr(3)));
    check_refused("header webhook-signature has no v1 signature");
  }
  SUBCASE("hex instead of base64") {
    r.set("webhook-signature", "v1," + hex_encode(*base64_decode(vector_signature.substr(3))));
    check_refused("signature does not match");
  }
}

TEST_CASE("the timestamp must be digits within the tolerance") {
  request r = vector_request();
  const millis signed_at = vector_ts * 1000;

  SUBCASE("exactly at either edge is accepted") {
    r.now = signed_at + 300'000;
    CHECK(verify(r).code == errc::ok);
    r.now = signed_at - 300'000;
    CHECK(verify(r).code == errc::ok);
    r.now = signed_at + 300'999;  // still second 300 after it
    CHECK(verify(r).code == errc::ok);
  }
  SUBCASE("expired: a replay") {
    r.now = signed_at + 301'000;
    const error e = verify(r);
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "timestamp outside the tolerance");
  }
  SUBCASE("from the future") {
    r.now = signed_at - 301'000;
    const error e = verify(r);
    CHECK(e.code == errc::bad_signature);
    CHECK(e.detail == "timestamp outside the tolerance");
  }
  SUBCASE("not a number") {
    for (const std::string ts : {"abc", "1614265330.5", "1.6e9", "-1614265330", "+1614265330",
                                 " 1614265330", "1614265330 ", "0x603", "99999999999999999999"}) {
      CAPTURE(ts);
      r.set("webhook-timestamp", ts);
      const error e = verify(r);
      CHECK(e.code == errc::bad_signature);
      CHECK(e.detail == "header webhook-timestamp is not a unix timestamp");
    }
  }
  SUBCASE("absurd values and clocks do not overflow") {
    for (const std::string ts : {"0", "9223372036854775807", "00000000001614265330"}) {
      CAPTURE(ts);
      r.set("webhook-timestamp", ts);
      CHECK(verify(r).code == errc::bad_signature);
    }
    r.set("webhook-timestamp", "9223372036854775807");
    for (millis now :
         {std::numeric_limits<millis>::min(), std::numeric_limits<millis>::max(), millis{0}}) {
      r.now = now;
      CHECK(verify(r, vector_keys(), std::chrono::seconds::max()).code == errc::bad_signature);
      CHECK(verify(r, vector_keys(), std::chrono::seconds::min()).code == errc::bad_signature);
    }
  }
  SUBCASE("a negative tolerance behaves as zero") {
    r.now = signed_at;
    CHECK(verify(r, vector_keys(), std::chrono::seconds{-5}).code == errc::ok);
    r.now = signed_at + 1000;
    CHECK(verify(r, vector_keys(), std::chrono::seconds{-5}).code == errc::bad_signature);
  }
}

TEST_CASE("the timestamp is checked before the signature") {
  request r = vector_request();
  r.set("webhook-signature", "v1,AAAA");
  r.now = (vector_ts + 3600) * 1000;
  CHECK(verify(r).detail == "timestamp outside the tolerance");
}

TEST_CASE("sign and verify round-trip over arbitrary bytes") {
  const std::string key = "\x00\x01\x02 binary key with a NUL and more bytes"s;
  request r = at_vector_time();
  r.body = "\x00\xff binary \xc3\xa9 body"s;
  r.now = 1'800'000'000'000;
  r.fields = {{"webhook-id", "msg_1"},
              {"webhook-timestamp", "1800000000"},
              {"webhook-signature", sign_standard_webhook(key, "msg_1", 1'800'000'000, r.body)}};
  CHECK(verify(r, {key}).code == errc::ok);
  CHECK(verify(r, {key.substr(1)}).code == errc::bad_signature);
}

}  // namespace
}  // namespace sb
