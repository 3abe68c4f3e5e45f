#include "channels/normalize.hpp"

#include "channels/unicode.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace sb {
namespace {

// Trunk prefixes as dialled today. Where national numbers have none (IT keeps its 0 as part of
// the number; ES, PL, DK, NO, LV, EE dial the bare number) the field is empty. NANP's "1" is
// its long-distance prefix, dropped the same way. LT is moving from 8 to 0: both are accepted.
// Limits: Brazil's carrier codes after the 0 and Mexico's pre-2019 prefixes are not understood;
// such numbers must be sent in international form.
constexpr std::array<country_info, 52> countries{{
    {"AE", "971", "0", "", ""},  {"AT", "43", "0", "", ""},    {"AU", "61", "0", "", "0011"},
    {"BE", "32", "0", "", ""},   {"BG", "359", "0", "", ""},   {"BR", "55", "0", "", ""},
    {"CA", "1", "1", "", "011"}, {"CH", "41", "0", "", ""},    {"CN", "86", "0", "", ""},
    {"CY", "357", "", "", ""},   {"CZ", "420", "", "", ""},    {"DE", "49", "0", "", ""},
    {"DK", "45", "", "", ""},    {"EE", "372", "", "", ""},    {"EG", "20", "0", "", ""},
    {"ES", "34", "", "", ""},    {"FI", "358", "0", "", ""},   {"FR", "33", "0", "", ""},
    {"GB", "44", "0", "", ""},   {"GR", "30", "", "", ""},     {"HK", "852", "", "", ""},
    {"HR", "385", "0", "", ""},  {"HU", "36", "06", "", ""},   {"IE", "353", "0", "", ""},
    {"IL", "972", "0", "", ""},  {"IN", "91", "0", "", ""},    {"IS", "354", "", "", ""},
    {"IT", "39", "", "", ""},    {"JP", "81", "0", "", "010"}, {"KR", "82", "0", "", ""},
    {"LT", "370", "8", "0", ""}, {"LU", "352", "", "", ""},    {"LV", "371", "", "", ""},
    {"MT", "356", "", "", ""},   {"MX", "52", "", "", ""},     {"NG", "234", "0", "", ""},
    {"NL", "31", "0", "", ""},   {"NO", "47", "", "", ""},     {"NZ", "64", "0", "", ""},
    {"PH", "63", "0", "", ""},   {"PL", "48", "", "", ""},     {"PT", "351", "", "", ""},
    {"RO", "40", "0", "", ""},   {"RS", "381", "0", "", ""},   {"SE", "46", "0", "", ""},
    {"SG", "65", "", "", ""},    {"SI", "386", "0", "", ""},   {"SK", "421", "0", "", ""},
    {"TR", "90", "0", "", ""},   {"UA", "380", "0", "", ""},   {"US", "1", "1", "", "011"},
    {"ZA", "27", "0", "", ""},
}};

// A short initializer list would leave value-initialized rows with an empty code.
static_assert(std::all_of(countries.begin(), countries.end(), [](const country_info& c) {
  return c.iso2.size() == 2 && !c.calling_code.empty();
}));

constexpr std::size_t max_email_bytes = 254;  // RFC 5321 path limit minus the angle brackets
constexpr std::size_t max_local_bytes = 64;
constexpr std::size_t max_phone_input = 64;  // longer than any number with generous spacing
constexpr std::size_t min_e164_digits = 8;
constexpr std::size_t max_e164_digits = 15;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) noexcept { return ascii_trim(s, " \t\r\n\f\v"); }

// Controls, space, DEL and the RFC 5322 specials that only appear in quoted or display forms.
bool forbidden_in_email(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) return true;
  return std::string_view{"()<>[]:;,\\\""}.find(c) != std::string_view::npos;
}

bool valid_local_part(std::string_view local) noexcept {
  return !local.empty() && local.size() <= max_local_bytes && local.front() != '.' &&
         local.back() != '.' && local.find("..") == std::string_view::npos;
}

// Host names: letters, digits, "-" inside labels; bytes >= 0x80 let UTF-8 IDNs through as typed.
bool valid_domain(std::string_view domain) noexcept {
  std::size_t labels = 0;
  while (true) {
    const auto dot = domain.find('.');
    const std::string_view label = domain.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      const bool ok =
          u >= 0x80 || is_digit(c) || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!ok) return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return labels >= 2;
}

bool is_phone_separator(char c) noexcept {
  return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

// "+44 (0)20 ..." marks a trunk 0 that is not dialled from abroad: drop it as a unit, before
// the parentheses become plain separators and the 0 a digit.
std::string without_trunk_hint(std::string_view s) {
  std::string out(s);
  for (auto pos = out.find("(0)"); pos != std::string::npos; pos = out.find("(0)", pos))
    out.erase(pos, 3);
  return out;
}

struct dialled {
  bool plus = false;
  std::string digits;
};

// Keeps a leading "+" and the digits; any other character makes the input not a phone number.
std::optional<dialled> phone_digits(std::string_view s) {
  dialled out;
  if (!s.empty() && s.front() == '+') {
    out.plus = true;
    s.remove_prefix(1);
  }
  for (char c : s) {
    if (is_digit(c)) {
      out.digits += c;
    } else if (!is_phone_separator(c)) {
      return std::nullopt;
    }
  }
  return out;
}

bool strip_prefix(std::string& digits, std::string_view prefix) {
  if (prefix.empty() || !std::string_view{digits}.starts_with(prefix)) return false;
  digits.erase(0, prefix.size());
  return true;
}

// The digits after "+" for a number dialled without one, or nullopt when that needs a
// default country and there is none.
std::optional<std::string> international_digits(std::string digits, const country_info* country) {
  if (country != nullptr && strip_prefix(digits, country->intl_prefix)) return digits;
  if (strip_prefix(digits, "00")) return digits;
  if (country == nullptr) return std::nullopt;
  if (!strip_prefix(digits, country->trunk_prefix)) strip_prefix(digits, country->alt_trunk_prefix);
  return std::string(country->calling_code) + digits;
}

bool valid_e164_digits(std::string_view digits) noexcept {
  return digits.size() >= min_e164_digits && digits.size() <= max_e164_digits &&
         digits.front() != '0' && std::all_of(digits.begin(), digits.end(), is_digit);
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view raw) {
  const std::string_view addr = trim(raw);
  if (addr.empty() || addr.size() > max_email_bytes) return std::nullopt;
  if (std::any_of(addr.begin(), addr.end(), forbidden_in_email)) return std::nullopt;
  const auto at = addr.find('@');
  if (at == std::string_view::npos || addr.find('@', at + 1) != std::string_view::npos)
    return std::nullopt;
  // Invisible characters make an address that reads as another's; invalid UTF-8 is no address.
  if (has_invisible(addr)) return std::nullopt;
  std::optional<std::string> local = to_nfc(addr.substr(0, at));
  if (!local || !valid_local_part(*local)) return std::nullopt;
  std::transform(local->begin(), local->end(), local->begin(), ascii_lower);
  std::string domain(addr.substr(at + 1));
  // An internationalized domain (in Unicode or as A-labels, "xn--") is written one way: its
  // UTS #46 form in Unicode, lower case. An ASCII one only needs lower case.
  std::transform(domain.begin(), domain.end(), domain.begin(), ascii_lower);
  if (!is_ascii(domain) || domain.starts_with("xn--") ||
      domain.find(".xn--") != std::string::npos) {
    auto idn = idna_domain(domain);
    if (!idn) return std::nullopt;
    domain = std::move(*idn);
  }
  if (!valid_domain(domain)) return std::nullopt;
  return *local + '@' + domain;
}

std::span<const country_info> supported_countries() noexcept { return countries; }

const country_info* find_country(std::string_view iso2) noexcept {
  if (iso2.size() != 2) return nullptr;
  for (const auto& c : countries)
    if (ascii_lower(c.iso2[0]) == ascii_lower(iso2[0]) &&
        ascii_lower(c.iso2[1]) == ascii_lower(iso2[1]))
      return &c;
  return nullptr;
}

result<std::string> default_country_option(const channel_config& cfg) {
  const auto it = cfg.options.find("default_country");
  if (it == cfg.options.end() || it->second.empty()) return std::string{};
  if (const country_info* c = find_country(it->second)) return std::string(c->iso2);
  std::string supported;
  for (const auto& c : supported_countries()) {
    if (!supported.empty()) supported += ' ';
    supported += c.iso2;
  }
  return error{errc::malformed,
               fmt::format("default_country \"{}\" is not a supported ISO 3166-1 alpha-2 code "
                           "(supported: {})",
                           it->second, supported)};
}

std::optional<std::string> normalize_phone(std::string_view raw, std::string_view default_country) {
  const std::string_view trimmed = trim(raw);
  if (trimmed.empty() || trimmed.size() > max_phone_input) return std::nullopt;
  const auto number = phone_digits(without_trunk_hint(trimmed));
  if (!number) return std::nullopt;
  const country_info* country = default_country.empty() ? nullptr : find_country(default_country);
  std::optional<std::string> digits =
      number->plus ? number->digits : international_digits(number->digits, country);
  if (!digits || !valid_e164_digits(*digits)) return std::nullopt;
  return "+" + *digits;
}

bool has_control_character(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

error check_keys(const inbound_message& m) {
  if (has_control_character(m.provider_id))
    return {errc::malformed, "the message id contains a control character"};
  for (const identity& id : m.identities) {
    if (has_control_character(id.value))
      return {errc::malformed,
              fmt::format("the sender's {} id contains a control character", id.type)};
    if (has_invisible(id.value))
      return {errc::malformed,
              fmt::format("the sender's {} id contains an invisible character (zero-width or "
                          "bidi control) or is not valid UTF-8",
                          id.type)};
  }
  return {};
}

error check_keys(std::span<const inbound_message> messages) {
  for (const inbound_message& m : messages)
    if (error e = check_keys(m); e.code != errc::ok) return e;
  return {};
}

}  // namespace sb
