// What a request's target names, worked out from its text alone (no config, no I/O).
#pragma once

#include <string_view>

namespace sb {

// The request target as the pipeline routes it: the origin-form, path and query
// ("/v1/webhooks/x?a=1"). A server must accept the absolute-form that forward proxies send
// (RFC 9112 3.2.2, "http://host:port/v1/webhooks/x?a=1"), which routes as its path and query;
// only http and https with a host, a path and no userinfo (RFC 9110 4.2) are taken so. Any other
// target is returned as it is, and matches no resource.
std::string_view origin_form(std::string_view target);

}  // namespace sb
