// HTTP/1.1 ingress on Beast/Asio. Sessions only read a bounded request, hand it to the
// request handler (request_handler.hpp: the pipeline), and write the reply; every untrusted input is bounded here: header size (431),
// body size per channel (413), read deadline (408), and the number of connections.
#pragma once

#include "core/error.hpp"
#include "daemon/request_target.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sb {

class request_handler;

struct http_limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{10000};
};

class http_server {
 public:
  // `handler` answers every request (the pipeline in the daemon).
  http_server(boost::asio::io_context& ioc, request_handler& handler, http_limits limits);
  ~http_server();

  // Binds and listens; the error names the address on failure.
  result<std::uint16_t> listen(const std::string& host, std::uint16_t port);
  void start();
  // Drain: stop accepting, close idle keep-alive connections, let busy ones finish their
  // current request and then close. Safe to call twice.
  void drain();
  // Every reply from now on closes its connection (the first step of a drain; the listener
  // stays open until drain()).
  void stop_keep_alive();
  std::size_t active_connections() const noexcept;

  struct impl;  // public only so the session type in the .cpp can name it

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace sb
