#include "channels/email/auth.hpp"

#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace sb::email {
namespace {

// RFC 5322 comments "(...)", nested, left out; a quoted string kept as it is.
std::string without_comments(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      if (depth == 0) {
        out += c;
        out += s[i + 1];
      }
      ++i;
      continue;
    }
    if (quoted) {
      if (c == '"') quoted = false;
      out += c;
      continue;
    }
    if (c == '(') {
      ++depth;
      continue;
    }
    if (c == ')' && depth > 0) {
      --depth;
      continue;
    }
    if (depth > 0) continue;
    if (c == '"') quoted = true;
    out += c;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find(sep, start), s.size());
    out.push_back(ascii_trim(s.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

// "d=example.com" → "example.com" among a DKIM-Signature's tags.
std::string dkim_signing_domain(std::string_view signature) {
  for (std::string_view tag : split(signature, ';')) {
    const auto eq = tag.find('=');
    if (eq == std::string_view::npos) continue;
    if (ascii_trim(tag.substr(0, eq)) == "d") return ascii_lowered(ascii_trim(tag.substr(eq + 1)));
  }
  return {};
}

// The domain of "user@example.com", "@example.com" or "example.com".
std::string domain_of(std::string_view s) {
  s = ascii_trim(s);
  if (const auto at = s.rfind('@'); at != std::string_view::npos) s = s.substr(at + 1);
  while (!s.empty() && (s.back() == '.' || s.back() == '>')) s.remove_suffix(1);
  return ascii_lowered(s);
}

bool is_fail(const std::optional<std::string>& r) {
  return r && (*r == "fail" || *r == "softfail" || *r == "hardfail");
}

}  // namespace

std::string_view name_of(auth_verdict v) noexcept {
  switch (v) {
    case auth_verdict::pass:
      return "pass";
    case auth_verdict::fail:
      return "fail";
    case auth_verdict::none:
      break;
  }
  return "none";
}

bool aligned(std::string_view signing_domain, std::string_view from_domain) noexcept {
  if (signing_domain.empty() || from_domain.empty()) return false;
  const auto child_of = [](std::string_view child, std::string_view parent) {
    return child.size() > parent.size() + 1 && child[child.size() - parent.size() - 1] == '.' &&
           ascii_iends_with(child, parent) &&
           parent.find('.') != std::string_view::npos;  // never a bare TLD
  };
  return ascii_iequals(signing_domain, from_domain) || child_of(from_domain, signing_domain) ||
         child_of(signing_domain, from_domain);
}

sender_auth verdict_for(const auth_evidence& e, std::string_view from_domain) {
  const std::string source = e.source.empty() ? std::string() : " (" + e.source + ")";
  // A DMARC result is about the domain it names (header.from): another domain's pass says
  // nothing of this From.
  const bool dmarc_here = e.dmarc_domain.empty() || ascii_iequals(e.dmarc_domain, from_domain);
  if (dmarc_here && e.dmarc == "pass") return {auth_verdict::pass, "dmarc=pass" + source};
  if (dmarc_here && e.dmarc == "fail") return {auth_verdict::fail, "dmarc=fail" + source};
  if (e.dkim_from_domain_valid)
    return {auth_verdict::pass, fmt::format("dkim=pass header.d={}{}", from_domain, source)};
  for (const auto& [domain, result] : e.dkim)
    if (result == "pass" && aligned(domain, from_domain))
      return {auth_verdict::pass, fmt::format("dkim=pass header.d={}{}", domain, source)};
  for (const auto& [domain, result] : e.dkim)
    if (result == "fail" && aligned(domain, from_domain) && is_fail(e.spf))
      return {auth_verdict::fail,
              fmt::format("dkim=fail header.d={} spf={}{}", domain, *e.spf, source)};
  return {auth_verdict::none, {}};
}

std::vector<std::string> trusted_authserv_ids(std::string_view option) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : option) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!current.empty()) out.push_back(ascii_lowered(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(ascii_lowered(current));
  return out;
}

std::optional<auth_evidence> from_authentication_results(header_list headers,
                                                         std::span<const std::string> trusted) {
  if (trusted.empty()) return std::nullopt;
  for (const auto& [name, value] : headers) {
    if (!ascii_iequals(name, "Authentication-Results")) continue;
    const std::string text = without_comments(value);
    const auto parts = split(text, ';');
    // authserv-id [version]
    const std::string_view first = parts.front();
    const std::string id = ascii_lowered(first.substr(0, first.find_first_of(" \t")));
    if (std::find(trusted.begin(), trusted.end(), id) == trusted.end()) continue;
    auth_evidence e;
    e.source = id;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      // method=result ptype.property=value ...
      std::vector<std::string_view> words;
      std::string_view rest = parts[i];
      while (!rest.empty()) {
        const auto end = rest.find_first_of(" \t");
        words.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest = ascii_trim(rest.substr(end));
      }
      if (words.empty()) continue;
      const auto eq = words[0].find('=');
      if (eq == std::string_view::npos) continue;
      const std::string method = ascii_lowered(words[0].substr(0, eq));
      const std::string result = ascii_lowered(words[0].substr(eq + 1));
      std::string domain;
      std::string from;
      for (std::size_t w = 1; w < words.size(); ++w) {
        const auto peq = words[w].find('=');
        if (peq == std::string_view::npos) continue;
        const std::string prop = ascii_lowered(words[w].substr(0, peq));
        if (prop == "header.d" || (prop == "header.i" && domain.empty()))
          domain = domain_of(words[w].substr(peq + 1));
        if (prop == "header.from") from = domain_of(words[w].substr(peq + 1));
      }
      if (method == "dmarc" && !e.dmarc) {
        e.dmarc = result;
        e.dmarc_domain = from;
      }
      if (method == "spf" && !e.spf) e.spf = result;
      if (method == "dkim" && !domain.empty()) e.dkim.emplace_back(domain, result);
    }
    return e;  // the topmost trusted header only
  }
  return std::nullopt;
}

std::optional<auth_evidence> from_mailgun(header_list message_headers) {
  auth_evidence e;
  e.source = "Mailgun";
  std::optional<std::string> dkim_result;
  std::vector<std::string> signing_domains;
  bool below_received = false;
  for (const auto& [name, value] : message_headers) {
    if (ascii_iequals(name, "Received")) below_received = true;
    if (ascii_iequals(name, "DKIM-Signature")) {
      signing_domains.push_back(dkim_signing_domain(value));
      continue;
    }
    if (below_received) continue;  // the mail's own headers: anyone could have written these
    if (ascii_iequals(name, "X-Mailgun-Dkim-Check-Result"))
      dkim_result = ascii_lowered(ascii_trim(value));
    else if (ascii_iequals(name, "X-Mailgun-Spf"))
      e.spf = ascii_lowered(ascii_trim(value));
  }
  if (dkim_result && signing_domains.size() == 1 && !signing_domains.front().empty())
    e.dkim.emplace_back(signing_domains.front(), *dkim_result);
  if (e.dkim.empty() && !e.spf) return std::nullopt;
  return e;
}

std::optional<auth_evidence> from_sendgrid(std::string_view spf, std::string_view dkim) {
  auth_evidence e;
  e.source = "SendGrid";
  if (!ascii_trim(spf).empty()) e.spf = ascii_lowered(ascii_trim(spf));
  std::string_view list = ascii_trim(dkim);
  if (list.starts_with('{') && list.ends_with('}')) list = list.substr(1, list.size() - 2);
  for (std::string_view entry : split(list, ',')) {
    const auto colon = entry.rfind(':');
    if (colon == std::string_view::npos) continue;
    const std::string domain = domain_of(entry.substr(0, colon));
    std::string result = ascii_lowered(ascii_trim(entry.substr(colon + 1)));
    // A result word, possibly followed by noise (SendGrid has leaked Perl errors into it).
    result = result.substr(0, result.find_first_of(" \t("));
    if (!domain.empty() && !result.empty()) e.dkim.emplace_back(domain, result);
  }
  if (e.dkim.empty() && !e.spf) return std::nullopt;
  return e;
}

std::optional<auth_evidence> from_postmark(header_list headers) {
  auth_evidence e;
  e.source = "Postmark";
  bool found = false;
  for (const auto& [name, value] : headers) {
    // Postmark's headers come first; the mail's own start with its first "Received: from".
    if (ascii_iequals(name, "Received") && ascii_istarts_with(ascii_trim(value), "from ")) break;
    if (ascii_iequals(name, "X-Spam-Tests")) {
      found = true;
      for (std::string_view test : split(value, ','))
        if (test == "DKIM_VALID_AU") e.dkim_from_domain_valid = true;
    } else if (ascii_iequals(name, "Received-SPF") && !e.spf) {
      found = true;
      const std::string_view v = ascii_trim(value);
      e.spf = ascii_lowered(v.substr(0, v.find_first_of(" \t(")));
    }
  }
  if (!found) return std::nullopt;
  return e;
}

}  // namespace sb::email
