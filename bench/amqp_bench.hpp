// What the benchmark's two AMQP tools (broker_ceiling, consumer) share: a blocking rabbitmq-c
// connection with channel 1 open, or an exit with the reason.
#pragma once

#include "broker/amqp_util.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sb::bench {

inline void die_unless(const amqp::outcome& o) {
  if (!o) {
    std::fprintf(stderr, "%s\n", o.text.c_str());
    std::exit(1);
  }
}

inline amqp_connection_state_t connect(std::string url) {
  amqp_connection_info info;
  if (amqp_parse_url(url.data(), &info) != AMQP_STATUS_OK) {
    std::fprintf(stderr, "bad AMQP url %s\n", url.c_str());
    std::exit(2);
  }
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  die_unless(amqp::check(amqp_socket_open(socket, info.host, info.port), "connect"));
  die_unless(amqp::check(amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                                    info.user, info.password),
                         "login"));
  amqp_channel_open(conn, 1);
  die_unless(amqp::check(amqp_get_rpc_reply(conn), "channel.open"));
  return conn;
}

}  // namespace sb::bench
