// What the channel tests share: a request that owns its bytes and the signing that senders do
// (requests.hpp), fixture files, and the receive / accepted / refused steps every adapter
// test takes.
#pragma once

#include "channels/channel.hpp"
#include "tests/unit/channels/requests.hpp"

#include <doctest/doctest.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::fixtures {

// 2026-11-22T10:00:30Z: the instant at which the channel tests judge their requests.
inline constexpr millis test_now = 1'795'341'630'000;

// tests/data/<dir>/<name>, byte for byte.
inline std::string read_fixture(std::string_view dir, std::string_view name) {
  std::ifstream in(SB_TEST_DATA_DIR "/" + std::string(dir) + "/" + std::string(name),
                   std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The PDF the e-mail fixtures attach (327 bytes), as its sender wrote it: a PDF header, every
// byte value from NUL to 0xff, and the trailer. tests/data holds it base64-encoded (mime,
// postmark) and raw (the mailgun and sendgrid forms).
inline std::string sample_pdf() {
  std::string pdf =
      "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
  for (int b = 0; b < 256; ++b) pdf += static_cast<char>(b);
  return pdf + "\n%%EOF\n";
}

// The signature every PNG starts with: its high byte and line endings catch any mangling.
inline constexpr std::string_view png_signature{"\x89PNG\r\n\x1a\n", 8};

// ---- the channel under test -----------------------------------------------------------------

// A channel's config as its tests give it: an option left empty is not set (the adapter's
// default applies).
inline channel_config test_channel(std::string name, std::string type,
                                   std::vector<std::string> secrets,
                                   std::vector<std::pair<std::string, std::string>> options = {}) {
  channel_config cfg;
  cfg.name = std::move(name);
  cfg.type = std::move(type);
  cfg.secrets = std::move(secrets);
  for (auto& [key, value] : options)
    if (!value.empty()) cfg.options[key] = std::move(value);
  return cfg;
}

// A Meta channel (messenger, instagram, whatsapp) as its tests configure it, posts to it signed
// as Meta signs them, and its fixture files (tests/data/<type>/).
struct meta_test_channel {
  std::string name;  // its webhook is /v1/webhooks/<name>
  std::string type;
  std::string app_secret;
  std::string verify_token;

  channel_config config(std::vector<std::string> secrets) const {
    return test_channel(name, type, std::move(secrets), {{"verify_token", verify_token}});
  }
  channel_config config() const { return config({app_secret}); }
  request signed_post(std::string body, const std::string& secret) const {
    return meta_post({.target = "/v1/webhooks/" + name, .now = test_now}, std::move(body), secret);
  }
  request signed_post(std::string body) const { return signed_post(std::move(body), app_secret); }
  std::string fixture(std::string_view file) const { return read_fixture(type, file); }
};

// ---- receiving ------------------------------------------------------------------------------

using adapter_factory = result<std::unique_ptr<adapter>> (*)(const channel_config&);

// The adapter make builds from cfg (it must build), given req.
inline result<parse_result> receive_with(adapter_factory make, const request_view& req,
                                         const channel_config& cfg) {
  auto adapter = make(cfg);
  REQUIRE(adapter.has_value());
  return (*adapter)->receive(req);
}

// The result of an accepted request; a refusal fails the test with its detail.
inline parse_result accepted_result(result<parse_result> res) {
  if (!res) FAIL_CHECK("refused: " << res.error().detail);
  REQUIRE(res.has_value());
  return std::move(*res);
}

// The one message of an accepted request that ignored nothing.
inline inbound_message only_message(const parse_result& res) {
  REQUIRE(res.messages.size() == 1);
  CHECK(res.ignored == 0);
  return res.messages.front();
}

// The one message of an accepted request that asks for no reply body of its own.
inline inbound_message message_without_ack(const parse_result& res) {
  CHECK_FALSE(res.ack.has_value());
  return only_message(res);
}

// An accepted request's whole result (adapters whose requests carry several events).
inline parse_result whole_result(parse_result res) { return res; }

inline error refusal(const result<parse_result>& res) {
  REQUIRE_FALSE(res.has_value());
  return res.error();
}

// A request that did not prove its sender: refused with bad_signature, a 401, with exactly
// that detail.
inline void check_bad_signature(const error& e, std::string_view detail) {
  CHECK(e.code == errc::bad_signature);
  CHECK(describe(e.code).http_status == 401);
  CHECK(e.detail == detail);
}

// Every (body, detail) of `cases`, posted as post(body) makes it, refused by `refuse` as
// malformed with exactly that detail.
template <class Cases, class Post, class Refuse>
void refused_as_malformed(const Cases& cases, Post post, Refuse refuse) {
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = post(std::string(body));
    const error e = refuse(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == detail);
  }
}

// The steps every adapter's tests take, defined once in each test file (in its anonymous
// namespace): receive(r, cfg), the request through the adapter MAKE builds from cfg;
// accepted(r, cfg), what ACCEPTED (only_message, message_without_ack, whole_result, ...) makes
// of its result, which must be accepted; refused(r, cfg), what REFUSED (refusal, ...) makes of
// the result, which must be refused. cfg is DEFAULT_CFG unless given.
#define SB_ADAPTER_STEPS(MAKE, DEFAULT_CFG, ACCEPTED, REFUSED)                             \
  [[maybe_unused]] result<parse_result> receive(request& r,                                \
                                                const channel_config& cfg = DEFAULT_CFG) { \
    return ::sb::fixtures::receive_with(MAKE, r.view(), cfg);                              \
  }                                                                                        \
  [[maybe_unused]] auto accepted(request& r, const channel_config& cfg = DEFAULT_CFG) {    \
    return ACCEPTED(::sb::fixtures::accepted_result(receive(r, cfg)));                     \
  }                                                                                        \
  [[maybe_unused]] error refused(request& r, const channel_config& cfg = DEFAULT_CFG) {    \
    return REFUSED(receive(r, cfg));                                                       \
  }

// The one event an accepted request kept as unreadable (channels/unreadable.hpp): the request
// must not have been refused, and nothing else of it may have been read.
inline unreadable_event kept_unreadable(const result<parse_result>& res) {
  if (!res) FAIL_CHECK("refused: " << res.error().detail);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  REQUIRE(res->unreadable.size() == 1);
  return res->unreadable.front();
}

// ---- channels signed with Standard Webhooks -------------------------------------------------

// A channel signed with Standard Webhooks (chat, callback) as its tests configure it (its
// secret is whsec_<base64 of key>), and posts to it signed as its sender signs them.
struct standard_webhooks_test_channel {
  std::string name;  // its webhook is /v1/webhooks/<name>
  std::string type;
  std::string key;          // the channel's secret
  std::string rotated_key;  // the next secret, for rotation
  std::string other_key;    // another channel's secret
  std::string message_id;   // the webhook-id of the posts
  millis now = test_now;    // when the adapter judges the posts

  std::int64_t now_s() const { return now / 1000; }
  channel_config config(std::vector<std::string> secrets, std::string default_country = {}) const {
    return test_channel(name, type, std::move(secrets),
                        {{"default_country", std::move(default_country)}});
  }
  channel_config config() const { return config({whsec(key)}); }
  request signed_post(std::string body, std::string_view with_key, std::int64_t ts) const {
    return standard_webhooks_post({.target = "/v1/webhooks/" + name, .now = now}, std::move(body),
                                  with_key, ts, message_id);
  }
  request signed_post(std::string body, std::string_view with_key) const {
    return signed_post(std::move(body), with_key, now_s());
  }
  request signed_post(std::string body) const { return signed_post(std::move(body), key); }
  std::string signature(std::string_view with_key, std::string_view body) const {
    return sign_standard_webhook(with_key, message_id, now_s(), body);
  }
};

// Every way a Standard Webhooks signature can fail, as a channel signed with it must answer:
// 401 with the verifier's detail. refuse(r, cfg) runs ch's adapter with cfg; body is a valid
// body for the channel and changed the same with one value changed.
template <class Refuse>
void check_standard_webhooks_refusals(const standard_webhooks_test_channel& ch, Refuse refuse,
                                      const std::string& body, const std::string& changed) {
  auto without = [&](const std::string& header) {
    request r = ch.signed_post(body);
    r.remove(header);
    return r;
  };
  auto with = [&](const std::string& header, std::string value) {
    request r = ch.signed_post(body);
    r.set(header, std::move(value));
    return r;
  };
  auto signed_at = [&](std::int64_t ts) { return ch.signed_post(body, ch.key, ts); };
  request changed_after_signing = ch.signed_post(body);
  changed_after_signing.body = changed;
  const std::string full = ch.signature(ch.key, body);
  const std::string_view mismatch = "signature does not match";
  const std::string_view no_v1 = "header webhook-signature has no v1 signature";
  const std::string_view outside = "timestamp outside the tolerance";

  struct refused_case {
    std::string_view what;
    request r;
    std::string_view detail;
  };
  std::vector<refused_case> cases = {
      {"missing webhook-id", without("webhook-id"), "missing header webhook-id"},
      {"missing webhook-timestamp", without("webhook-timestamp"),
       "missing header webhook-timestamp"},
      {"missing webhook-signature", without("webhook-signature"),
       "missing header webhook-signature"},
      {"wrong key", ch.signed_post(body, ch.rotated_key), mismatch},
      {"another channel's secret", ch.signed_post(body, ch.other_key), mismatch},
      {"body changed after signing", changed_after_signing, mismatch},
      {"webhook-id changed after signing", with("webhook-id", "msg_other"), mismatch},
      {"truncated signature", with("webhook-signature", full.substr(0, full.size() - 4)), mismatch},
      {"truncated, no longer base64", with("webhook-signature", full.substr(0, full.size() - 1)),
       no_v1},
      {"empty signature", with("webhook-signature", "v1,"), no_v1},
      {"not base64", with("webhook-signature", "v1,???"), no_v1},
      {"expired timestamp: a replay", signed_at(ch.now_s() - 301), outside},
      {"future timestamp", signed_at(ch.now_s() + 301), outside},
      {"non-numeric timestamp", with("webhook-timestamp", "2026-11-22T10:00:30Z"),
       "header webhook-timestamp is not a unix timestamp"},
  };
  for (refused_case& c : cases) {
    CAPTURE(c.what);
    check_bad_signature(refuse(c.r, ch.config()), c.detail);
  }

  // The channel's own tolerance applies.
  request late = signed_at(ch.now_s() - 61);
  channel_config strict = ch.config();
  strict.tolerance = std::chrono::seconds{60};
  check_bad_signature(refuse(late, strict), outside);
}

// What such a channel accepts: timestamps within the tolerance, and any configured secret
// (key rotation). accept(r, cfg) runs ch's adapter with cfg and requires it to accept;
// refuse(r, cfg) as above.
template <class Accept, class Refuse>
void check_standard_webhooks_accepts(const standard_webhooks_test_channel& ch, Accept accept,
                                     Refuse refuse, const std::string& body) {
  const channel_config rotating = ch.config({whsec(ch.key), whsec(ch.rotated_key)});
  SUBCASE("timestamps inside the tolerance") {
    for (std::int64_t skew : {-300, -1, 0, 1, 300}) {
      CAPTURE(skew);
      request r = ch.signed_post(body, ch.key, ch.now_s() + skew);
      accept(r, ch.config());
    }
  }
  SUBCASE("the second secret matches") {
    request r = ch.signed_post(body, ch.rotated_key);
    accept(r, rotating);
  }
  SUBCASE("the first secret matches") {
    request r = ch.signed_post(body, ch.key);
    accept(r, rotating);
  }
  SUBCASE("the sender signs with old and new keys, we know only the new one") {
    request r = ch.signed_post(body);
    r.set("webhook-signature", ch.signature(ch.other_key, body) + " " + ch.signature(ch.key, body));
    accept(r, ch.config());
  }
  SUBCASE("the sender signs with two keys; one is among ours") {
    request r = ch.signed_post(body);
    r.set("webhook-signature",
          ch.signature(ch.other_key, body) + " " + ch.signature(ch.rotated_key, body));
    accept(r, rotating);
  }
  SUBCASE("neither matches") {
    request r = ch.signed_post(body, ch.other_key);
    CHECK(refuse(r, rotating).code == errc::bad_signature);
  }
}

// ---- reading what came out ------------------------------------------------------------------

// The object a channel puts in the message's extra under key.
inline const boost::json::object& object_at(const inbound_message& m, std::string_view key) {
  const boost::json::value* v = m.extra.if_contains(key);
  REQUIRE(v != nullptr);
  REQUIRE(v->is_object());
  return v->as_object();
}

inline std::vector<std::string> strings(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

}  // namespace sb::fixtures
