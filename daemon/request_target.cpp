#include "daemon/request_target.hpp"

#include <boost/url/parse.hpp>

#include <iterator>

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

request_route route_of(std::string_view target) {
  request_route r;
  const auto u = boost::urls::parse_origin_form(target);
  if (!u) {
    r.path = target;
    return r;
  }
  r.path = u->path();
  using resource = request_route::resource;
  if (r.path == "/healthz") {
    r.what = resource::healthz;
  } else if (r.path == "/readyz") {
    r.what = resource::readyz;
  } else if (r.path == "/metrics") {
    r.what = resource::metrics;
  } else if (is_api_path(r.path)) {
    r.what = resource::api;
  } else if (r.path.starts_with("/v1/webhooks/")) {
    r.what = resource::webhook;
    const auto segs = u->segments();
    if (segs.size() == 3) r.channel = *std::next(segs.begin(), 2);
  }
  return r;
}

bool is_api_path(std::string_view path) noexcept {
  return path == "/v1/customers" || path.starts_with("/v1/customers/") ||
         path.starts_with("/v1/conversations/") || path == "/v1/unreadable" ||
         path.starts_with("/v1/unreadable/") || path == "/v1/parked" ||
         path.starts_with("/v1/parked/") || path.starts_with("/v1/attachments/");
}

}  // namespace sb
