// The benchmark's load generator: replays pre-built HTTP requests (bench/gen_requests.py signs
// them) over keep-alive connections and reports throughput and latency.
//
//   loadgen --port P --requests FILE [--connections N] [--rate R] [--count N] [--skip N]
//
// Closed loop (no --rate): each connection sends its next request as soon as the previous one
// is answered: the maximum the daemon sustains. Open loop (--rate R): request i is due at
// start + i/R whatever happened before, and its latency counts from that due time, so a
// stalled server shows up in the latency instead of silently lowering the offered load
// (no coordinated omission). Each request of FILE is sent once (they carry unique message
// ids); --count takes the first N (after the --skip first ones: a provider's retry of a slice).
//
// FILE holds records of a 4-byte little-endian length followed by that many bytes of one
// complete HTTP/1.1 request. Prints one JSON object on stdout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;
using asio::ip::tcp;

namespace {

struct options {
  unsigned short port = 8080;
  std::string requests;
  unsigned connections = 32;
  double rate = 0;  // 0: closed loop
  std::size_t count = 0;
  std::size_t skip = 0;
};

struct state {
  std::vector<std::string> requests;
  std::size_t next = 0;  // one io_context thread: no atomics needed
  clock_type::time_point start;
  double interval_s = 0;
  std::vector<double> latencies_ms;
  std::map<unsigned, std::size_t> statuses;
  std::size_t errors = 0;
  std::string first_error;
};

std::vector<std::string> read_requests(const std::string& path, std::size_t limit,
                                       std::size_t skip) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> out;
  for (;;) {
    unsigned char len[4];
    if (!f.read(reinterpret_cast<char*>(len), 4)) break;
    const std::uint32_t n = len[0] | len[1] << 8 | len[2] << 16 | std::uint32_t(len[3]) << 24;
    std::string r(n, '\0');
    if (!f.read(r.data(), n)) throw std::runtime_error(path + ": truncated record");
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(std::move(r));
    if (limit && out.size() == limit) break;
  }
  return out;
}

asio::awaitable<void> connection(state& st, tcp::endpoint ep) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  asio::steady_timer timer(ex);
  boost::beast::flat_buffer buffer;
  try {
    co_await socket.async_connect(ep, asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    while (st.next < st.requests.size()) {
      const std::size_t i = st.next++;
      auto due = clock_type::now();
      if (st.interval_s > 0) {
        due = st.start + std::chrono::duration_cast<clock_type::duration>(
                             std::chrono::duration<double>(st.interval_s * double(i)));
        if (due > clock_type::now()) {
          timer.expires_at(due);
          co_await timer.async_wait(asio::use_awaitable);
        }
      }
      co_await asio::async_write(socket, asio::buffer(st.requests[i]), asio::use_awaitable);
      http::response<http::string_body> res;
      co_await http::async_read(socket, buffer, res, asio::use_awaitable);
      st.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(clock_type::now() - due).count());
      ++st.statuses[res.result_int()];
      if (!res.keep_alive()) {  // the server closed it (e.g. 503 while draining): reconnect
        socket.close();
        socket = tcp::socket(ex);
        co_await socket.async_connect(ep, asio::use_awaitable);
      }
    }
  } catch (const std::exception& e) {
    ++st.errors;
    if (st.first_error.empty()) st.first_error = e.what();
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * double(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      o.port = static_cast<unsigned short>(std::stoi(v));
    else if (k == "--requests")
      o.requests = v;
    else if (k == "--connections")
      o.connections = static_cast<unsigned>(std::stoul(v));
    else if (k == "--rate")
      o.rate = std::stod(v);
    else if (k == "--count")
      o.count = std::stoul(v);
    else if (k == "--skip")
      o.skip = std::stoul(v);
    else {
      std::fprintf(stderr, "loadgen: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.requests.empty()) {
    std::fprintf(stderr,
                 "usage: loadgen --port P --requests FILE [--connections N] [--rate R] "
                 "[--count N] [--skip N]\n");
    return 2;
  }
  state st;
  try {
    st.requests = read_requests(o.requests, o.count, o.skip);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: %s\n", e.what());
    return 1;
  }
  st.latencies_ms.reserve(st.requests.size());
  st.interval_s = o.rate > 0 ? 1.0 / o.rate : 0;
  asio::io_context ioc(1);
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), o.port);
  st.start = clock_type::now();
  for (unsigned c = 0; c < o.connections; ++c)
    asio::co_spawn(ioc, connection(st, ep), asio::detached);
  ioc.run();
  const double seconds = std::chrono::duration<double>(clock_type::now() - st.start).count();

  std::size_t ok = 0;
  boost::json::object statuses;
  for (const auto& [code, n] : st.statuses) {
    statuses[std::to_string(code)] = n;
    if (code >= 200 && code < 300) ok += n;
  }
  boost::json::object out{
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"offered_rate", o.rate},
      {"connections", o.connections},
      {"requests", st.latencies_ms.size()},
      {"ok", ok},
      {"errors", st.errors},
      {"first_error", st.first_error},
      {"seconds", seconds},
      {"throughput", seconds > 0 ? double(st.latencies_ms.size()) / seconds : 0.0},
      {"statuses", statuses}};
  out["p50_ms"] = percentile(st.latencies_ms, 0.50);
  out["p99_ms"] = percentile(st.latencies_ms, 0.99);
  out["p999_ms"] = percentile(st.latencies_ms, 0.999);
  out["max_ms"] = st.latencies_ms.empty()
                      ? 0.0
                      : *std::max_element(st.latencies_ms.begin(), st.latencies_ms.end());
  std::cout << boost::json::serialize(out) << std::endl;
  return st.errors ? 1 : 0;
}
