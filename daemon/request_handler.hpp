// The seam between the HTTP server and what answers requests, as Beast's examples keep
// handle_request(req, send) free of sockets: the server (daemon/http_server.cpp) reads a
// bounded request and writes the reply it is given; a request_handler (the pipeline,
// daemon/pipeline.hpp) decides everything else. Fakes in tests, the pipeline under fuzz_http.
#pragma once

#include "channels/channel.hpp"
#include "core/error.hpp"
#include "daemon/request_target.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

struct http_reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A JSON error reply {"error","detail"} from the single status table in core/error.hpp.
http_reply error_reply(const error& e);
// 405 with the Allow header naming the methods the resource takes, e.g. "GET, HEAD".
http_reply not_allowed(std::string_view allow);

// What is decided when a request's headers have arrived, before its body is read or 100
// Continue sent: what the target names (carried with the request from then on), the body
// limit for it, or a refusal answered at once (the body is then never read).
struct head_verdict {
  request_route route;
  std::size_t body_limit = 0;
  std::optional<http_reply> refusal;
};

class request_handler {
 public:
  virtual ~request_handler() = default;
  // `head.body` is empty.
  virtual head_verdict check_head(const request_view& head) = 0;
  // The whole request, with the route check_head worked out. `done` may run on this thread or
  // another, exactly once.
  virtual void handle(const request_view& req, const request_route& route,
                      std::function<void(http_reply)> done) = 0;
  // Every answer the server sends (also its own: 408, 413, 431, connection cap); `route` is
  // empty (request_route{}) when the request's headers were never read.
  virtual void observe_reply(std::string_view method, const request_route& route,
                             unsigned status, double seconds) const = 0;
};

}  // namespace sb
