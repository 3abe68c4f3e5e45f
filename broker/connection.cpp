#include "broker/connection.hpp"

#include "core/log.hpp"

#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>

namespace sb {
namespace {

// The publisher's connection: its log lines are the publisher's.
constexpr std::string_view component = "publisher";
constexpr int heartbeat_seconds = 30;
constexpr int frame_max = 131072;

constexpr timeval connect_timeout{5, 0};
constexpr timeval rpc_timeout{10, 0};   // login handshake, declares, confirm.select
constexpr timeval close_timeout{2, 0};  // channel.close / connection.close at stop

amqp::outcome failure(std::string text) {
  amqp::outcome o;
  o.lost = amqp::loss::connection;
  o.text = std::move(text);
  return o;
}

}  // namespace

broker_connection::broker_connection(std::string url) : url_(std::move(url)) {
  amqp_default_connection_info(&info_);
  url_ok_ = !url_.empty() && amqp_parse_url(url_.data(), &info_) == AMQP_STATUS_OK;
}

std::string broker_connection::where() const {
  return fmt::format("{}:{} vhost={}", info_.host ? info_.host : "?", info_.port,
                     info_.vhost ? info_.vhost : "/");
}

amqp::outcome broker_connection::open() {
  destroy();
  const auto fail = [&](std::string why) {
    destroy();
    return failure(std::move(why));
  };

  conn_ = amqp_new_connection();
  if (!conn_) return fail("out of memory");
  amqp_socket_t* socket = nullptr;
  if (info_.ssl) {
    socket = amqp_ssl_socket_new(conn_);
    if (!socket) return fail("cannot create a TLS socket");
    // Peer and hostname verification are on by default in rabbitmq-c; they need trusted
    // CAs. SSL_CERT_FILE is OpenSSL's own convention; Debian's bundle otherwise.
    const char* env = std::getenv("SSL_CERT_FILE");
    const std::string ca = env && *env ? env : "/etc/ssl/certs/ca-certificates.crt";
    if (int rc = amqp_ssl_socket_set_cacert(socket, ca.c_str()); rc != AMQP_STATUS_OK)
      return fail(
          fmt::format("cannot load CA certificates from {}: {}", ca, amqp_error_string2(rc)));
  } else {
    socket = amqp_tcp_socket_new(conn_);
    if (!socket) return fail("cannot create a socket");
  }
  if (auto o = amqp::check(
          amqp_socket_open_noblock(socket, info_.host, info_.port, &connect_timeout), "connect");
      !o)
    return fail(std::move(o.text));
  {
    mutex_lock lock(fd_mu_);
    active_fd_ = amqp_get_sockfd(conn_);
  }
  amqp_set_handshake_timeout(conn_, &rpc_timeout);
  amqp_set_rpc_timeout(conn_, &rpc_timeout);
  if (auto o = login(); !o) return fail(std::move(o.text));
  return {};
}

amqp::outcome broker_connection::login() {
  // connection.blocked lets the broker tell us about its disk/memory alarms (it is only
  // sent to clients that announce the capability); the name shows in the management UI.
  amqp_table_entry_t caps[] = {amqp::bool_entry("connection.blocked", true),
                               amqp::bool_entry("authentication_failure_close", true)};
  amqp_table_entry_t props[2] = {amqp::utf8_entry("connection_name", "switchboard publisher"), {}};
  props[1].key = amqp_cstring_bytes("capabilities");
  props[1].value.kind = AMQP_FIELD_KIND_TABLE;
  props[1].value.value.table = amqp_table_t{2, caps};
  const amqp_table_t properties{2, props};
  const auto reply =
      amqp_login_with_properties(conn_, info_.vhost, 0, frame_max, heartbeat_seconds, &properties,
                                 AMQP_SASL_METHOD_PLAIN, info_.user, info_.password);
  return amqp::check(reply, "login");
}

int broker_connection::heartbeat() const noexcept { return conn_ ? amqp_get_heartbeat(conn_) : 0; }

void broker_connection::shorten_timeouts() noexcept {
  if (conn_) amqp_set_rpc_timeout(conn_, &close_timeout);
}

void broker_connection::close() {
  if (!conn_) return;
  auto o = amqp::check(amqp_connection_close(conn_, AMQP_REPLY_SUCCESS), "connection.close");
  if (!o) log::debug(component, "{}", o.text);
  destroy();
}

void broker_connection::destroy() noexcept {
  if (!conn_) return;
  {
    mutex_lock lock(fd_mu_);
    active_fd_ = -1;
  }
  amqp_destroy_connection(conn_);
  conn_ = nullptr;
}

void broker_connection::cut() {
  mutex_lock lock(fd_mu_);
  if (active_fd_ < 0) return;
  log::warn(component, "broker did not answer the close in time: cutting the connection");
  ::shutdown(active_fd_, SHUT_RDWR);
}

}  // namespace sb
