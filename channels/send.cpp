#include "channels/send.hpp"

#include "core/ascii.hpp"

#include <fmt/core.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace sb {

std::string_view http_response::header(std::string_view lower_name) const noexcept {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

send_outcome classify_status(const http_response& r, std::string reason) {
  send_outcome out;
  if (r.status >= 200 && r.status < 300) {
    out.what = send_outcome::kind::sent;
    return out;
  }
  if (reason.empty()) {
    std::string start = r.body.substr(0, 200);
    for (char& c : start)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    reason = start.empty() ? fmt::format("HTTP {}", r.status)
                           : fmt::format("HTTP {}: {}", r.status, start);
  }
  out.reason = std::move(reason);
  const bool transient = r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
  out.what = transient ? send_outcome::kind::retry : send_outcome::kind::failed;
  return out;
}

coded_answer read_coded_answer(const http_response& r, std::string_view code_key,
                               std::string_view message_key,
                               std::span<const std::int64_t> transient) {
  coded_answer a;
  boost::system::error_code ec;
  a.body = boost::json::parse(r.body, ec);
  if (ec) a.body = nullptr;
  const auto* o = a.body.if_object();
  const auto* code = o ? o->if_contains(code_key) : nullptr;
  a.code = code && code->is_int64() ? code->as_int64() : 0;
  const auto message = o ? string_at(*o, message_key) : std::string_view();
  a.outcome =
      classify_status(r, message.empty() ? std::string() : fmt::format("({}) {}", a.code, message));
  if (a.outcome.what == send_outcome::kind::failed &&
      std::find(transient.begin(), transient.end(), a.code) != transient.end())
    a.outcome.what = send_outcome::kind::retry;
  return a;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v, millis now) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc() && end == v.data() + v.size())
    return seconds >= 0 ? std::optional(std::chrono::seconds(seconds)) : std::nullopt;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const std::string text(v);
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  const std::int64_t at = timegm(&tm);
  const std::int64_t wait = at - now / 1000;
  return std::chrono::seconds(wait > 0 ? wait : 0);
}

std::string text_with_links(const boost::json::object& reply) {
  std::string text(string_at(reply, "text"));
  if (const auto* a = reply.if_contains("attachments"); a && a->is_array())
    for (const auto& att : a->get_array()) {
      if (!att.is_object()) continue;
      const auto url = string_at(att.get_object(), "url");
      if (url.empty()) continue;
      if (!text.empty()) text += '\n';
      text += url;
    }
  return text;
}

result<std::string> reply_text(const boost::json::object& reply, std::size_t max_chars,
                               std::string_view provider) {
  std::string text = text_with_links(reply);
  if (const std::size_t n = utf8_length(text); n > max_chars)
    return error{errc::undeliverable, fmt::format("the text is {} characters; {} takes at most {}",
                                                  n, provider, max_chars)};
  return text;
}

std::string_view outbound_or(const channel_config& cfg, std::string_view key,
                             std::string_view fallback) {
  if (!cfg.outbound) return fallback;
  const auto it = cfg.outbound->find(key);
  return it != cfg.outbound->end() ? std::string_view(it->second) : fallback;
}

std::size_t utf8_length(std::string_view text) noexcept {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string_view string_at(const boost::json::object& o, std::string_view path) {
  const boost::json::object* at = &o;
  while (true) {
    const auto dot = path.find('.');
    const auto key = path.substr(0, dot);
    const auto* v = at->if_contains(key);
    if (v == nullptr) return {};
    if (dot == std::string_view::npos)
      return v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    if (!v->is_object()) return {};
    at = &v->get_object();
    path.remove_prefix(dot + 1);
  }
}

}  // namespace sb
