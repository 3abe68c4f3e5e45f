// The benchmark's agent: consumes the given queues (no-ack, as fast as the broker delivers)
// until `--expect` messages arrived or nothing came for `--idle` seconds, and prints one JSON
// object: how many, how many distinct message ids, the consume rate, the mean body size, and
// the webhook-to-consumer latency (consume time minus the payload's message.received_at, the
// moment the daemon received the webhook; both clocks are this machine's).
//
//   consumer --url amqp://... --queue Q [--queue Q2 ...] [--expect N] [--idle S] [--declare yes]
#include "bench/amqp_bench.hpp"
#include "core/time.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

int main(int argc, char** argv) {
  std::string url;
  std::vector<std::string> queues;
  std::size_t expect = 0;
  double idle_s = 5;
  bool declare = false;  // --declare yes: declare the queues (durable, no arguments) first
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--url") url = v;
    else if (k == "--queue") queues.push_back(v);
    else if (k == "--expect") expect = std::stoul(v);
    else if (k == "--idle") idle_s = std::stod(v);
    else if (k == "--declare") declare = v == "yes";
  }
  if (url.empty() || queues.empty()) {
    std::fprintf(stderr, "usage: consumer --url URL --queue Q [--queue Q2...] [--expect N] "
                         "[--idle S]\n");
    return 2;
  }
  auto conn = sb::bench::connect(url);
  // The daemon answers /healthz before its publisher has declared the queues: a queue not
  // there yet (404, which closes the channel) is waited for, up to 10 s, on a new channel.
  for (int attempt = 1;; ++attempt) {
    amqp_basic_qos(conn, 1, 0, 2000, 0);
    bool all = true;
    for (const auto& q : queues) {
      if (declare) {
        amqp_queue_declare(conn, 1, sb::amqp::bytes(q), 0, 1, 0, 0, amqp_empty_table);
        sb::bench::die_unless(sb::amqp::check(amqp_get_rpc_reply(conn), "declare " + q));
      }
      amqp_basic_consume(conn, 1, sb::amqp::bytes(q), amqp_empty_bytes, 0, /*no_ack=*/1, 0,
                         amqp_empty_table);
      const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
      const bool not_yet = reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
                           reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
                           static_cast<const amqp_channel_close_t*>(reply.reply.decoded)
                                   ->reply_code == AMQP_NOT_FOUND;
      if (not_yet && attempt < 100) {
        amqp_channel_close_ok_t ok{};
        amqp_send_method(conn, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        amqp_channel_open(conn, 1);
        sb::bench::die_unless(sb::amqp::check(amqp_get_rpc_reply(conn), "channel.open"));
        all = false;
        break;
      }
      sb::bench::die_unless(sb::amqp::check(reply, "basic.consume " + q));
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::size_t count = 0, bytes = 0;
  std::unordered_set<std::string> ids;
  std::vector<double> latency_ms;
  using clk = std::chrono::steady_clock;
  clk::time_point first{}, last{};
  const timeval tick{0, 200000};
  auto quiet_since = clk::now();
  while (!expect || count < expect) {
    amqp_envelope_t env;
    amqp_maybe_release_buffers(conn);
    const auto r = amqp_consume_message(conn, &env, &tick, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_TIMEOUT) {
      if (std::chrono::duration<double>(clk::now() - quiet_since).count() > idle_s) break;
      continue;
    }
    sb::bench::die_unless(sb::amqp::check(r, "consume"));
    const auto now = clk::now();
    const sb::millis wall = sb::now_ms();
    if (!count) first = now;
    last = quiet_since = now;
    ++count;
    const auto body = sb::amqp::view(env.message.body);
    bytes += body.size();
    ids.emplace(sb::amqp::view(env.message.properties.message_id));
    // The first "received_at" of the payload is the new message's (the conversation has none).
    constexpr std::string_view key = R"("received_at":")";
    if (const auto at = body.find(key); at != std::string_view::npos) {
      const auto start = at + key.size();
      const auto end = body.find('"', start);
      if (const auto t = sb::parse_time(body.substr(start, end - start)))
        latency_ms.push_back(double(wall - *t));
    }
    amqp_destroy_envelope(&env);
  }
  const auto pct = [&](double p) {
    if (latency_ms.empty()) return 0.0;
    const auto k = static_cast<std::size_t>(p * double(latency_ms.size() - 1));
    std::nth_element(latency_ms.begin(), latency_ms.begin() + long(k), latency_ms.end());
    return latency_ms[k];
  };
  const double span = std::chrono::duration<double>(last - first).count();
  boost::json::object out{{"consumed", count},
                          {"distinct", ids.size()},
                          {"seconds", span},
                          {"rate", span > 0 ? double(count) / span : 0.0},
                          {"mean_body_bytes", count ? double(bytes) / double(count) : 0.0}};
  out["latency_p50_ms"] = pct(0.50);
  out["latency_p99_ms"] = pct(0.99);
  std::cout << boost::json::serialize(out) << std::endl;
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
