#include "channels/unicode.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sb;
using namespace std::string_literals;

// Issue #18: names and identities written two ways are one; what nobody sees is not kept.
TEST_CASE("to_nfc composes, keeps ASCII and refuses invalid UTF-8") {
  CHECK(to_nfc("plain ascii") == "plain ascii");
  CHECK(to_nfc("Ja\xcc\x84nis") == "J\xc4\x81nis");        // a + U+0304 → ā
  CHECK(to_nfc("J\xc4\x81nis") == "J\xc4\x81nis");         // already NFC
  CHECK(to_nfc("\xef\xac\x81") == "\xef\xac\x81");         // U+FB01 (ﬁ): NFC, not NFKC
  CHECK_FALSE(to_nfc("ann\xff").has_value());
  CHECK_FALSE(to_nfc("\xc4").has_value());                 // truncated sequence
  CHECK(to_nfc("nul\0inside"s) == "nul\0inside"s);
}

TEST_CASE("has_invisible finds zero-width and bidi controls, not letters or emoji") {
  for (const char* s : {"a\xe2\x80\x8b", "a\xe2\x80\x8c", "a\xe2\x80\x8d", "\xe2\x80\x8e",
                        "\xe2\x80\x8f", "\xd8\x9c", "\xe2\x80\xaa", "\xe2\x80\xae",
                        "\xe2\x81\xa6", "\xe2\x81\xa9", "\xe2\x81\xa0", "\xef\xbb\xbf",
                        "\xc2\xad", "\xef\xb8\x8f", "bad \xff"}) {
    CAPTURE(s);
    CHECK(has_invisible(s));
  }
  for (const char* s : {"", "Ann Lee", "J\xc4\x81nis B\xc4\x93rzi\xc5\x86\xc5\xa1",
                        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "\xf0\x9f\x98\x80",
                        "\xe5\xb1\xb1\xe7\x94\xb0"}) {
    CAPTURE(s);
    CHECK_FALSE(has_invisible(s));
  }
}

TEST_CASE("display_name removes what disguises a name and keeps what shapes it") {
  // An override that would show "Ann" + reversed text, a zero-width space, a BOM: removed.
  CHECK(display_name("Ann\xe2\x80\xae" "eciffo tnuocca") == "Anneciffo tnuocca");
  CHECK(display_name("\xef\xbb\xbf" "Ann\xe2\x80\x8b Lee") == "Ann Lee");
  CHECK(display_name("Ann\xe2\x81\xa7 Lee\xe2\x81\xa9") == "Ann Lee");
  // NFC.
  CHECK(display_name("Ja\xcc\x84nis") == "J\xc4\x81nis");
  // ZWNJ in a Persian name, a ZWJ family emoji, an emoji's variation selector: kept.
  const std::string persian = "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1\xd9\x88\xd9\x85";
  CHECK(display_name(persian) == persian);
  const std::string family = "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
  CHECK(display_name(family) == family);
  CHECK(display_name("\xe2\x9d\xa4\xef\xb8\x8f Ann") == "\xe2\x9d\xa4\xef\xb8\x8f Ann");
  // ASCII and invalid UTF-8 unchanged.
  CHECK(display_name("Ann Lee") == "Ann Lee");
  CHECK(display_name("bad \xff") == "bad \xff");
}

TEST_CASE("idna_domain: UTS #46, written in Unicode") {
  CHECK(idna_domain("b\xc3\xbc" "cher.example") == "b\xc3\xbc" "cher.example");
  CHECK(idna_domain("B\xc3\x9c" "CHER.example") == "b\xc3\xbc" "cher.example");
  CHECK(idna_domain("xn--bcher-kva.example") == "b\xc3\xbc" "cher.example");
  CHECK(idna_domain("example.com") == "example.com");
  CHECK_FALSE(idna_domain("xn--zz.example").has_value());
  // libidn2 alone folds these into other domains ("example.com", "ab.com"): refused.
  CHECK_FALSE(idna_domain("exa mple.com").has_value());
  CHECK_FALSE(idna_domain("b\xc3\xbc_x.com").has_value());
  CHECK_FALSE(idna_domain("-a.com").has_value());
  CHECK_FALSE(idna_domain("a\0b.com"s).has_value());
}
