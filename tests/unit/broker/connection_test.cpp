// The publisher's connection (broker/connection.hpp), without a broker: what it makes of its
// URL, and how it fails when nobody answers. The rest needs a broker: tests/integration.
#include "broker/connection.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace sb;

namespace {

// A loopback port bound but not listening: a connect to it is refused at once, and nothing
// else can take it while the guard lives.
struct refused_port {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  refused_port() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~refused_port() { ::close(fd); }
};

}  // namespace

TEST_CASE("broker_connection: the URL is parsed once, and named in log lines") {
  const broker_connection ok("amqp://u:p@broker.example:5673/ops");
  CHECK(ok.url_ok());
  CHECK(ok.where() == "broker.example:5673 vhost=ops");
  CHECK_FALSE(ok.is_open());
  CHECK(ok.state() == nullptr);
  CHECK(ok.heartbeat() == 0);

  CHECK(broker_connection("amqps://u:p@broker.example/%2f").where() ==
        "broker.example:5671 vhost=/");
  CHECK_FALSE(broker_connection("").url_ok());
  CHECK_FALSE(broker_connection("http://broker.example/").url_ok());
}

TEST_CASE("broker_connection: a refused connect leaves nothing open and says why") {
  refused_port port;
  broker_connection c("amqp://guest:guest@127.0.0.1:" + std::to_string(port.port) + "/%2f");
  const auto o = c.open();
  CHECK_FALSE(o);
  CHECK(o.lost == amqp::loss::connection);
  CHECK(o.text.rfind("connect: ", 0) == 0);
  CHECK_FALSE(c.is_open());
  c.cut();  // no socket: nothing to cut, no crash
  c.close();
}

TEST_CASE("broker_connection: amqps without a readable CA bundle fails before connecting") {
  const char* old = std::getenv("SSL_CERT_FILE");
  const std::string saved = old ? old : "";
  ::setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
  broker_connection c("amqps://guest:guest@127.0.0.1:1/%2f");
  const auto o = c.open();
  if (old)
    ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
  else
    ::unsetenv("SSL_CERT_FILE");
  CHECK_FALSE(o);
  CHECK(o.text.rfind("cannot load CA certificates from /nonexistent/ca.pem: ", 0) == 0);
  CHECK_FALSE(c.is_open());
}
