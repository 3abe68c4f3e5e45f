#include "routing/identity_list.hpp"

#include <doctest/doctest.h>

using sb::identity;
using sb::parse_identity_list;

TEST_CASE("parse_identity_list: normalised like channels record identities") {
  const auto r = parse_identity_list(
      "# VIP customers\n"
      "email:Jane.Doe@Example.COM\n"
      "\n"
      "  phone: +371 2000 0001  \r\n"
      "phone:+1 (555) 010-0000\n"
      "whatsapp:+37120000002\n"
      "telegram:123456\n"
      "chat:web-chat:visitor-7\n"
      "EMAIL:boss@example.com\n",
      "vip.txt");
  REQUIRE(r.errors.empty());
  REQUIRE(r.list.has_value());
  const auto& l = *r.list;
  CHECK(l.file == "vip.txt");
  CHECK(l.entries.size() == 7);
  CHECK(l.contains(identity{"email", "jane.doe@example.com"}));
  CHECK(l.contains(identity{"email", "boss@example.com"}));
  CHECK(l.contains(identity{"phone", "+37120000001"}));
  CHECK(l.contains(identity{"phone", "+15550100000"}));
  CHECK(l.contains(identity{"whatsapp", "37120000002"}));
  CHECK(l.contains(identity{"telegram", "123456"}));
  CHECK(l.contains(identity{"chat", "web-chat:visitor-7"}));
  CHECK_FALSE(l.contains(identity{"phone", "37120000002"}));
  CHECK_FALSE(l.contains(identity{"telegram", "1234567"}));
  CHECK(l.contains_any({{"email", "other@example.com"}, {"phone", "+37120000001"}}));
  CHECK_FALSE(l.contains_any({{"email", "other@example.com"}}));
  CHECK_FALSE(l.contains_any({}));
}

TEST_CASE("parse_identity_list: an empty list is valid") {
  const auto r = parse_identity_list("# nobody yet\n\n", "vip.txt");
  REQUIRE(r.list.has_value());
  CHECK(r.list->entries.empty());
}

TEST_CASE("parse_identity_list: errors name the line") {
  const auto r = parse_identity_list(
      "email:ok@example.com\n"
      "jane@example.com\n"
      "fax:+3712000\n"
      "phone:37120000000\n"
      "email:\n"
      "email:no-at-sign\n",
      "vip.txt");
  CHECK_FALSE(r.list.has_value());
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0].rfind("line 2: ", 0) == 0);
  CHECK(r.errors[0].find("type:value") != std::string::npos);
  CHECK(r.errors[1].rfind("line 3: unknown identity type \"fax\"", 0) == 0);
  CHECK(r.errors[2].rfind("line 4: ", 0) == 0);
  CHECK(r.errors[2].find("E.164") != std::string::npos);
  CHECK(r.errors[3].rfind("line 5: ", 0) == 0);
  CHECK(r.errors[4].rfind("line 6: ", 0) == 0);
}

TEST_CASE("parse_identity_list: a wrong file reports a bounded number of errors") {
  std::string junk;
  for (int i = 0; i < 1000; ++i) junk += "not an identity\n";
  const auto r = parse_identity_list(junk, "vip.txt");
  CHECK_FALSE(r.list.has_value());
  CHECK(r.errors.size() == 20);
}

TEST_CASE("is_identity_type") {
  CHECK(sb::is_identity_type("email"));
  CHECK(sb::is_identity_type("x"));
  CHECK(sb::is_identity_type("whatsapp_bsuid"));
  CHECK_FALSE(sb::is_identity_type("fax"));
  CHECK(sb::known_identity_types().find("whatsapp") != std::string::npos);
}

TEST_CASE("identity_list: an email_domain line lists every address of exactly that domain") {
  const auto r = parse_identity_list(
      "email_domain: Spam.Example\n"
      "email_domain:xn--bcher-kva.example\n",
      "blocked.txt");
  REQUIRE(r.list.has_value());
  CHECK(r.list->contains({"email", "anyone@spam.example"}));
  CHECK(r.list->contains({"email", "jane@bücher.example"}));
  CHECK_FALSE(r.list->contains({"email", "anyone@mail.spam.example"}));
  CHECK_FALSE(r.list->contains({"email", "spam.example@other.example"}));
  CHECK_FALSE(r.list->contains({"chat", "anyone@spam.example"}));
  const auto bad = parse_identity_list("email_domain:not a domain@\n", "blocked.txt");
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].find("not an e-mail domain") != std::string::npos);
}
