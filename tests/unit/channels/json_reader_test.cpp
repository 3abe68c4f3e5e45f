// The JSON field reader of channels/common/ (these cases moved from meta_test.cpp).
#include "channels/common/json_reader.hpp"

#include "channels/json_body.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>

namespace sb {
namespace {

TEST_CASE("object_reader names fields by path") {
  auto doc = parse_json_object(
      R"({"a":{"b":[{"c":1},{"c":"x"},3]},"n":123456789012,"s":"1795341600","neg":-5,)"
      R"("big":18446744073709551615,"f":1.5,"empty":"","t":true,"ms":"1795341600123"})");
  REQUIRE(doc.has_value());
  const object_reader top{*doc, ""};
  auto a = top.required_object("a");
  REQUIRE(a.has_value());
  const object_reader ar = top.child(**a, "a");
  auto list = ar.array("b");
  REQUIRE(list.has_value());
  auto e0 = ar.element(**list, "b", 0);
  REQUIRE(e0.has_value());
  CHECK(e0->path() == "a.b[0]");
  CHECK(e0->id("c").value() == std::optional<std::string>("1"));
  auto e1 = ar.element(**list, "b", 1);
  REQUIRE(e1.has_value());
  CHECK(e1->epoch("c", epoch_unit::seconds).error().detail ==
        "field a.b[1].c must be a unix time (an integer)");
  CHECK(ar.element(**list, "b", 2).error().detail == "field a.b[2] must be an object");
  CHECK(top.required_id("missing").error().detail == "field missing is required");
  CHECK(top.required_id("empty").error().detail == "field empty is required");
  CHECK(top.id("neg").error().detail == "field neg must be a string");
  CHECK(top.id("big").value() == std::optional<std::string>("18446744073709551615"));
  CHECK(top.string("n").error().detail == "field n must be a string");
  CHECK(top.boolean("s").error().detail == "field s must be true or false");
  CHECK(top.boolean("t").value() == std::optional<bool>(true));
  CHECK(top.object("s").error().detail == "field s must be an object");
  CHECK(top.array("s").error().detail == "field s must be an array");

  CHECK(top.epoch("s", epoch_unit::seconds).value() == std::optional<millis>(1'795'341'600'000));
  CHECK(top.epoch("s", epoch_unit::guess).value() == std::optional<millis>(1'795'341'600'000));
  CHECK(top.epoch("ms", epoch_unit::guess).value() == std::optional<millis>(1'795'341'600'123));
  CHECK(top.epoch("ms", epoch_unit::milliseconds).value() ==
        std::optional<millis>(1'795'341'600'123));
  CHECK(top.epoch("n", epoch_unit::milliseconds).value() == std::optional<millis>(123456789012));
  CHECK(top.epoch("ms", epoch_unit::seconds).error().detail == "field ms is out of range");
  CHECK(top.epoch("neg", epoch_unit::seconds).error().code == errc::malformed);
  CHECK(top.epoch("big", epoch_unit::seconds).error().detail == "field big is out of range");
  CHECK(top.epoch("f", epoch_unit::seconds).error().code == errc::malformed);
  CHECK(top.epoch("missing", epoch_unit::seconds).value() == std::nullopt);
}

}  // namespace
}  // namespace sb
