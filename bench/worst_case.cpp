// The worst-case input benchmark (issue #18, docs/reliability.md "Worst-case inputs"): every
// parser a webhook reaches, fed adversarial inputs of 256 KiB, 1 MiB and 4 MiB, timed.
//
// Each row is one parser and one input shape built to hurt it: unclosed hidden HTML elements, a
// <pre> followed by many blocks, MIME nested deep, thousands of parts, fields, headers or batch
// events, a long multipart boundary, deeply nested JSON, ... The channel rows go through the
// real entry point, adapter::receive(), with a request signed as the provider signs it, judged
// at a clock within the signature's tolerance; the helper rows call the pure functions the
// adapters use (html_to_text, unflow, Authentication-Results, CLD2, identity normalization).
// Every call's outcome is checked against what the row expects (read, kept unreadable, refused
// 4xx): timing a refused signature would measure nothing.
//
// Each time is the best of RUNS calls (steady_clock), input built beforehand. A size that takes
// longer than GIVE_UP_MS is not followed by the larger ones. The verdict of a row:
//   SLOW       the 1 MiB input took more than MAX_MS_AT_1MIB
//   NONLINEAR  t(4 MiB) / t(1 MiB) is above MAX_GROWTH (4 is linear, 16 quadratic; the margin
//              is noise), judged only when t(4 MiB) is at least MIN_JUDGED_MS
//   WRONG      an outcome was not the one the row expects
// The exit status is 1 when any row is not ok.
//
//   worst_case [SUBSTRING]    only the rows whose parser or input name contains SUBSTRING
//
// bench/worst_case.sh builds it (Release) and runs it.

// GCC 12 warns (-Wrestrict) about "literal" + std::string at -O2, wrongly: its bug 105651.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include "channels/channel.hpp"
#include "channels/crypto.hpp"
#include "channels/email/auth.hpp"
#include "channels/email/email.hpp"
#include "channels/form.hpp"
#include "channels/meta/meta.hpp"
#include "channels/normalize.hpp"
#include "channels/standard_webhooks.hpp"
#include "channels/x/x.hpp"
#include "fuzz/fuzz_support.hpp"  // config_for / make_adapter: the unit tests' channels
#include "routing/language.hpp"
#include "tests/unit/channels/requests.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace sb;

// ---- thresholds ---------------------------------------------------------------------------

constexpr std::size_t sizes[] = {256 * 1024, 1024 * 1024, 4 * 1024 * 1024};
constexpr double MAX_MS_AT_1MIB = 50;  // issue #18: no 1 MiB input may take longer
constexpr double MAX_GROWTH = 8;       // t(4 MiB) / t(1 MiB): linear is 4, quadratic 16
constexpr double MIN_JUDGED_MS = 1;    // below this the growth of a time is noise
constexpr int RUNS = 3;                // best of
constexpr double GIVE_UP_MS = 3000;    // slower than this: the larger sizes are not run

constexpr millis now = fuzz::fuzz_now;  // the clock every request is judged at
constexpr std::int64_t now_s = now / 1000;

// ---- requests -----------------------------------------------------------------------------

using fixtures::pairs;
using fixtures::request;  // owns its bytes; view() is what an adapter receives

// The adapter of each channel type, configured as the unit tests configure it; the e-mail types
// also trust an authserv-id, so that Authentication-Results headers are read.
const adapter& adapter_for(const std::string& type) {
  static std::map<std::string, std::unique_ptr<adapter>> made;
  auto& a = made[type];
  if (!a) {
    channel_config cfg = fuzz::config_for(type);
    if (type == "mime" || type == "mailgun" || type == "postmark")
      cfg.options["trusted_authserv_id"] = "mx.acme.example";
    a = fuzz::make_adapter(cfg);
  }
  return *a;
}

const std::string& secret_of(const std::string& type) {
  static std::map<std::string, std::string> secrets;
  auto& s = secrets[type];
  if (s.empty()) s = fuzz::config_for(type).secrets.front();
  return s;
}

std::string target_of(const std::string& type) {
  return "/v1/webhooks/" + fuzz::config_for(type).name;
}

// A request to the channel of that type with `body`, judged at `now`.
request to(const std::string& type, std::string body = {}) {
  return request{.target = target_of(type), .body = std::move(body), .now = now};
}

// chat, callback: Standard Webhooks over id.timestamp.body.
request chat_post(const std::string& type, std::string body) {
  const std::string key = *decode_standard_webhooks_secret(secret_of(type));
  return fixtures::standard_webhooks_post(to(type), std::move(body), key, now_s, "msg_worst_case");
}

// whatsapp, messenger, instagram: X-Hub-Signature-256 over the body.
request meta_signed(const std::string& type, std::string body) {
  return fixtures::meta_post(to(type), std::move(body), secret_of(type));
}

request x_post(std::string body) {
  request r = to("x", std::move(body));
  r.fields = {{"Content-Type", "application/json"},
               {std::string(x_signature_header), x_signature(secret_of("x"), r.body)}};
  return r;
}

request telegram_post(std::string body) {
  request r = to("telegram", std::move(body));
  r.fields = {{"Content-Type", "application/json"},
               {"X-Telegram-Bot-Api-Secret-Token", secret_of("telegram")}};
  return r;
}

// sendgrid, postmark: HTTP basic auth; mime: a bearer token.
request basic_auth_post(const std::string& type, std::string content_type, std::string body) {
  const auto user = fuzz::config_for(type).options;
  const auto it = user.find("username");
  const std::string name = it == user.end() ? "switchboard" : it->second;
  request r = to(type, std::move(body));
  r.fields = {{"Content-Type", std::move(content_type)},
               {"Authorization", "Basic " + base64_encode(name + ":" + secret_of(type))}};
  return r;
}

request mime_post(std::string raw) {
  request r = to("mime", std::move(raw));
  r.fields = {{"Content-Type", "message/rfc822"},
               {"Authorization", "Bearer " + secret_of("mime")}};
  return r;
}

// multipart/form-data of plain fields.
std::string multipart_body(const pairs& fields, std::string_view boundary) {
  std::string out;
  for (const auto& [name, value] : fields)
    out += fmt::format("--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
                       boundary, name, value);
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

// Mailgun signs timestamp + token inside the body: the signing fields are added to `fields`.
void mailgun_sign(pairs& fields) {
  const std::string ts = std::to_string(now_s);
  const std::string token = "5b2f3e8a1c9d4e7f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
  const std::string_view parts[] = {ts, token};
  fields.emplace_back("timestamp", ts);
  fields.emplace_back("token", token);
  fields.emplace_back("signature", hex_encode(hmac_sha256_concat(secret_of("mailgun"), parts)));
}

request mailgun_post(std::string content_type, std::string body) {
  request r = to("mailgun", std::move(body));
  r.fields = {{"Content-Type", std::move(content_type)}};
  return r;
}

// Twilio: base64 HMAC-SHA1 of the public URL and every decoded parameter, sorted, name + value.
request twilio_post(std::string body) {
  const channel_config cfg = fuzz::config_for("twilio");
  const form params = *parse_form(body);
  std::vector<const form_field*> sorted;
  for (const auto& f : params) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const form_field* a, const form_field* b) {
    return std::tie(a->name, a->value) < std::tie(b->name, b->value);
  });
  std::vector<std::string_view> parts{cfg.options.at("public_url")};
  for (const form_field* f : sorted) {
    parts.push_back(f->name);
    parts.push_back(f->value);
  }
  request r = to("twilio", std::move(body));
  r.fields = {{"Content-Type", "application/x-www-form-urlencoded"},
               {"X-Twilio-Signature", base64_encode(hmac_sha1_concat(secret_of("twilio"), parts))}};
  return r;
}

// ---- input building -----------------------------------------------------------------------

// `head`, then unit(0), unit(1), ... until the whole (with `tail`) reaches n bytes, then `tail`.
template <class Unit>
  requires std::invocable<Unit, std::size_t>
std::string fill(std::string head, Unit unit, std::string_view tail, std::size_t n) {
  std::string out = std::move(head);
  out.reserve(n + 4096);
  for (std::size_t i = 0; out.size() + tail.size() < n; ++i) out += unit(i);
  out += tail;
  return out;
}

std::string fill(std::string head, std::string_view unit, std::string_view tail, std::size_t n) {
  return fill(std::move(head), [unit](std::size_t) { return unit; }, tail, n);
}

// A JSON list's elements: element(i), comma-separated, about n bytes in all.
template <class Element>
std::string json_list(Element element, std::size_t n) {
  return fill("", [&](std::size_t i) { return (i == 0 ? "" : ",") + element(i); }, "", n);
}

// A JSON string literal of n bytes of text (words, some non-ASCII).
std::string json_text(std::size_t n) {
  return fill("\"", "Labdien, mans rēķins ir nepareizs, lūdzu palīdziet. ", "\"", n);
}

const std::string mail_headers =
    "From: Ann Lee <ann@example.com>\r\n"
    "To: support@acme.example\r\n"
    "Subject: Worst case\r\n"
    "Message-ID: <worst-case-1@example.com>\r\n"
    "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
    "Authentication-Results: mx.acme.example; dmarc=pass header.from=example.com\r\n"
    "MIME-Version: 1.0\r\n";

// An HTML-only mail around `html`.
std::string html_mail(const std::string& html) {
  return mail_headers + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html;
}

// Unclosed hidden elements: the shape that made html_to_text quadratic.
std::string unclosed_heads(std::size_t n) { return fill("", "<head>", "text", n); }

// Multiparts nested as deep as n bytes allow, each level a part of the one above: `head` (which
// opens the multipart of boundary <prefix>0), the levels, a text part and every closing
// delimiter.
std::string nested_multiparts(std::string head, std::string_view prefix, std::size_t n) {
  std::string open = std::move(head);
  std::vector<std::string> closes{fmt::format("--{}0--\r\n", prefix)};
  std::size_t close_bytes = closes.back().size();
  for (std::size_t i = 1; open.size() + close_bytes < n; ++i) {
    open += fmt::format("--{}{}\r\nContent-Type: multipart/mixed; boundary=\"{}{}\"\r\n\r\n", prefix,
                        i - 1, prefix, i);
    closes.push_back(fmt::format("--{}{}--\r\n", prefix, i));
    close_bytes += closes.back().size();
  }
  open += fmt::format("--{}{}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n", prefix, closes.size() - 1);
  for (auto it = closes.rbegin(); it != closes.rend(); ++it) open += *it;
  return open;
}

// A mail whose multiparts nest as deep as n bytes allow.
std::string nested_mail(std::size_t n) {
  return nested_multiparts(mail_headers + "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
                           "b", n);
}

// A raw mail for the MIME parser: the given shape and the usual headers around it.
std::string many_parts_mail(std::size_t n) {
  return fill(mail_headers + "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n",
              "--p\r\nContent-Type: text/plain\r\n\r\npart\r\n", "--p--\r\n", n);
}

// ---- outcomes -----------------------------------------------------------------------------

enum class expect {
  read,     // 2xx: at least one message read, nothing kept unreadable
  ignored,  // 2xx: events counted as ignored
  kept,     // 2xx: the delivery kept as unreadable (a mail that cannot be read)
  refused,  // 4xx other than a signature or credential refusal
  value,    // a helper's return value (always as expected)
};

struct outcome {
  std::string text;
  bool expected = false;
};

outcome judge(const result<parse_result>& r, expect e) {
  outcome o;
  if (!r) {
    const status_entry& s = describe(r.error().code);
    o.text = fmt::format("{} {}: {}", s.http_status, s.name, r.error().detail);
    o.expected = e == expect::refused && s.http_status >= 400 && s.http_status < 500 &&
                 s.http_status != 401;
    return o;
  }
  if (!r->unreadable.empty()) {
    o.text = fmt::format("2xx, kept unreadable: {}", r->unreadable.front().reason);
    o.expected = e == expect::kept;
    return o;
  }
  o.text = fmt::format("2xx, {} read, {} ignored", r->messages.size(), r->ignored);
  o.expected = (e == expect::read && !r->messages.empty()) || (e == expect::ignored && r->ignored > 0);
  return o;
}

// ---- rows ---------------------------------------------------------------------------------

// What one size of a row runs: the call to time, which returns its outcome.
using call = std::function<outcome()>;

struct row {
  std::string parser;
  std::string input;
  std::function<call(std::size_t)> build;  // the input of about n bytes, and the call on it
};

// A row that posts build_request(n) to the channel type's adapter.
row channel_row(std::string type, std::string input, expect e,
                std::function<request(std::size_t)> build_request) {
  return {type + " receive()", std::move(input), [type, e, build_request](std::size_t n) -> call {
            auto r = std::make_shared<request>(build_request(n));
            const adapter* a = &adapter_for(type);
            return [r, a, e] { return judge(a->receive(r->view()), e); };
          }};
}

// A row that calls a helper on make_input(n); describe turns its result into the outcome text.
template <class Input, class Run>
row helper_row(std::string parser, std::string input, Input make_input, Run run) {
  return {std::move(parser), std::move(input), [make_input, run](std::size_t n) -> call {
            auto in = std::make_shared<decltype(make_input(n))>(make_input(n));
            return [in, run] { return outcome{run(*in), true}; };
          }};
}

std::string bytes_out(std::size_t n) { return fmt::format("{} bytes out", n); }

std::vector<row> rows() {
  std::vector<row> out;
  const auto add = [&out](row r) { out.push_back(std::move(r)); };
  const auto html = [&add](std::string input, std::function<std::string(std::size_t)> make) {
    add(helper_row("html_to_text", std::move(input), make,
                   [](const std::string& s) { return bytes_out(email::html_to_text(s).size()); }));
  };

  // ---- html_to_text (channels/email/html_text.cpp) ----
  html("unclosed <head> repeated", unclosed_heads);
  html("unclosed <title> repeated", [](std::size_t n) { return fill("", "<title>x", "", n); });
  html("unclosed <style> repeated", [](std::size_t n) { return fill("", "<style>x", "", n); });
  html("unclosed hidden elements interleaved", [](std::size_t n) {
    return fill("", "<head>a<title>b<template>c<noscript>d<xml>e", "", n);
  });
  html("near-miss end tags", [](std::size_t n) { return fill("", "<head></heads></head-x>", "", n); });
  html("<pre> of newlines, then many <p>", [](std::size_t n) {
    return fill("<pre>x" + std::string(n / 2, '\n') + "</pre>", "<p>p</p>", "", n);
  });
  html("deeply nested tags", [](std::size_t n) {
    const std::size_t depth = n / 32;
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += "<div><span><b>";
    s += "text";
    for (std::size_t i = 0; i < depth; ++i) s += "</b></span></div>";
    return s;
  });
  html("many entities", [](std::size_t n) {
    return fill("", "&amp;&lt;&#x1F600;&#233;&eacute;&nosuch;&#;& &hellip;", "", n);
  });
  html("unclosed comment", [](std::size_t n) { return fill("<!--", "x -- > <p> ", "", n); });
  html("one tag with thousands of attributes", [](std::size_t n) {
    return fill("<p", [](std::size_t i) { return fmt::format(" a{}=\"v>\" b{}='w' c", i, i); },
                ">text", n);
  });
  html("many <br> and <li>", [](std::size_t n) { return fill("", "<br><li>x<br>  <br>", "", n); });

  // ---- unflow (format=flowed) ----
  add(helper_row("unflow", "one paragraph of flowed lines",
                 [](std::size_t n) { return fill("", "word word word \r\n", "end\r\n", n); },
                 [](const std::string& s) { return bytes_out(email::unflow(s, false).size()); }));
  add(helper_row("unflow", "deep quotes changing every line",
                 [](std::size_t n) {
                   return fill("", [](std::size_t i) {
                     return std::string(200 + i % 2, '>') + " quoted text \r\n";
                   }, "", n);
                 },
                 [](const std::string& s) { return bytes_out(email::unflow(s, true).size()); }));

  // ---- sender authentication (channels/email/auth.cpp) ----
  const std::vector<std::string> trusted{"mx.acme.example"};
  add(helper_row(
      "Authentication-Results", "thousands of untrusted headers, then the trusted one",
      [](std::size_t n) {
        std::vector<std::pair<std::string, std::string>> h;
        std::size_t total = 0;
        for (std::size_t i = 0; total < n; ++i) {
          h.emplace_back("Authentication-Results",
                         fmt::format("mx{}.forger.example; dkim=pass header.d=example.com; "
                                     "dmarc=pass header.from=example.com",
                                     i));
          total += h.back().second.size() + 24;
        }
        h.emplace_back("Authentication-Results", "mx.acme.example; dmarc=fail");
        return h;
      },
      [trusted](const auto& h) {
        auto e = email::from_authentication_results(h, trusted);
        return std::string(email::name_of(email::verdict_for(*e, "example.com").verdict));
      }));
  add(helper_row(
      "Authentication-Results", "one header of thousands of results",
      [](std::size_t n) {
        std::vector<std::pair<std::string, std::string>> h{
            {"Authentication-Results",
             fill("mx.acme.example;",
                  [](std::size_t i) {
                    return fmt::format(" dkim=fail header.d=d{}.example header.i=@x (c);", i);
                  },
                  " dkim=pass header.d=example.com", n)}};
        return h;
      },
      [trusted](const auto& h) {
        auto e = email::from_authentication_results(h, trusted);
        return std::string(email::name_of(email::verdict_for(*e, "example.com").verdict));
      }));
  add(helper_row(
      "Authentication-Results", "nested comments",
      [](std::size_t n) {
        std::vector<std::pair<std::string, std::string>> h{
            {"Authentication-Results", "mx.acme.example; " + std::string(n / 2, '(') +
                                           std::string(n / 2, ')') + " dmarc=pass"}};
        return h;
      },
      [trusted](const auto& h) {
        auto e = email::from_authentication_results(h, trusted);
        return std::string(email::name_of(email::verdict_for(*e, "example.com").verdict));
      }));
  add(helper_row(
      "SendGrid dkim field", "thousands of results",
      [](std::size_t n) {
        return fill("{", [](std::size_t i) { return fmt::format("@d{}.example : fail, ", i); },
                    "@example.com : pass}", n);
      },
      [](const std::string& dkim) {
        auto e = email::from_sendgrid("pass", dkim);
        return std::string(email::name_of(email::verdict_for(*e, "example.com").verdict));
      }));
  add(helper_row(
      "Mailgun message-headers", "thousands of DKIM-Signature and Received",
      [](std::size_t n) {
        std::vector<std::pair<std::string, std::string>> h{
            {"X-Mailgun-Dkim-Check-Result", "Pass"}, {"X-Mailgun-Spf", "Pass"}};
        std::size_t total = 0;
        for (std::size_t i = 0; total < n; ++i) {
          h.emplace_back(i % 2 ? "Received" : "DKIM-Signature",
                         fmt::format("v=1; a=rsa-sha256; d=d{}.example; s=s; h=from:to; b=abc", i));
          total += h.back().second.size() + 16;
        }
        return h;
      },
      [](const auto& h) {
        auto e = email::from_mailgun(h);
        return e ? std::string(email::name_of(email::verdict_for(*e, "example.com").verdict))
                 : std::string("no evidence");
      }));

  // ---- language detection (routing/language.cpp, CLD2) ----
  add(helper_row("detect_language", "long text",
                 [](std::size_t n) {
                   return fill("", "Labdien, mans rēķins ir nepareizs, lūdzu palīdziet man. ", "",
                               n);
                 },
                 [](const std::string& s) { return detect_language(s).value_or("none"); }));
  add(helper_row("message_language", "long subject and text",
                 [](std::size_t n) {
                   inbound_message m;
                   m.subject = fill("", "Hello, my invoice is wrong. ", "", n / 2);
                   m.text = fill("", "Bonjour, ma facture est fausse. ", "", n / 2);
                   return m;
                 },
                 [](const inbound_message& m) { return message_language(m).value_or("none"); }));

  // ---- identity normalization (channels/normalize.cpp) ----
  add(helper_row("normalize_email", "address padded with whitespace",
                 [](std::size_t n) { return std::string(n, ' ') + "Ann@Example.com" + std::string(n, '\t'); },
                 [](const std::string& s) { return normalize_email(s).value_or("refused"); }));
  add(helper_row("normalize_email", "one long local part",
                 [](std::size_t n) { return std::string(n, 'a') + "@example.com"; },
                 [](const std::string& s) { return normalize_email(s).value_or("refused"); }));
  add(helper_row("normalize_phone", "number padded with whitespace",
                 [](std::size_t n) { return std::string(n, ' ') + "+1 (555) 010-2000" + std::string(n, ' '); },
                 [](const std::string& s) { return normalize_phone(s, "US").value_or("refused"); }));
  add(helper_row("normalize_phone", "long run of separators",
                 [](std::size_t n) { return "+1" + fill("", "(0)-. ", "5550102000", n); },
                 [](const std::string& s) { return normalize_phone(s, "US").value_or("refused"); }));

  // ---- e-mail header helpers (channels/email/email.cpp) ----
  add(helper_row("decode_header_text", "thousands of encoded words",
                 [](std::size_t n) { return fill("", "=?UTF-8?B?w6XDpMO2IGLDpHI=?= =?iso-8859-1?q?d=E9j=E0?= ", "", n); },
                 [](const std::string& s) { return bytes_out(email::decode_header_text(s).size()); }));
  add(helper_row("parse_addresses", "thousands of addresses",
                 [](std::size_t n) {
                   return fill("", [](std::size_t i) {
                     return fmt::format("\"Name {}\" <a{}@example.com>, group{}: b{}@x.example;, ", i, i, i, i);
                   }, "last@example.com", n);
                 },
                 [](const std::string& s) { return fmt::format("{} kept", email::parse_addresses(s).size()); }));
  add(helper_row("message_ids", "References of thousands of ids",
                 [](std::size_t n) {
                   return fill("", [](std::size_t i) { return fmt::format("<id{}@example.com> ", i); }, "", n);
                 },
                 [](const std::string& s) { return fmt::format("{} kept", email::message_ids(s).size()); }));
  add(helper_row("to_utf8", "invalid bytes declared koi8-r and utf-8",
                 [](std::size_t n) { return fill("", "\xff\xfe\xc3(\xe2\x82 ok \x80", "", n); },
                 [](const std::string& s) {
                   return bytes_out(email::to_utf8(s, "koi8-r").size() + email::to_utf8(s, "utf-8").size());
                 }));

  // ---- urlencoded forms (channels/form.cpp: Mailgun, Twilio) ----
  add(helper_row("parse_form + 200 lookups", "thousands of fields",
                 [](std::size_t n) {
                   return fill("", [](std::size_t i) { return fmt::format("P{}=v&", i); }, "Body=x", n);
                 },
                 [](const std::string& body) {
                   const form f = *parse_form(body);
                   std::size_t found = 0;
                   for (int i = 0; i < 100; ++i)
                     found += (form_value(f, fmt::format("MediaUrl{}", i)) != nullptr) +
                              (form_value(f, fmt::format("P{}", i * 7)) != nullptr);
                   return fmt::format("{} fields, {} found", f.size(), found);
                 }));

  // ---- mime: one raw mail per request (channels/email/mime_parse.cpp, GMime) ----
  add(channel_row("mime", "HTML-only mail of unclosed <head>", expect::read,
                  [](std::size_t n) { return mime_post(html_mail(unclosed_heads(n))); }));
  add(channel_row("mime", "many header fields", expect::kept, [](std::size_t n) {
    return mime_post(fill(mail_headers, [](std::size_t i) {
      return fmt::format("X-Filler-{}: some value\r\n", i);
    }, "Content-Type: text/plain\r\n\r\nbody\r\n", n));
  }));
  add(channel_row("mime", "one long folded header", expect::read, [](std::size_t n) {
    return mime_post(fill("Subject: start", "\r\n folded word", "\r\n" + mail_headers.substr(mail_headers.find("From:")) +
                                                                   "Content-Type: text/plain\r\n\r\nbody\r\n", n));
  }));
  add(channel_row("mime", "thousands of encoded words in Subject", expect::read, [](std::size_t n) {
    return mime_post(fill("Subject: ", "=?UTF-8?B?w6XDpMO2IGLDpHI=?=\r\n ",
                          "\r\n" + mail_headers.substr(mail_headers.find("From:")) +
                              "Content-Type: text/plain\r\n\r\nbody\r\n", n));
  }));
  add(channel_row("mime", "thousands of Authentication-Results", expect::read, [](std::size_t n) {
    return mime_post(fill("", [](std::size_t i) {
      return fmt::format("Authentication-Results: mx{}.forger.example; dmarc=pass\r\n", i % 900);
    }, mail_headers + "Content-Type: text/plain\r\n\r\nbody\r\n", std::min<std::size_t>(n, 900 * 60)) +
                     std::string(n > 900 * 60 ? n - 900 * 60 : 0, 'x'));
  }));
  add(channel_row("mime", "To and Cc of thousands of addresses", expect::read, [](std::size_t n) {
    const auto list = [n](std::string_view name) {
      return fill(std::string(name) + ": ", [](std::size_t i) {
        return fmt::format("\"Name {}\" <a{}@example.com>,\r\n ", i, i);
      }, "last@example.com\r\n", n / 2);
    };
    return mime_post(list("To") + list("Cc") + mail_headers + "Content-Type: text/plain\r\n\r\nbody\r\n");
  }));
  add(channel_row("mime", "a Content-Type of thousands of parameters", expect::read, [](std::size_t n) {
    return mime_post(mail_headers + fill("Content-Type: text/plain; charset=utf-8", [](std::size_t i) {
      return fmt::format(";\r\n p{}*{}*=utf-8''%C4%81", i % 7, i);
    }, "\r\n\r\nbody\r\n", n));
  }));
  add(channel_row("mime", "thousands of parts", expect::kept,
                  [](std::size_t n) { return mime_post(many_parts_mail(n)); }));
  add(channel_row("mime", "multiparts nested deep", expect::kept,
                  [](std::size_t n) { return mime_post(nested_mail(n)); }));
  add(channel_row("mime", "32 levels, then lines like delimiters", expect::kept, [](std::size_t n) {
    std::string open = mail_headers + "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
    std::string close = "--b0--\r\n";
    for (int i = 1; i < 32; ++i) {
      open += fmt::format("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n", i - 1, i);
      close = fmt::format("--b{}--\r\n", i) + close;
    }
    open += "--b31\r\nContent-Type: text/plain\r\n\r\n";
    return mime_post(fill(open, "--b31 x\r\n--b\r\n-- \r\n--b3\t.\r\n", "\r\n" + close, n));
  }));
  add(channel_row("mime", "a boundary of thousands of characters", expect::kept, [](std::size_t n) {
    const std::string b(n / 4, 'b');
    return mime_post(mail_headers + "Content-Type: multipart/mixed; boundary=\"" + b +
                     "\"\r\n\r\n--" + b + "\r\nContent-Type: text/plain\r\n\r\ntext\r\n--" + b + "--\r\n");
  }));
  add(channel_row("mime", "message/rfc822 nested deep", expect::kept, [](std::size_t n) {
    return mime_post(fill(mail_headers, "Content-Type: message/rfc822\r\n\r\nFrom: a@example.com\r\n",
                          "Content-Type: text/plain\r\n\r\ninner\r\n", n));
  }));

  // ---- sendgrid: multipart/form-data (channels/email/form_data.cpp) ----
  const std::string sg_boundary = "xYzZY";
  const std::string sg_type = "multipart/form-data; boundary=" + sg_boundary;
  add(channel_row("sendgrid", "thousands of fields", expect::refused, [=](std::size_t n) {
    return basic_auth_post("sendgrid", sg_type, fill("", [&](std::size_t i) {
      return fmt::format("--{}\r\nContent-Disposition: form-data; name=\"f{}\"\r\n\r\nv\r\n", sg_boundary, i);
    }, "--" + sg_boundary + "--\r\n", n));
  }));
  add(channel_row("sendgrid", "field email: a big raw mail", expect::read, [=](std::size_t n) {
    return basic_auth_post("sendgrid", sg_type,
                           multipart_body({{"dkim", "{@example.com : pass}"},
                                           {"email", html_mail(unclosed_heads(n))},
                                           {"to", "support@acme.example"},
                                           {"from", "Ann Lee <ann@example.com>"},
                                           {"envelope", R"({"to":["support@acme.example"],"from":"ann@example.com"})"}},
                                          sg_boundary));
  }));
  add(channel_row("sendgrid", "field email: thousands of parts", expect::kept, [=](std::size_t n) {
    return basic_auth_post("sendgrid", sg_type,
                           multipart_body({{"email", many_parts_mail(n)}, {"to", "support@acme.example"}},
                                          sg_boundary));
  }));
  add(channel_row("sendgrid", "field email: multiparts nested deep", expect::kept, [=](std::size_t n) {
    return basic_auth_post("sendgrid", sg_type,
                           multipart_body({{"email", nested_mail(n)}, {"to", "support@acme.example"}},
                                          sg_boundary));
  }));
  add(channel_row("sendgrid", "a boundary of 8000 dashes", expect::refused, [](std::size_t n) {
    // The Content-Type header (and its boundary) fits the server's 16 KiB header limit; the body
    // is lines of dashes a little longer than the closing delimiter, which every search for
    // that delimiter has to compare nearly whole.
    const std::string b(8000, '-');
    std::string body = fill("", std::string(b.size() + 3, '-') + "\r\n",
                            "--" + b + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nx\r\n--" + b + "--\r\n", n);
    return basic_auth_post("sendgrid", "multipart/form-data; boundary=\"" + b + "\"", std::move(body));
  }));
  add(channel_row("sendgrid", "parts nested deep", expect::refused, [=](std::size_t n) {
    const std::string head = fmt::format("--{}\r\nContent-Disposition: form-data; name=\"to\"\r\n"
                                         "Content-Type: multipart/mixed; boundary=\"n0\"\r\n\r\n",
                                         sg_boundary);
    return basic_auth_post("sendgrid", sg_type,
                           nested_multiparts(head, "n", n) + "--" + sg_boundary + "--\r\n");
  }));

  // ---- mailgun: urlencoded and multipart route posts, signed inside the body ----
  add(channel_row("mailgun", "urlencoded, thousands of fields", expect::read, [](std::size_t n) {
    pairs f{{"from", "Ann Lee <ann@example.com>"}, {"recipient", "support@acme.example"},
                 {"subject", "Worst case"}, {"body-plain", "hello"}};
    std::size_t total = 0;
    for (std::size_t i = 0; total < n; ++i) {
      f.emplace_back(fmt::format("X-Filler-{}", i), "value");
      total += 22;
    }
    mailgun_sign(f);
    return mailgun_post("application/x-www-form-urlencoded", fixtures::form_body(f));
  }));
  add(channel_row("mailgun", "urlencoded, message-headers of thousands", expect::read, [](std::size_t n) {
    const std::string headers = "[" + json_list([](std::size_t i) {
      return fmt::format(R"(["{}", "v=1; d=d{}.example; b=x"])", i % 2 ? "Received" : "DKIM-Signature", i);
    }, n) + "]";
    pairs f{{"from", "Ann Lee <ann@example.com>"}, {"recipient", "support@acme.example"},
                 {"body-plain", "hello"}, {"message-headers", headers}};
    mailgun_sign(f);
    return mailgun_post("application/x-www-form-urlencoded", fixtures::form_body(f));
  }));
  add(channel_row("mailgun", "urlencoded, body-html of unclosed <head>", expect::read, [](std::size_t n) {
    pairs f{{"from", "Ann Lee <ann@example.com>"}, {"recipient", "support@acme.example"},
                 {"body-html", unclosed_heads(n)}};
    mailgun_sign(f);
    return mailgun_post("application/x-www-form-urlencoded", fixtures::form_body(f));
  }));
  add(channel_row("mailgun", "multipart, thousands of fields", expect::refused, [](std::size_t n) {
    pairs f{{"from", "Ann Lee <ann@example.com>"}, {"recipient", "support@acme.example"}};
    mailgun_sign(f);
    std::size_t total = 0;
    for (std::size_t i = 0; total < n; ++i) {
      f.emplace_back(fmt::format("f{}", i), "v");
      total += 70;
    }
    return mailgun_post("multipart/form-data; boundary=mgb", multipart_body(f, "mgb"));
  }));
  add(channel_row("mailgun", "multipart, a boundary of 8000 dashes", expect::refused, [](std::size_t n) {
    const std::string b(8000, '-');
    pairs f{{"from", "Ann Lee <ann@example.com>"}};
    mailgun_sign(f);
    std::string body = fill("", std::string(b.size() + 3, '-') + "\r\n", multipart_body(f, b), n);
    return mailgun_post("multipart/form-data; boundary=\"" + b + "\"", std::move(body));
  }));
  add(channel_row("mailgun", "multipart, body-mime nested deep", expect::kept, [](std::size_t n) {
    pairs f{{"recipient", "support@acme.example"}, {"body-mime", nested_mail(n)}};
    mailgun_sign(f);
    return mailgun_post("multipart/form-data; boundary=mgb", multipart_body(f, "mgb"));
  }));

  // ---- postmark: JSON ----
  const auto postmark = [](std::string extra) {
    return basic_auth_post("postmark", "application/json",
                           R"({"From":"ann@example.com","FromFull":{"Email":"ann@example.com","Name":"Ann"},)"
                           R"("To":"support@acme.example","Subject":"Worst case","MessageID":"pm-1",)"
                           R"("Date":"Sun, 22 Nov 2026 10:00:00 +0000","TextBody":"hello",)" +
                               extra + "}");
  };
  add(channel_row("postmark", "thousands of Headers", expect::read, [=](std::size_t n) {
    return postmark(R"("Headers":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"Name":"{}","Value":"mx{}.example; dmarc=pass"}})",
                         i % 3 == 0 ? "Authentication-Results" : i % 3 == 1 ? "X-Spam-Tests" : "Received", i);
    }, n) + "]");
  }));
  add(channel_row("postmark", "thousands of ToFull and Attachments", expect::read, [=](std::size_t n) {
    return postmark(R"("ToFull":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"Email":"a{}@example.com","Name":"A {}"}})", i, i);
    }, n / 2) + R"(],"Attachments":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"Name":"f{}.txt","ContentType":"text/plain","Content":"aGVsbG8="}})", i);
    }, n / 2) + "]");
  }));
  add(channel_row("postmark", "HtmlBody of unclosed <head>", expect::read, [=](std::size_t n) {
    return basic_auth_post("postmark", "application/json",
                           R"({"From":"ann@example.com","To":"support@acme.example","HtmlBody":")" +
                               unclosed_heads(n) + R"("})");
  }));
  add(channel_row("postmark", "JSON nested deep", expect::refused, [](std::size_t n) {
    return basic_auth_post("postmark", "application/json",
                           R"({"Headers":)" + std::string(n / 2, '[') + std::string(n / 2, ']') + "}");
  }));

  // ---- twilio: urlencoded parameters ----
  add(channel_row("twilio", "thousands of parameters, 100 media", expect::read, [](std::size_t n) {
    pairs f;
    std::size_t total = 0;
    for (std::size_t i = 0; total < n; ++i) {
      f.emplace_back(fmt::format("P{}", i), "v");
      total += 10;
    }
    for (int i = 0; i < 100; ++i) {
      f.emplace_back(fmt::format("MediaUrl{}", i), fmt::format("https://api.twilio.com/m/{}", i));
      f.emplace_back(fmt::format("MediaContentType{}", i), "image/jpeg");
    }
    for (auto [k, v] : {std::pair{"MessageSid", "SM0123456789abcdef0123456789abcdef"},
                        std::pair{"From", "+15550102000"}, std::pair{"To", "+15550109999"},
                        std::pair{"Body", "hello"}, std::pair{"NumMedia", "100"},
                        std::pair{"SmsStatus", "received"}})
      f.emplace_back(k, v);
    return twilio_post(fixtures::form_body(f));
  }));
  add(channel_row("twilio", "one huge Body", expect::read, [](std::size_t n) {
    return twilio_post(fixtures::form_body({{"MessageSid", "SM0123456789abcdef0123456789abcdef"},
                                  {"From", "+15550102000"}, {"To", "+15550109999"},
                                  {"Body", fill("", "Hello, my invoice is wrong & I want a refund. ", "", n)}}));
  }));

  // ---- Meta: WhatsApp, Messenger, Instagram ----
  const auto wa_value = [](std::string contacts, std::string messages) {
    return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[)" +
           contacts + R"(],"messages":[)" + messages + "]}}]}]}";
  };
  add(channel_row("whatsapp", "thousands of messages and contacts", expect::read, [=](std::size_t n) {
    return meta_signed("whatsapp", wa_value(json_list([](std::size_t i) {
      return fmt::format(R"({{"profile":{{"name":"Customer {}"}},"wa_id":"3712{:07}"}})", i, i);
    }, n / 2), json_list([](std::size_t i) {
      return fmt::format(R"({{"from":"1555{:07}","id":"wamid.{}","timestamp":"1795341600","type":"text","text":{{"body":"hi"}}}})", i, i);
    }, n / 2)));
  }));
  add(channel_row("whatsapp", "thousands of entries", expect::read, [](std::size_t n) {
    return meta_signed("whatsapp", R"({"object":"whatsapp_business_account","entry":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"id":"102290129340398","changes":[{{"field":"messages","value":{{"metadata":{{"display_phone_number":"15550783881"}},"contacts":[{{"profile":{{"name":"C"}},"wa_id":"1555{:07}"}}],"messages":[{{"from":"1555{:07}","id":"wamid.{}","timestamp":"1795341600","type":"text","text":{{"body":"hi"}}}}]}}}}]}})", i, i, i);
    }, n) + "]}");
  }));
  add(channel_row("whatsapp", "one huge text", expect::read, [=](std::size_t n) {
    return meta_signed("whatsapp", wa_value("", R"({"from":"15550102000","id":"wamid.1","timestamp":"1795341600","type":"text","text":{"body":)" + json_text(n) + "}}"));
  }));
  add(channel_row("whatsapp", "a contacts message of thousands of cards", expect::read, [=](std::size_t n) {
    return meta_signed("whatsapp", wa_value("", R"({"from":"15550102000","id":"wamid.1","timestamp":"1795341600","type":"contacts","contacts":[)" +
                                                  json_list([](std::size_t i) {
                                                    return fmt::format(R"({{"name":{{"formatted_name":"Card {}"}},"phones":[{{"phone":"+1555{:07}"}}]}})", i, i);
                                                  }, n) + "]}"));
  }));
  for (const std::string type : {"messenger", "instagram"}) {
    const std::string object = type == "messenger" ? "page" : "instagram";
    const std::string account = type == "messenger" ? "104872915532871" : "17841405822304914";
    const auto batch = [=](std::string events) {
      return R"({"object":")" + object + R"(","entry":[{"id":")" + account +
             R"(","time":1795341601204,"messaging":[)" + events + "]}]}";
    };
    add(channel_row(type, "thousands of events", expect::read, [=](std::size_t n) {
      return meta_signed(type, batch(json_list([&](std::size_t i) {
        return fmt::format(R"({{"sender":{{"id":"70345{}"}},"recipient":{{"id":"{}"}},"timestamp":1795341600125,"message":{{"mid":"m_{}","text":"hi"}}}})", i, account, i);
      }, n)));
    }));
    add(channel_row(type, "thousands of entries", expect::read, [=](std::size_t n) {
      return meta_signed(type, R"({"object":")" + object + R"(","entry":[)" + json_list([&](std::size_t i) {
        return fmt::format(R"({{"id":"{}","time":1795341601204,"messaging":[{{"sender":{{"id":"70345{}"}},"recipient":{{"id":"{}"}},"timestamp":1795341600125,"message":{{"mid":"m_{}","text":"hi"}}}}]}})", account, i, account, i);
      }, n) + "]}");
    }));
    add(channel_row(type, "one huge text", expect::read, [=](std::size_t n) {
      return meta_signed(type, batch(R"({"sender":{"id":"7034519946284417"},"recipient":{"id":")" + account +
                                   R"("},"timestamp":1795341600125,"message":{"mid":"m_1","text":)" + json_text(n) + "}}"));
    }));
  }

  // ---- telegram ----
  const auto tg_message = [](std::string fields) {
    return R"({"update_id":732104519,"message":{"message_id":1187,"from":{"id":5512398841,"is_bot":false,"first_name":"Ann","language_code":"lv"},"chat":{"id":5512398841,"type":"private"},"date":1795341600,)" +
           fields + "}}";
  };
  add(channel_row("telegram", "text with thousands of entities", expect::read, [=](std::size_t n) {
    return telegram_post(tg_message(R"("text":)" + json_text(n / 4) + R"(,"entities":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"offset":{},"length":3,"type":"bold"}})", i);
    }, n * 3 / 4) + "]"));
  }));
  add(channel_row("telegram", "a photo of thousands of sizes", expect::read, [=](std::size_t n) {
    return telegram_post(tg_message(R"("caption":"look","photo":[)" + json_list([](std::size_t i) {
      return fmt::format(R"({{"file_id":"AgAC{}","file_unique_id":"u{}","width":{},"height":90,"file_size":1000}})", i, i, i % 5000);
    }, n) + "]"));
  }));

  // ---- x ----
  const std::string account = "1460987654321098752";
  add(channel_row("x", "thousands of direct messages and users", expect::read, [=](std::size_t n) {
    return x_post(R"({"for_user_id":")" + account + R"(","direct_message_events":[)" + json_list([&](std::size_t i) {
      return fmt::format(R"({{"type":"message_create","id":"18596{}","created_timestamp":"1795341600250","message_create":{{"target":{{"recipient_id":"{}"}},"sender_id":"300{}","message_data":{{"text":"hi &amp; bye"}}}}}})", i, account, i);
    }, n / 2) + R"(],"users":{)" + json_list([](std::size_t i) {
      return fmt::format(R"("300{}":{{"id":"300{}","name":"User {}","screen_name":"u{}"}})", i, i, i, i);
    }, n / 2) + "}}");
  }));
  add(channel_row("x", "a tweet of thousands of mentions", expect::read, [=](std::size_t n) {
    return x_post(R"({"for_user_id":")" + account + R"(","tweet_create_events":[{"id_str":"1","text":"@acme hi","timestamp_ms":"1795341600250","user":{"id_str":"3001","name":"Ann","screen_name":"ann"},"entities":{"user_mentions":[)" +
                  json_list([](std::size_t i) { return fmt::format(R"({{"id_str":"9{}"}})", i); }, n) +
                  R"(,{"id_str":")" + account + R"("}]}}]})");
  }));
  add(channel_row("x", "one huge text of entities", expect::read, [=](std::size_t n) {
    return x_post(R"({"for_user_id":")" + account + R"(","direct_message_events":[{"type":"message_create","id":"1","created_timestamp":"1795341600250","message_create":{"target":{"recipient_id":")" +
                  account + R"("},"sender_id":"3001","message_data":{"text":")" +
                  fill("", "&amp;&lt;&gt;&quot; ", "", n) + R"("}}}]})");
  }));

  // ---- chat, callback: Standard Webhooks JSON ----
  add(channel_row("chat", "one huge text", expect::read, [](std::size_t n) {
    return chat_post("chat", R"({"id":"m-1","visitor":{"id":"v-1"},"text":)" + json_text(n) + "}");
  }));
  add(channel_row("chat", "JSON nested deep", expect::refused, [](std::size_t n) {
    return chat_post("chat", R"({"id":"m-1","visitor":{"id":"v-1"},"x":)" +
                                              std::string(n / 2, '[') + std::string(n / 2, ']') + "}");
  }));
  add(channel_row("chat", "an object of thousands of keys", expect::read, [](std::size_t n) {
    return chat_post("chat", R"({"id":"m-1","visitor":{"id":"v-1"},"text":"hi",)" +
                                              json_list([](std::size_t i) { return fmt::format(R"("k{}":{})", i, i); }, n) + "}");
  }));
  add(channel_row("callback", "one huge transcript", expect::read, [](std::size_t n) {
    return chat_post("callback", R"({"id":"cb-1","phone":"+15550102000","transcript":)" + json_text(n) + "}");
  }));
  return out;
}

// ---- running and printing -----------------------------------------------------------------

struct timing {
  double ms = -1;  // -1: not run
  outcome last;
};

timing measure(const call& c) {
  timing t;
  for (int i = 0; i < RUNS; ++i) {
    const auto start = std::chrono::steady_clock::now();
    outcome o = c();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (t.ms < 0 || ms < t.ms) t.ms = ms;
    t.last = std::move(o);
    if (ms > GIVE_UP_MS / RUNS) break;  // slow enough that one call says it
  }
  return t;
}

std::string ms_text(double ms) {
  if (ms < 0) return "-";
  if (ms < 10) return fmt::format("{:.2f}", ms);
  if (ms < 100) return fmt::format("{:.1f}", ms);
  return fmt::format("{:.0f}", ms);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  fmt::print("worst-case inputs: best of {} calls, ms; SLOW over {} ms at 1 MiB, NONLINEAR when "
             "t(4 MiB)/t(1 MiB) > {} (with t(4 MiB) >= {} ms)\n",
             RUNS, MAX_MS_AT_1MIB, MAX_GROWTH, MIN_JUDGED_MS);
  fmt::print("| parser | input | 256 KiB | 1 MiB | 4 MiB | 4M/1M | verdict | outcome (1 MiB) |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---|---|\n");
  std::fflush(stdout);
  int failed = 0;
  for (const row& r : rows()) {
    if (!filter.empty() && r.parser.find(filter) == std::string::npos &&
        r.input.find(filter) == std::string::npos)
      continue;
    timing t[3];
    bool wrong = false;
    std::string wrong_text;
    for (int s = 0; s < 3; ++s) {
      if (s > 0 && t[s - 1].ms > GIVE_UP_MS) break;
      t[s] = measure(r.build(sizes[s]));
      if (!t[s].last.expected) {
        wrong = true;
        wrong_text = t[s].last.text;
      }
    }
    const bool slow = t[1].ms < 0 || t[1].ms > MAX_MS_AT_1MIB;
    const double growth = t[1].ms > 0 && t[2].ms >= 0 ? t[2].ms / t[1].ms : -1;
    const bool nonlinear = growth > MAX_GROWTH && t[2].ms >= MIN_JUDGED_MS;
    std::vector<std::string> verdict;
    if (wrong) verdict.push_back("WRONG");
    if (slow) verdict.push_back("SLOW");
    if (nonlinear) verdict.push_back("NONLINEAR");
    if (verdict.empty()) verdict.push_back("ok");
    else ++failed;
    std::string text = wrong ? "unexpected: " + wrong_text : (t[1].ms >= 0 ? t[1].last.text : t[0].last.text);
    if (text.size() > 90) text = text.substr(0, 87) + "...";
    std::string joined;
    for (const auto& v : verdict) joined += (joined.empty() ? "" : ", ") + v;
    fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r.parser, r.input, ms_text(t[0].ms),
               ms_text(t[1].ms), ms_text(t[2].ms), growth < 0 ? "-" : fmt::format("{:.1f}", growth),
               joined, text);
    std::fflush(stdout);
  }
  fmt::print("{} row(s) not ok\n", failed);
  return failed == 0 ? 0 : 1;
}
