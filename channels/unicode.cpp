#include "channels/unicode.hpp"

#include "core/ascii.hpp"

#include <idn2.h>
#include <utf8proc.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace sb {
namespace {

struct free_deleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
template <class T>
using malloced = std::unique_ptr<T, free_deleter>;

const utf8proc_uint8_t* bytes(std::string_view s) noexcept {
  return reinterpret_cast<const utf8proc_uint8_t*>(s.data());
}

// Default-ignorable code points a display name keeps: they change how it looks.
bool shapes_text(utf8proc_int32_t c) noexcept {
  return c == 0x200C || c == 0x200D || (c >= 0xFE00 && c <= 0xFE0F) ||
         (c >= 0xE0100 && c <= 0xE01EF);
}

// Calls f(code point, its bytes) for each code point; false at the first invalid byte.
template <class F>
bool each_code_point(std::string_view s, F&& f) {
  while (!s.empty()) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n =
        utf8proc_iterate(bytes(s), static_cast<utf8proc_ssize_t>(s.size()), &c);
    if (n <= 0 || c < 0) return false;
    f(c, s.substr(0, static_cast<std::size_t>(n)));
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<std::string> to_nfc(std::string_view utf8) {
  if (is_ascii(utf8)) return std::string(utf8);  // ASCII is its own NFC
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(bytes(utf8), static_cast<utf8proc_ssize_t>(utf8.size()), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  const malloced<utf8proc_uint8_t> owned(out);
  if (n < 0 || out == nullptr) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

bool has_invisible(std::string_view utf8) {
  if (is_ascii(utf8)) return false;
  bool found = false;
  const bool valid = each_code_point(utf8, [&found](utf8proc_int32_t c, std::string_view) {
    found = found || utf8proc_get_property(c)->ignorable;
  });
  return found || !valid;
}

std::string display_name(std::string_view utf8) {
  if (is_ascii(utf8)) return std::string(utf8);
  std::string visible;
  visible.reserve(utf8.size());
  const bool valid = each_code_point(utf8, [&visible](utf8proc_int32_t c, std::string_view b) {
    if (!utf8proc_get_property(c)->ignorable || shapes_text(c)) visible += b;
  });
  if (!valid) return std::string(utf8);
  return to_nfc(visible).value_or(visible);
}

std::optional<std::string> idna_domain(std::string_view domain) {
  // libidn2's STD3 rules drop what they do not allow rather than refuse it ("a_b.com" became
  // "ab.com", "exa mple.com" "example.com"): ASCII other than letters, digits, "-" and "."
  // is refused here first.
  for (const char c : domain) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !(std::isalnum(u) || c == '-' || c == '.')) return std::nullopt;
  }
  const std::string in(domain);  // libidn2 takes NUL-terminated strings
  char* ascii = nullptr;
  if (idn2_to_ascii_8z(in.c_str(), &ascii,
                       IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES) !=
      IDN2_OK)
    return std::nullopt;
  const malloced<char> owned_ascii(ascii);
  char* unicode = nullptr;
  if (idn2_to_unicode_8z8z(ascii, &unicode, 0) != IDN2_OK) return std::nullopt;
  const malloced<char> owned_unicode(unicode);
  return std::string(unicode);
}

}  // namespace sb
