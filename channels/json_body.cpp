#include "channels/json_body.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/limits.hpp"
#include "core/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace sb {
namespace {

namespace json = boost::json;

}  // namespace

error check_json_content_type(std::optional<std::string_view> header) {
  const error wrong{errc::unsupported_media_type, "Content-Type must be application/json"};
  if (!header) return wrong;
  std::string_view rest = *header;
  const auto next_part = [&rest] {
    const auto semi = rest.find(';');
    const std::string_view part = ascii_trim(rest.substr(0, semi), " \t");
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    return part;
  };
  if (!ascii_iequals(next_part(), "application/json")) return wrong;
  while (!rest.empty()) {
    const std::string_view param = next_part();
    const auto eq = param.find('=');
    if (eq == param.npos || !ascii_iequals(ascii_trim(param.substr(0, eq), " \t"), "charset"))
      continue;
    std::string_view charset = ascii_trim(param.substr(eq + 1), " \t");
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
      charset = charset.substr(1, charset.size() - 2);
    if (!ascii_iequals(charset, "utf-8"))
      return {errc::unsupported_media_type, "Content-Type charset must be utf-8"};
  }
  return {};
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

}  // namespace sb
