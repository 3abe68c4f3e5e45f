// What a request's target names, worked out from its text alone (no config, no I/O).
#pragma once

#include <string>
#include <string_view>

namespace sb {

// The request target as the pipeline routes it: the origin-form, path and query
// ("/v1/webhooks/x?a=1"). A server must accept the absolute-form that forward proxies send
// (RFC 9112 3.2.2, "http://host:port/v1/webhooks/x?a=1"), which routes as its path and query;
// only http and https with a host, a path and no userinfo (RFC 9110 4.2) are taken so. Any other
// target is returned as it is, and matches no resource.
std::string_view origin_form(std::string_view target);

// What an origin-form target names, worked out once when a request's headers arrive and
// carried with it (the pipeline's check, its handling, the metrics of its reply).
struct request_route {
  enum class resource { other, healthz, readyz, metrics, api, webhook };
  resource what = resource::other;
  // The decoded path; the target itself when it is not an origin-form (it then names nothing).
  std::string path;
  // For /v1/webhooks/<name>: the name; empty when the path has more or fewer segments.
  std::string channel;
};
request_route route_of(std::string_view target);

// Whether `path` belongs to the read API (daemon/read_api.hpp).
bool is_api_path(std::string_view path) noexcept;

}  // namespace sb
