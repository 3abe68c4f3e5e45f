// ASCII case-insensitive comparisons for protocol tokens (header and field names, media types,
// schemes). boost::algorithm::iequals goes through std::locale for every character (a
// use_facet and a dynamic_cast each): in a loop over the thousands of fields a hostile request
// can carry, that was most of the time spent (bench/worst_case.sh). Bytes outside A-Z compare
// as they are, which is what the "C" locale did.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sb {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

// True when every byte is below 0x80.
constexpr bool is_ascii(std::string_view s) noexcept {
  for (const char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// `s` with A-Z lowered.
inline std::string ascii_lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// `s` without the leading and trailing characters of `space` (spaces, tabs, CR, LF).
constexpr std::string_view ascii_trim(std::string_view s,
                                      std::string_view space = " \t\r\n") noexcept {
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

constexpr bool ascii_istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && ascii_iequals(s.substr(0, prefix.size()), prefix);
}

constexpr bool ascii_iends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && ascii_iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace sb
