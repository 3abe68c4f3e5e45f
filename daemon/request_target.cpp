#include "daemon/request_target.hpp"

#include <boost/url/parse.hpp>

namespace sb {

std::string_view origin_form(std::string_view target) {
  if (target.starts_with('/')) return target;  // what nearly every client sends
  const auto u = boost::urls::parse_absolute_uri(target);
  if (!u ||
      (u->scheme_id() != boost::urls::scheme::http && u->scheme_id() != boost::urls::scheme::https))
    return target;
  // RFC 9110 4.2.1: an http URI with an empty host is invalid; 4.2.4: userinfo is an error.
  if (!u->has_authority() || u->encoded_host().empty() || u->has_userinfo()) return target;
  // "http://host" and "http://host?q" name no path to route; the view below needs one.
  const std::string_view path = u->encoded_path();
  if (!path.starts_with('/')) return target;
  return target.substr(static_cast<std::size_t>(path.data() - target.data()));
}

}  // namespace sb
