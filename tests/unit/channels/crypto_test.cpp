#include "channels/crypto.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>

using namespace std::string_literals;

namespace sb {
namespace {

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

std::string all_bytes() {
  std::string out;
  for (int i = 0; i < 256; ++i) out += static_cast<char>(i);
  return out;
}

TEST_CASE("hmac_sha256 matches RFC 4231") {
  struct vector {
    std::string key, data, mac_hex;
  };
  const std::string big_key = repeat('\xaa', 131);
  const std::array<vector, 6> vectors{{
      {repeat('\x0b', 20), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {repeat('\xaa', 20), repeat('\xdd', 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
       "\x17\x18\x19",
       repeat('\xcd', 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {big_key, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {big_key,
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  }};
  for (const auto& v : vectors) {
    CAPTURE(v.data);
    const std::string mac = hmac_sha256(v.key, v.data);
    CHECK(mac.size() == 32);
    CHECK(hex_encode(mac) == v.mac_hex);
  }
}

TEST_CASE("hmac_sha256 with an empty key and empty data") {
  CHECK(hex_encode(hmac_sha256("", "")) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("hmac_sha1 matches RFC 2202") {
  CHECK(hex_encode(hmac_sha1(repeat('\x0b', 20), "Hi There")) ==
        "b617318655057264e28bc0b6fb378c8ef146be00");
  CHECK(hex_encode(hmac_sha1("Jefe", "what do ya want for nothing?")) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hex_encode(hmac_sha1(repeat('\xaa', 20), repeat('\xdd', 50))) ==
        "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
  CHECK(hex_encode(hmac_sha1(repeat('\xaa', 80),
                             "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST_CASE("the concat forms equal the MAC of the concatenation") {
  const std::array<std::string_view, 5> parts{"msg_1", ".", "1614265330", ".", "{\"a\":1}"};
  CHECK(hmac_sha256_concat("key", parts) == hmac_sha256("key", "msg_1.1614265330.{\"a\":1}"));
  CHECK(hmac_sha1_concat("key", parts) == hmac_sha1("key", "msg_1.1614265330.{\"a\":1}"));
  CHECK(hmac_sha256_concat("key", {}) == hmac_sha256("key", ""));
}

TEST_CASE("hmac_sha1_concat reproduces the Twilio request-signing example") {
  // channels.md: URL then each POST parameter sorted by name, name + value, token 12345.
  // clang-format off
  const std::array<std::string_view, 11> parts{
      "https://mycompany.com/myapp.php?foo=1&bar=2",
      "CallSid", "CA1234567890ABCDE",
      "Caller", "+12349013030",
      "Digits", "1234",
      "From", "+12349013030",
      "To", "+18005551212"};
  // clang-format on
  CHECK(base64_encode(hmac_sha1_concat("12345", parts)) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST_CASE("base64_encode matches RFC 4648") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("\xfb\xff"s) == "+/8=");
}

TEST_CASE("base64_decode matches RFC 4648") {
  CHECK(base64_decode("") == ""s);
  CHECK(base64_decode("Zg==") == "f"s);
  CHECK(base64_decode("Zm8=") == "fo"s);
  CHECK(base64_decode("Zm9v") == "foo"s);
  CHECK(base64_decode("Zm9vYg==") == "foob"s);
  CHECK(base64_decode("Zm9vYmE=") == "fooba"s);
  CHECK(base64_decode("Zm9vYmFy") == "foobar"s);
  CHECK(base64_decode("+/8=") == "\xfb\xff"s);
  CHECK(base64_decode("AAAA") == std::string(3, '\0'));
}

TEST_CASE("base64 round-trips binary data across chunk boundaries") {
  const std::string bytes = all_bytes();
  for (std::size_t n : {0u, 1u, 2u, 3u, 255u, 256u, 3071u, 3072u, 3073u, 4096u, 10000u}) {
    CAPTURE(n);
    std::string input;
    while (input.size() < n) input += bytes;
    input.resize(n);
    const std::string text = base64_encode(input);
    CHECK(text.size() == (n + 2) / 3 * 4);
    CHECK(base64_decode(text) == input);
  }
}

TEST_CASE("base64_decode rejects anything but canonical base64") {
  for (std::string_view bad :
       {"Z", "Zg", "Zg=", "Zg===", "Z===", "====", "=Zm9", "Zg==Zm9v", "Zm9vYmFy=", "Zm9v\n",
        " Zm9v", "Zm9v ", "Zm9v YmFy", "Zm8-", "Zm8_", "Zm9v!mFy", "Zh==", "Zm9=", "Zm=v"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
  }
  CHECK_FALSE(base64_decode("Zm9v\0mFy"s).has_value());
  CHECK_FALSE(base64_decode("Zm9v\xc3\xa9mFy"s).has_value());
}

TEST_CASE("hex_encode and hex_decode") {
  CHECK(hex_encode("") == "");
  CHECK(hex_encode("\x00\x01\xab\xff"s) == "0001abff");
  CHECK(hex_decode("0001abff") == "\x00\x01\xab\xff"s);
  CHECK(hex_decode("0001ABFF") == "\x00\x01\xab\xff"s);
  CHECK(hex_decode("") == ""s);
  CHECK_FALSE(hex_decode("abc").has_value());
  CHECK_FALSE(hex_decode("zz").has_value());
  CHECK_FALSE(hex_decode("0x12").has_value());
  CHECK(hex_decode(hex_encode(all_bytes())) == all_bytes());
}

TEST_CASE("constant_time_equal") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("abc", "abc"));
  CHECK(constant_time_equal("a\0b"s, "a\0b"s));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
  CHECK_FALSE(constant_time_equal("", "a"));
  CHECK_FALSE(constant_time_equal("a\0b"s, "a\0c"s));
  const std::string mac = hmac_sha256("k", "d");
  CHECK(constant_time_equal(mac, hmac_sha256("k", "d")));
  CHECK_FALSE(constant_time_equal(mac, hmac_sha256("k", "e")));
  CHECK_FALSE(constant_time_equal(mac, mac.substr(0, 16)));
}

}  // namespace
}  // namespace sb
