#include "channels/common/content_type.hpp"

#include "core/ascii.hpp"

#include <fmt/core.h>

namespace sb {

error check_media_type(std::optional<std::string_view> header, std::string_view media_type) {
  if (!header)
    return {errc::unsupported_media_type, fmt::format("Content-Type must be {}", media_type)};
  // Splits at ';' and trims the optional white space around each part (RFC 9110, OWS): no
  // parameter the check looks at is quoted with a ';' in it.
  std::string_view rest = *header;
  const auto next_part = [&rest] {
    const auto semi = rest.find(';');
    const std::string_view part = ascii_trim(rest.substr(0, semi), " \t");
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    return part;
  };
  if (!ascii_iequals(next_part(), media_type))
    return {errc::unsupported_media_type, fmt::format("Content-Type must be {}", media_type)};
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

}  // namespace sb
