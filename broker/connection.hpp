// The publisher's connection to the broker: the URL it was given, the socket (TCP, or TLS with
// the peer verified), the login with the client capabilities the publisher relies on, the
// polite close at stop, and the cut that ends a socket call stuck past every timeout. It knows
// nothing of channels, confirms or the outbox: the publisher's thread (publisher.cpp) owns it
// and does everything else on it. Nothing here may block without bound: a broker that accepts
// TCP and then says nothing must not hang the daemon or its shutdown.
#pragma once

#include "broker/amqp_util.hpp"
#include "core/mutex.hpp"

#include <amqp.h>

#include <string>

namespace sb {

class broker_connection {
 public:
  // Parses `url` (amqp:// or amqps://user:password@host:port/vhost) once; see url_ok().
  explicit broker_connection(std::string url);
  ~broker_connection() { destroy(); }
  broker_connection(const broker_connection&) = delete;
  broker_connection& operator=(const broker_connection&) = delete;

  // The URL is part of the config: when it does not parse, no retry can fix it.
  bool url_ok() const noexcept { return url_ok_; }
  // "host:port vhost=/", for log lines.
  std::string where() const;

  // Connects (TLS for amqps://), logs in and sets the timeouts of every later RPC. On failure
  // nothing is left open and the outcome says why, for the caller's retry log line.
  amqp::outcome open();
  bool is_open() const noexcept { return conn_ != nullptr; }
  // rabbitmq-c's state, for the calls the publisher makes (nullptr when not open). A reference
  // to the member, for whoever must notice that the connection was replaced or destroyed.
  const amqp_connection_state_t& state() const noexcept { return conn_; }
  int heartbeat() const noexcept;

  // stop(): the closes that follow wait close_timeout at most, not the usual RPC timeout.
  void shorten_timeouts() noexcept;
  // connection.close, then destroy(). A broker that does not answer only delays it.
  void close();
  // Frees the connection without a word to the broker (it was lost, or the close is done).
  void destroy() noexcept;

  // Any thread: stop()'s last resort when the broker did not answer the close in time. Shuts
  // the socket down (and says so in the log) so that a call stuck in it returns and the owning
  // thread leaves through its usual error path. Nothing when no socket is open.
  void cut();

 private:
  amqp::outcome login();

  std::string url_;  // amqp_parse_url writes into it and info_ points into it: keep it alive
  amqp_connection_info info_{};
  bool url_ok_ = false;
  amqp_connection_state_t conn_ = nullptr;
  mutex fd_mu_;
  int active_fd_ SB_GUARDED_BY(fd_mu_) = -1;  // the socket cut() may shut down
};

}  // namespace sb
