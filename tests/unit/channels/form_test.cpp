#include "channels/form.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace sb;

TEST_CASE("urlencoded forms decode '+' and %-escapes and keep the order") {
  auto f = parse_form(
      "Body=Hello+there%21+%C4%81%C4%8D&From=%2B15550102000&To=%2B18005551212&Empty=&Flag");
  REQUIRE(f.has_value());
  REQUIRE(f->size() == 5);
  CHECK((*f)[0].name == "Body");
  CHECK((*f)[0].value == "Hello there! \xC4\x81\xC4\x8D");
  CHECK(*form_value(*f, "From") == "+15550102000");
  CHECK(*form_value(*f, "Empty") == "");
  CHECK(*form_value(*f, "Flag") == "");
  CHECK(form_value(*f, "Missing") == nullptr);
  CHECK(parse_form("")->empty());
  CHECK_FALSE(parse_form("a=%zz").has_value());
  CHECK_FALSE(parse_form("a=%4").has_value());
}

// Issue #18: a form of thousands of fields is indexed once, so that a form_value() costs
// O(log n) whatever the number of fields (Twilio looks up some 200 names).
TEST_CASE("a form of thousands of fields: lookups by name, the first of repeated names") {
  std::string body;
  for (int i = 0; i < 20000; ++i) body += "P" + std::to_string(i) + "=" + std::to_string(i) + "&";
  body += "P7=again&Twice=1&Twice=2&Empty=";
  auto f = parse_form(body);
  REQUIRE(f.has_value());
  CHECK(f->size() == 20004);
  CHECK(*form_value(*f, "P0") == "0");
  CHECK(*form_value(*f, "P19999") == "19999");
  CHECK(*form_value(*f, "P7") == "7");  // the first
  CHECK(*form_value(*f, "Twice") == "1");
  CHECK(*form_value(*f, "Empty") == "");
  CHECK(form_value(*f, "P20000") == nullptr);
  CHECK(form_value(*f, "") == nullptr);
  CHECK((*f)[20000].value == "again");
  CHECK((*f)[20001].name == "Twice");
  // Copies and moves answer the same.
  const form copy = *f;
  form moved = std::move(*f);
  for (const form* g : {&copy, static_cast<const form*>(&moved)}) {
    CHECK(*form_value(*g, "P12345") == "12345");
    CHECK(*form_value(*g, "Twice") == "1");
    CHECK(form_value(*g, "nope") == nullptr);
  }
}
