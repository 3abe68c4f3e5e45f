#include "channels/json_body.hpp"

#include "channels/common/content_type.hpp"
#include "channels/common/errors.hpp"
#include "channels/common/limits.hpp"
#include "core/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fmt/core.h>

namespace sb {
namespace {

namespace json = boost::json;

}  // namespace

error check_json_content_type(std::optional<std::string_view> header) {
  return check_media_type(header, "application/json");
}

result<json::object> parse_json_object(std::string_view body) {
  json::parse_options options;
  options.max_depth = max_json_depth;
  options.allow_invalid_utf8 = false;  // the default, stated: text goes to agents verbatim
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, {}, options);
  if (ec == json::error::too_deep) return malformed("body is nested too deeply");
  if (ec) return malformed("body is not valid JSON (UTF-8)");
  if (json::object* obj = doc.if_object()) return std::move(*obj);
  return malformed("body must be a JSON object");
}

result<json::value> parse_json_value(std::string_view text, std::string_view what) {
  json::parse_options options;
  options.max_depth = max_json_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return malformed(fmt::format("{} is not valid JSON", what));
  return v;
}

}  // namespace sb
