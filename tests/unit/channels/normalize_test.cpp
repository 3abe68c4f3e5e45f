#include "channels/normalize.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

TEST_CASE("check_keys refuses a control character in any message's id or identity") {
  inbound_message a;
  a.provider_id = "m-1";
  a.identities = {{"chat", "web-chat:v-1"}, {"email", "ann@example.com"}};
  inbound_message b = a;
  b.provider_id = "m-2";
  std::vector<inbound_message> batch{a, b};
  CHECK(check_keys(batch).code == errc::ok);
  b.provider_id = "";                                  // the store hashes the message instead
  b.identities = {{"chat", "web-chat:vīzītājs-ü 😀"}};  // any printable UTF-8 is fine
  batch = {a, b};
  CHECK(check_keys(batch).code == errc::ok);

  for (const std::string& bad : {"a\0b"s, "\n"s, "x\ty"s, "\x1b[2J"s, "del\x7f"s}) {
    CAPTURE(bad);
    batch = {a, b};
    batch[1].provider_id = bad;
    error e = check_keys(batch);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "the message id contains a control character");
    batch = {a, b};
    batch[1].identities.push_back({"phone", "+1555" + bad});
    e = check_keys(batch);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "the sender's phone id contains a control character");
    CHECK(e.detail.find(bad) == std::string::npos);  // the value is never echoed
  }
}

TEST_CASE("normalize_email trims and lower-cases the whole address") {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"ann@example.com", "ann@example.com"},
      {"  Ann.Lee@Example.COM \t", "ann.lee@example.com"},
      {"ANN+billing@Mail.Example.co.uk", "ann+billing@mail.example.co.uk"},
      {"o'brien@example.ie", "o'brien@example.ie"},
      {"x@a-b.example", "x@a-b.example"},
      {"J\xc4\x81nis@Example.LV", "j\xc4\x81nis@example.lv"},  // non-ASCII kept (NFC)
      {"ann@b\xc5\xab\x76\x65.lv", "ann@b\xc5\xab\x76\x65.lv"},
  };
  for (const auto& [raw, expected] : cases) {
    CAPTURE(raw);
    CHECK(normalize_email(raw) == std::string(expected));
  }
}

TEST_CASE("normalize_email refuses what is not one plain addr-spec") {
  for (std::string_view bad : {"",
                               "   ",
                               "ann",
                               "ann@",
                               "@example.com",
                               "ann@@example.com",
                               "ann@b@example.com",
                               "ann lee@example.com",
                               "ann@exa mple.com",
                               "ann@example",
                               "ann@.example.com",
                               "ann@example.com.",
                               "ann@example..com",
                               ".ann@example.com",
                               "ann.@example.com",
                               "an..n@example.com",
                               "Ann Lee <ann@example.com>",
                               "<ann@example.com>",
                               "ann@example.com, bob@example.com",
                               "\"ann\"@example.com",
                               "ann@[192.0.2.1]",
                               "ann@-example.com",
                               "ann@example-.com",
                               "ann@exa_mple.com",
                               "ann@example.com;"}) {
    CAPTURE(bad);
    CHECK_FALSE(normalize_email(bad).has_value());
  }
  CHECK_FALSE(normalize_email("ann\x01@example.com").has_value());
  CHECK_FALSE(normalize_email("ann\x7f@example.com").has_value());
  CHECK_FALSE(normalize_email("ann@example.com\0evil"s).has_value());
  CHECK_FALSE(normalize_email("ann\n@example.com").has_value());
  CHECK_FALSE(normalize_email(std::string(65, 'a') + "@example.com").has_value());
  CHECK(normalize_email(std::string(64, 'a') + "@example.com").has_value());
  CHECK_FALSE(normalize_email("a@" + std::string(250, 'b') + ".com").has_value());
}

// Issue #18: one address written two ways is one identity; an address with characters nobody
// sees is none.
TEST_CASE("normalize_email: NFC local parts, UTS #46 domains, no invisible characters") {
  // "Jānis" with a precomposed ā and with a + U+0304 (combining macron): one identity.
  CHECK(normalize_email("J\xc4\x81nis@example.lv") == "j\xc4\x81nis@example.lv");
  CHECK(normalize_email("Ja\xcc\x84nis@example.lv") == "j\xc4\x81nis@example.lv");
  // A domain in Unicode, upper-case Unicode, or A-labels: written one way, in Unicode.
  for (std::string_view raw : {"ann@b\xc3\xbc" "cher.example", "ann@B\xc3\x9c" "CHER.example",
                               "ann@xn--bcher-kva.example", "ann@XN--BCHER-KVA.example",
                               "ann@mail.xn--bcher-kva.example"}) {
    CAPTURE(raw);
    const auto got = normalize_email(raw);
    REQUIRE(got.has_value());
    CHECK(got->ends_with("b\xc3\xbc" "cher.example"));
  }
  // Not a domain IDNA accepts: a bad A-label, a symbol (IDNA2008 disallows U+2603).
  CHECK_FALSE(normalize_email("ann@xn--zz.example").has_value());
  CHECK_FALSE(normalize_email("ann@exa\xe2\x98\x83mple.com").has_value());  // U+2603
  CHECK_FALSE(normalize_email("ann@b\xc3\xbc_x.com").has_value());  // not "büx.com"
  // Zero-width and bidi controls, anywhere: refused, never folded into the visible address.
  for (std::string_view bad : {"ann\xe2\x80\x8b@example.com",     // U+200B zero-width space
                               "an\xe2\x80\x8dn@example.com",     // U+200D zero-width joiner
                               "ann@exam\xe2\x80\x8cple.com",     // U+200C in the domain
                               "\xe2\x80\xae" "ann@example.com",  // U+202E right-to-left override
                               "ann\xe2\x81\xa6@example.com",     // U+2066 left-to-right isolate
                               "ann\xef\xbb\xbf@example.com",     // U+FEFF BOM
                               "ann\xc2\xad@example.com",          // U+00AD soft hyphen
                               "ann\xe2\x80\x8f@example.com",     // U+200F right-to-left mark
                               "ann\xff@example.com"}) {          // not UTF-8
    CAPTURE(bad);
    CHECK_FALSE(normalize_email(bad).has_value());
  }
}

TEST_CASE("identity values with invisible characters are refused as keys") {
  inbound_message m;
  m.identities = {{"chat_visitor", "v-1\xe2\x80\x8b"}};
  const error e = check_keys(std::span<const inbound_message>(&m, 1));
  CHECK(e.code == errc::malformed);
  CHECK(e.detail.find("invisible character") != std::string::npos);
  m.identities = {{"chat_visitor", "v-1 J\xc4\x81nis"}};
  CHECK(check_keys(std::span<const inbound_message>(&m, 1)).code == errc::ok);
}

TEST_CASE("find_country and the calling-code table") {
  REQUIRE(find_country("LV") != nullptr);
  CHECK(find_country("LV")->calling_code == "371");
  CHECK(find_country("lv") == find_country("LV"));
  CHECK(find_country("Gb")->calling_code == "44");
  CHECK(find_country("US")->calling_code == "1");
  CHECK(find_country("CA")->calling_code == "1");
  CHECK(find_country("FI")->calling_code == "358");
  CHECK(find_country("XX") == nullptr);
  CHECK(find_country("") == nullptr);
  CHECK(find_country("LVA") == nullptr);
  CHECK(find_country("L") == nullptr);
  // Every country the brief names is supported.
  for (std::string_view iso : {"US", "CA", "GB", "DE", "FR", "LV", "LT", "EE", "PL", "ES", "IT",
                               "NL", "SE", "NO", "DK", "FI", "IE", "AU", "IN", "BR", "MX"}) {
    CAPTURE(iso);
    CHECK(find_country(iso) != nullptr);
  }
  for (const auto& c : supported_countries()) CHECK(find_country(c.iso2) == &c);
}

TEST_CASE("normalize_phone: numbers already international") {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"+15550102000", "+15550102000"},
      {"+1 (555) 010-2000", "+15550102000"},
      {"+1 555 010 2000", "+15550102000"},
      {"+1.555.010.2000", "+15550102000"},
      {"  +371 2612 3456 ", "+37126123456"},
      {"+44 (0)20 7946 0018", "+442079460018"},
      {"+49 (0)30/1234567", "+49301234567"},
      {"0044 20 7946 0018", "+442079460018"},
      {"00371-26123456", "+37126123456"},
      {"+12345678", "+12345678"},                // 8 digits: the shortest accepted
      {"+123456789012345", "+123456789012345"},  // 15 digits: E.164's maximum
  };
  for (const auto& [raw, expected] : cases) {
    CAPTURE(raw);
    CHECK(normalize_phone(raw) == std::string(expected));
    CHECK(normalize_phone(raw, "DE") == std::string(expected));  // a default changes nothing
  }
}

TEST_CASE("normalize_phone: national numbers take the default country") {
  struct row {
    std::string_view raw, country, expected;
  };
  const row cases[] = {
      {"(555) 010-2000", "US", "+15550102000"},
      {"1-555-010-2000", "US", "+15550102000"},  // NANP long-distance 1
      {"555.010.2000", "CA", "+15550102000"},
      {"011 44 20 7946 0018", "US", "+442079460018"},  // NANP international prefix
      {"020 7946 0018", "GB", "+442079460018"},
      {"020 7946 0018", "gb", "+442079460018"},
      {"(0)20 7946 0018", "GB", "+442079460018"},
      {"030/1234567", "DE", "+49301234567"},
      {"01 23 45 67 89", "FR", "+33123456789"},
      {"2612 3456", "LV", "+37126123456"},
      {"8 612 34567", "LT", "+37061234567"},
      {"0 612 34567", "LT", "+37061234567"},
      {"5123 4567", "EE", "+37251234567"},
      {"512 345 678", "PL", "+48512345678"},
      {"612 345 678", "ES", "+34612345678"},
      {"06 1234 5678", "IT", "+390612345678"},  // Italy keeps the leading 0
      {"06 12345678", "NL", "+31612345678"},
      {"070-123 45 67", "SE", "+46701234567"},
      {"412 34 567", "NO", "+4741234567"},
      {"20 12 34 56", "DK", "+4520123456"},
      {"040 1234567", "FI", "+358401234567"},
      {"087 123 4567", "IE", "+353871234567"},
      {"0412 345 678", "AU", "+61412345678"},
      {"0011 44 20 7946 0018", "AU", "+442079460018"},
      {"098765 43210", "IN", "+919876543210"},
      {"(11) 91234-5678", "BR", "+5511912345678"},
      {"011 91234-5678", "BR", "+5511912345678"},
      {"55 1234 5678", "MX", "+525512345678"},
      {"06 30 123 4567", "HU", "+36301234567"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.raw);
    CAPTURE(c.country);
    CHECK(normalize_phone(c.raw, c.country) == std::string(c.expected));
  }
}

TEST_CASE("normalize_phone refuses what cannot be an E.164 number") {
  for (std::string_view bad :
       {"", "   ", "+", "abc", "+1 555 CALL NOW", "+1 555 010 2000 ext 5", "++15550102000",
        "+1+5550102000", "+0123456789", "+1234567", "+1234567890123456", "1555010200012345",
        "+1_555_010_2000", "+1\n5550102000", "tel:+15550102000", "+1 555 010 2000#",
        "\xef\xbc\x8b\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x90\xef\xbc\x91"
        "\xef\xbc\x90\xef\xbc\x92\xef\xbc\x90\xef\xbc\x90\xef\xbc\x90"}) {  // full-width digits
    CAPTURE(bad);
    CHECK_FALSE(normalize_phone(bad, "US").has_value());
  }
  // A national number needs a default country to mean anything.
  CHECK_FALSE(normalize_phone("020 7946 0018").has_value());
  CHECK_FALSE(normalize_phone("26123456").has_value());
  // Too short once the country code is added.
  CHECK_FALSE(normalize_phone("1234", "LV").has_value());
  // Absurdly long input, even if digits.
  CHECK_FALSE(normalize_phone("+1" + std::string(100, ' ') + "5550102000", "US").has_value());
}

}  // namespace
}  // namespace sb
