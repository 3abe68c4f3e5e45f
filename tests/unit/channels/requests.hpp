// Requests as the providers send them, signed as they sign them: what the channel tests
// (fixtures.hpp) and bench/worst_case.cpp build their requests with. No test framework here.
#pragma once

#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "channels/meta/meta.hpp"
#include "channels/standard_webhooks.hpp"

#include <cstdint>
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

}  // namespace sb::fixtures
