#include "channels/form.hpp"

#include <doctest/doctest.h>

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
