// What the fuzz targets share: the fixed clock, the channels they build adapters from, the
// text format of a request that the channel and signature targets read, and the checks made
// on every answer. Header-only: each target is one .cpp file plus this.
#pragma once

#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "core/error.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::fuzz {

// 2026-11-22T10:00:30Z, the unit tests' clock: every request is judged at this instant. The
// seeds (fuzz/make_corpus.py) are signed at it, so their timestamps lie within tolerance.
inline constexpr millis fuzz_now = 1'795'341'630'000;

// A channel of `type` configured as its unit tests (tests/unit/channels/<type>_test.cpp)
// configure it: the same names, secrets and options, so the fixtures carry over as seeds.
// Options the tests leave out are set here when they open more code (a default country,
// a user name to check); fuzz/make_corpus.py must agree with this table.
inline channel_config config_for(std::string_view type) {
  channel_config c;
  c.type = std::string(type);
  const auto set = [&c](std::string name, std::string secret) {
    c.name = std::move(name);
    c.secrets = {std::move(secret)};
  };
  if (type == "chat") {
    set("web-chat", "whsec_" + base64_encode("chat-secret-A: 32 bytes of key!!"));
    c.options["default_country"] = "GB";
  } else if (type == "callback") {
    set("callbacks", "whsec_" + base64_encode("callback-secret-A: 32 bytes key!"));
    c.options["default_country"] = "LT";
  } else if (type == "mailgun") {
    set("support-mailgun", "key-7e1b3c9a2f0d4e6b8a1c3e5f7a9b0c2d");
  } else if (type == "sendgrid") {
    set("support-sendgrid", "sg-inbound-9f3c2a7e5b1d4f60");
    c.options["username"] = "parse";
  } else if (type == "postmark") {
    set("support-postmark", "pm-inbound-4c8e1a6f2b9d3e70");
  } else if (type == "mime") {
    set("support-mail", "mta-pipe-2b7f9c4e1a6d8b30");
  } else if (type == "twilio") {
    set("phone", "9f3c2b7d41e6a8059c1d2e3f4a5b6c7d");
    c.options["public_url"] = "https://support.example.com/v1/webhooks/phone";
    c.options["default_country"] = "US";
  } else if (type == "messenger") {
    set("fb-page", "3c9a41e7b2d85f6094ae1b7c2d3e4f50");
    c.options["verify_token"] = "verify-me-7731";
  } else if (type == "instagram") {
    set("ig-shop", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b");
    c.options["verify_token"] = "ig-verify-55";
  } else if (type == "whatsapp") {
    set("wa-support", "5b1f0e3d2c9a8b7f6e5d4c3b2a190817");
    c.options["verify_token"] = "wa-verify-918";
  } else if (type == "telegram") {
    set("telegram", "5c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f");
    c.options["bot_username"] = "@SupportBot";
  } else if (type == "x") {
    set("x-support", "kT9vQ2xW7pL4mN8rS1yB6cF3hJ5dG0aZ2eU7iO9wX4qR8tY1uP");
  }
  return c;
}

// Builds the adapter as the config loader does (find_channel_type, then its factory). A
// configuration the factory refuses is a bug in this file: stop at once, loudly.
inline std::unique_ptr<adapter> make_adapter(const channel_config& cfg) {
  const channel_type_info* info = find_channel_type(cfg.type);
  if (info == nullptr) {
    std::fprintf(stderr, "fuzz: unknown channel type \"%s\"\n", cfg.type.c_str());
    std::abort();
  }
  auto made = info->make(cfg);
  if (!made) {
    std::fprintf(stderr, "fuzz: the %s adapter refused its config: %s\n", cfg.type.c_str(),
                 made.error().detail.c_str());
    std::abort();
  }
  return std::move(*made);
}

// SB_FUZZ_VERBOSE=1 prints what each input came to: run a target on one file to see whether a
// seed gets past the signature, or what a reproducer does.
inline bool verbose() noexcept {
  static const bool on = std::getenv("SB_FUZZ_VERBOSE") != nullptr;
  return on;
}

// An adapter never answers errc::internal to a request: core/error.hpp reserves it for bugs.
inline void check_error(const error& e, std::string_view what) {
  if (verbose())
    std::fprintf(stderr, "%.*s: %s: %s\n", static_cast<int>(what.size()), what.data(),
                 std::string(describe(e.code).name).c_str(), e.detail.c_str());
  if (e.code == errc::internal) {
    std::fprintf(stderr, "fuzz: %.*s answered errc::internal (a bug): %s\n",
                 static_cast<int>(what.size()), what.data(), e.detail.c_str());
    std::abort();
  }
}

inline void check(const result<parse_result>& r, std::string_view what) {
  if (!r) return check_error(r.error(), what);
  if (verbose())
    std::fprintf(stderr, "%.*s: ok: %zu message(s), %zu ignored%s\n", static_cast<int>(what.size()),
                 what.data(), r->messages.size(), r->ignored, r->ack ? ", with an ack" : "");
}

// The replay of a kept delivery (adapter::parse_verified) reads exactly what its arrival did.
inline void check_replay(const parse_result& received, const result<parse_result>& replayed,
                         std::string_view what) {
  for (const auto& u : received.unreadable)
    if (u.path.empty() || u.reason.empty()) {
      std::fprintf(stderr, "fuzz: %.*s kept an unreadable event without a path or reason\n",
                   static_cast<int>(what.size()), what.data());
      std::abort();
    }
  if (!replayed || replayed->messages.size() != received.messages.size() ||
      replayed->unreadable.size() != received.unreadable.size() ||
      replayed->ignored != received.ignored) {
    std::fprintf(stderr, "fuzz: %.*s parse_verified() read the kept delivery differently\n",
                 static_cast<int>(what.size()), what.data());
    std::abort();
  }
}

inline void check(const result<http_answer>& r, std::string_view what) {
  if (!r) return check_error(r.error(), what);
  if (verbose())
    std::fprintf(stderr, "%.*s: answer %u %s\n", static_cast<int>(what.size()), what.data(),
                 r->status, r->content_type.c_str());
}

// A request as the channel and signature targets read it: HTTP/1.1 without the version and
// the CRs (a CR before a line's LF is dropped all the same), so seeds stay readable:
//
//   POST /v1/webhooks/web-chat?x=1    the first line: method, a space, the target
//   Content-Type: application/json    then headers, one "name: value" a line
//   webhook-id: msg_1
//                                     the first empty line ends the head
//   {"id": "m-1", ...}                the rest is the body, byte for byte
//
// Every piece is copied into a heap block of exactly its size, so ASan reports a read even
// one byte past any of them (in the daemon they are views into Beast's larger buffers, where
// such a read goes unnoticed).
class text_request {
 public:
  explicit text_request(std::string_view input) {
    std::string_view line = next_line(input);
    const auto space = line.find(' ');
    view_.method = keep(line.substr(0, space));
    view_.target =
        keep(space == std::string_view::npos ? std::string_view{} : line.substr(space + 1));
    bool head_ended = false;
    while (!input.empty()) {
      line = next_line(input);
      if (line.empty()) {
        head_ended = true;
        break;
      }
      const auto colon = line.find(':');
      const std::string_view name = line.substr(0, colon);
      const std::string_view value =
          colon == std::string_view::npos ? std::string_view{} : trim(line.substr(colon + 1));
      headers_.push_back({keep(name), keep(value)});
    }
    view_.headers = headers_;
    view_.body = keep(head_ended ? input : std::string_view{});
    view_.now = fuzz_now;
    view_.peer = "127.0.0.1";
  }

  text_request(const text_request&) = delete;
  text_request& operator=(const text_request&) = delete;

  const request_view& view() const noexcept { return view_; }

 private:
  static std::string_view next_line(std::string_view& rest) noexcept {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }

  // Optional whitespace around a header value goes, as Beast drops it.
  static std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
  }

  std::string_view keep(std::string_view piece) {
    // Beast never hands out a null pointer, even for an empty value; neither do we.
    static constexpr char empty[1] = {};
    if (piece.empty()) return {empty, 0};
    auto& block = blocks_.emplace_back(new char[piece.size()]);
    std::memcpy(block.get(), piece.data(), piece.size());
    return {block.get(), piece.size()};
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<header_field> headers_;
  request_view view_;
};

}  // namespace sb::fuzz
