// What the channel tests share: a request that owns its bytes, fixture files, the signing that
// senders do, and the receive / accepted / refused steps every adapter test takes.
#pragma once

#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "channels/meta/meta.hpp"
#include "channels/standard_webhooks.hpp"

#include <doctest/doctest.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::fixtures {

using pairs = std::vector<std::pair<std::string, std::string>>;

// Owns the header strings so the request_view's spans stay valid. Each test file sets the
// target and the clock its adapter is judged at: request r{.target = "...", .now = test_now}.
struct request {
  std::string method = "POST";
  std::string target;
  pairs fields;
  std::string body;
  millis now = 0;
  std::vector<header_field> views;

  request_view view() {
    views.clear();
    for (const auto& [name, value] : fields) views.push_back({name, value});
    return {method, target, views, body, now};
  }
  void set(const std::string& name, std::string value) {
    for (auto& f : fields)
      if (f.first == name) {
        f.second = std::move(value);
        return;
      }
    fields.emplace_back(name, std::move(value));
  }
  void remove(const std::string& name) {
    std::erase_if(fields, [&](const auto& f) { return f.first == name; });
  }
};

// tests/data/<dir>/<name>, byte for byte.
inline std::string read_fixture(std::string_view dir, std::string_view name) {
  std::ifstream in(SB_TEST_DATA_DIR "/" + std::string(dir) + "/" + std::string(name),
                   std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- signing, as the senders do -------------------------------------------------------------

// A secret as configured for a Standard Webhooks channel.
inline std::string whsec(std::string_view key) { return "whsec_" + base64_encode(key); }

// `to` with `body`, signed with the Standard Webhooks scheme (chat, callback).
inline request standard_webhooks_post(request to, std::string body, std::string_view key,
                                      std::int64_t ts, const std::string& id) {
  to.body = std::move(body);
  to.fields = {{"Content-Type", "application/json"},
               {"webhook-id", id},
               {"webhook-timestamp", std::to_string(ts)},
               {"webhook-signature", sign_standard_webhook(key, id, ts, to.body)}};
  return to;
}

// `to` with `body`, signed as Meta signs its webhooks (Messenger, Instagram, WhatsApp).
inline request meta_post(request to, std::string body, const std::string& secret) {
  to.body = std::move(body);
  to.fields = {{"Content-Type", "application/json"},
               {"X-Hub-Signature-256", meta::sign(secret, to.body)}};
  return to;
}

// Percent-encodes as form senders do: unreserved characters kept, space as '+'.
inline std::string form_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    }
  }
  return out;
}

// An application/x-www-form-urlencoded body.
inline std::string form_body(const pairs& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += form_encode(name) + "=" + form_encode(value);
  }
  return out;
}

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

inline error refusal(const result<parse_result>& res) {
  REQUIRE_FALSE(res.has_value());
  return res.error();
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
