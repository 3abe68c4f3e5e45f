// The text helpers of channels/common/ (the URL and digest cases moved from meta_test.cpp).
#include "channels/common/text.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>

namespace sb {
namespace {

TEST_CASE("attachment names and types from URLs") {
  CHECK(file_name_from_url(
            "https://scontent.xx.fbcdn.net/v/t1.15752-9/461230987_1022934_n.jpg?_nc_cat=101") ==
        "461230987_1022934_n.jpg");
  CHECK(content_type_from_url("https://x.example/a/B.PNG?x=1") == "image/png");
  CHECK(content_type_from_url("https://x.example/r%C4%93%C4%B7ins.pdf") == "application/pdf");
  CHECK(file_name_from_url("https://x.example/r%C4%93%C4%B7ins.pdf") == "rēķins.pdf");
  CHECK(file_name_from_url("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1").empty());
  CHECK(content_type_from_url("https://x.example/file.unknownext").empty());
  CHECK(file_name_from_url("not a url at all").empty());
  CHECK(file_name_from_url("").empty());
}

TEST_CASE("short_digest is stable and distinguishes texts") {
  CHECK(short_digest("a").size() == 16);
  CHECK(short_digest("a") == short_digest("a"));
  CHECK(short_digest("a") != short_digest("b"));
}

TEST_CASE("language_code keeps a two-letter primary subtag, lower-cased") {
  CHECK(language_code("lv") == std::optional<std::string>("lv"));
  CHECK(language_code("LV") == std::optional<std::string>("lv"));
  CHECK(language_code("en-GB") == std::optional<std::string>("en"));
  CHECK(language_code("pt_br") == std::optional<std::string>("pt"));
  CHECK(language_code("") == std::nullopt);
  CHECK(language_code("eng") == std::nullopt);
  CHECK(language_code("e1") == std::nullopt);
}

TEST_CASE("is_blank: only spaces, tabs, CRs and LFs") {
  CHECK(is_blank(""));
  CHECK(is_blank(" \t\r\n"));
  CHECK_FALSE(is_blank(" x "));
  CHECK_FALSE(is_blank("\v"));
}

}  // namespace
}  // namespace sb
