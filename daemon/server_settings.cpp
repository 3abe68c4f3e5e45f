#include "daemon/server_settings.hpp"

#include "core/config_reader.hpp"
#include "routing/settings.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace sb {
namespace {

using std::chrono::milliseconds;

// Read API tokens guard every customer's thread: at least this long.
constexpr std::size_t min_api_token_chars = 16;

bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < 1 || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

// "host:port": a dotted IPv4 address or a bracketed IPv6 one. Host names are refused: the
// server binds one address and must not depend on a resolver at startup.
std::optional<std::string> parse_listen(std::string_view s, server_config& out) {
  std::string host;
  std::string_view port;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return "expected [IPv6]:port, e.g. [::1]:8080";
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      return fmt::format("\"{}\" is not an IPv6 address", host);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return "expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080";
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return "write IPv6 addresses in brackets, e.g. [::1]:8080";
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1)
      return fmt::format(
          "\"{}\" is not an IPv4 address (host names are not resolved; "
          "use e.g. 127.0.0.1 or 0.0.0.0)",
          host);
  }
  std::uint16_t p = 0;
  if (!parse_port(port, p))
    return fmt::format("port \"{}\" must be a number between 1 and 65535", port);
  out.host = std::move(host);
  out.port = p;
  return std::nullopt;
}

void parse_rate_limit(conf::reader& rd, const conf::field& f, rate_limit_config& r) {
  conf::mapping m(rd.diag(), f);
  if (!m.ok()) return;
  const auto rate = [&](const char* key, std::uint32_t& out) {
    if (auto v = m.take(key))
      if (auto n = rd.integer(*v, 0, 1'000'000)) out = static_cast<std::uint32_t>(*n);
  };
  rate("per_client", r.per_client);
  rate("per_client_burst", r.per_client_burst);
  rate("per_channel", r.per_channel);
  rate("per_channel_burst", r.per_channel_burst);
  rate("refused_per_client", r.refused_per_client);
  rate("refused_per_client_burst", r.refused_per_client_burst);
  rate("reads_per_client", r.reads_per_client);
  rate("reads_per_client_burst", r.reads_per_client_burst);
  if (auto v = m.take("trust_forwarded_for"))
    if (auto b = rd.boolean(*v)) r.trust_forwarded_for = *b;
  m.finish();
}

}  // namespace

void parse_server_config(conf::reader& rd, const conf::field& f, server_config& s) {
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("listen"))
    if (auto text = rd.text(*v))
      if (auto problem = parse_listen(*text, s)) rd.error(*v, *problem);
  if (auto v = m.take("threads"))
    if (auto n = rd.integer(*v, 0, 1024)) s.threads = static_cast<unsigned>(*n);
  if (auto v = m.take("max_body_bytes"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.max_body_bytes = *n;
  if (auto v = m.take("max_header_bytes"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max()))
      s.max_header_bytes = *n;
  if (auto v = m.take("max_connections"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.max_connections = *n;
  if (auto v = m.take("read_timeout"))
    if (auto d = rd.duration(*v, milliseconds{1})) s.read_timeout = *d;
  if (auto v = m.take("api_tokens_file"))
    if (auto text = rd.non_empty_text(*v)) {
      // One token a line, like a secret file; read at load so a reload picks up changes.
      std::string problem;
      if (auto tokens = conf::read_secret_file(*text, problem)) {
        // A short token can be guessed over the network; the token itself is never echoed.
        for (std::size_t i = 0; i < tokens->size(); ++i)
          if ((*tokens)[i].size() < min_api_token_chars)
            rd.error(*v, fmt::format("\"{}\": token {} of {} is too short ({} characters; "
                                     "at least {}: openssl rand -hex 32 makes one)",
                                     *text, i + 1, tokens->size(), (*tokens)[i].size(),
                                     min_api_token_chars));
        s.api_tokens = secret_set(*tokens);
      } else {
        rd.error(*v, problem);
      }
      s.api_tokens_file = std::move(*text);
    }
  if (auto v = m.take("blocklist_file"))
    if (auto path = rd.non_empty_text(*v)) {
      s.blocklist = read_identity_list(rd, *v, *path);
      s.blocklist_file = std::move(*path);
    }
  if (auto v = m.take("rate_limit")) parse_rate_limit(rd, *v, s.rate_limit);
  m.finish();
}

}  // namespace sb
