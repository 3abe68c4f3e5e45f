#include "core/ascii.hpp"

#include <doctest/doctest.h>

using namespace sb;

TEST_CASE("ASCII case-insensitive comparisons") {
  CHECK(ascii_iequals("Content-Type", "content-TYPE"));
  CHECK(ascii_iequals("", ""));
  CHECK_FALSE(ascii_iequals("Content-Type", "Content-Typ"));
  CHECK_FALSE(ascii_iequals("a", "b"));
  // Bytes outside A-Z are compared as they are, as the "C" locale does.
  CHECK(ascii_iequals("\xc4\x81-x", "\xc4\x81-X"));
  CHECK_FALSE(ascii_iequals("\xc4\x81", "\xc4\x80"));
  CHECK_FALSE(ascii_iequals("[", "{"));  // 0x5B and 0x7B differ by 32 but are not letters
  CHECK(ascii_istarts_with("Received: from x", "RECEIVED"));
  CHECK_FALSE(ascii_istarts_with("Rec", "Received"));
  CHECK(ascii_iends_with("mail.Example.COM", "example.com"));
  CHECK_FALSE(ascii_iends_with("com", "example.com"));
  static_assert(ascii_lower('Q') == 'q' && ascii_lower('q') == 'q' && ascii_lower('@') == '@');
}

TEST_CASE("ASCII trimming, lowering and the ASCII test") {
  CHECK(ascii_trim(" \t value \r\n") == "value");
  CHECK(ascii_trim(" \r\n\t").empty());
  CHECK(ascii_trim("\fx\v", " \t\r\n\f\v") == "x");
  CHECK(ascii_trim("\fx") == "\fx");  // form feed is not in the default set
  CHECK(ascii_lowered("DKIM=Pass \xc3\x84") == "dkim=pass \xc3\x84");
  CHECK(is_ascii("plain text\x7f"));
  CHECK_FALSE(is_ascii("J\xc4\x81nis"));
}
