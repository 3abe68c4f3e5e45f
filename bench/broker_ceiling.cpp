// The broker ceiling: what RabbitMQ itself takes on this machine, measured the way the daemon
// publishes (persistent messages, mandatory, publisher confirms with the same window, bursts
// corked into full TCP segments) to one durable queue, with bodies of the daemon's payload
// size. The benchmark runs a consumer on that queue at the same time, as it does for the
// daemon.
//
//   broker_ceiling --url amqp://... --queue Q --count N --size BYTES [--window W]
//
// Prints one JSON object: messages confirmed per second.
#include "bench/amqp_bench.hpp"

#include <amqp_framing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <iostream>

int main(int argc, char** argv) {
  std::string url, queue;
  std::size_t count = 20000, size = 2048, window = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--url") url = v;
    else if (k == "--queue") queue = v;
    else if (k == "--count") count = std::stoul(v);
    else if (k == "--size") size = std::stoul(v);
    else if (k == "--window") window = std::stoul(v);
  }
  if (url.empty() || queue.empty()) {
    std::fprintf(stderr, "usage: broker_ceiling --url URL --queue Q --count N --size B "
                         "[--window W]\n");
    return 2;
  }
  auto conn = sb::bench::connect(url);
  amqp_queue_declare(conn, 1, sb::amqp::bytes(queue), 0, /*durable=*/1, 0, 0, amqp_empty_table);
  sb::bench::die_unless(sb::amqp::check(amqp_get_rpc_reply(conn), "declare"));
  amqp_confirm_select(conn, 1);
  sb::bench::die_unless(sb::amqp::check(amqp_get_rpc_reply(conn), "confirm.select"));

  const std::string body(size, 'x');
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.content_type = amqp_cstring_bytes("application/json");
  std::size_t published = 0, confirmed = 0;
  std::set<std::uint64_t> unconfirmed;  // delivery tags awaiting the broker's ack
  const auto t0 = std::chrono::steady_clock::now();
  // Corked while a burst of publishes is written, as the daemon's publisher does
  // (broker/publisher.cpp, tcp_cork): the ceiling is the broker's, not a chatty client's.
  const int fd = amqp_get_sockfd(conn);
  const auto cork = [fd](int on) { setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on); };
  while (confirmed < count) {
    if (published < count && published - confirmed < window) {
      cork(1);
      while (published < count && published - confirmed < window) {
        sb::bench::die_unless(sb::amqp::check(
            amqp_basic_publish(conn, 1, amqp_empty_bytes, sb::amqp::bytes(queue), 1, 0, &props,
                               sb::amqp::bytes(body)),
            "publish"));
        unconfirmed.insert(++published);
      }
      cork(0);
    }
    amqp_frame_t frame;
    sb::bench::die_unless(sb::amqp::check(amqp_simple_wait_frame(conn, &frame), "wait"));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      // Tags are 1, 2, 3, ... in publish order; `multiple` settles every tag up to this one.
      if (ack->multiple)
        unconfirmed.erase(unconfirmed.begin(), unconfirmed.upper_bound(ack->delivery_tag));
      else
        unconfirmed.erase(ack->delivery_tag);
      confirmed = published - unconfirmed.size();
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      std::fprintf(stderr, "broker_ceiling: nack\n");
      return 1;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  boost::json::object out{{"confirmed", confirmed}, {"seconds", s},
                          {"rate", double(confirmed) / s}, {"size", size}, {"window", window}};
  std::cout << boost::json::serialize(out) << std::endl;
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
