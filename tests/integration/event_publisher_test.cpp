// The events publisher (broker/event_publisher.hpp) against the real RabbitMQ that
// scripts/test.sh starts: events in commit order on the topic exchange with the contract's
// properties, the confirmed ones handed back for deletion, a nack settled rather than
// published again in a loop. The store is an in-memory event_reader.
#include "broker/event_publisher.hpp"

#include "broker/amqp_util.hpp"
#include "tests/integration/broker_env.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <doctest/doctest.h>
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

using namespace itest;

// The store's side: rows added by the test, read by the publisher's thread; the seqs it
// hands back as confirmed.
class fake_events {
 public:
  class reader final : public sb::event_reader {
   public:
    explicit reader(fake_events& f) : f_(f) {}
    std::vector<sb::event_row> fetch(std::int64_t after, std::size_t limit) override {
      std::lock_guard lock(f_.m_);
      std::vector<sb::event_row> out;
      for (const auto& r : f_.rows_)
        if (r.seq > after && out.size() < limit) out.push_back(r);
      return out;
    }
    std::int64_t backlog() override {
      std::lock_guard lock(f_.m_);
      return static_cast<std::int64_t>(f_.rows_.size());
    }

   private:
    fake_events& f_;
  };

  void add(int n) {
    std::lock_guard lock(m_);
    for (int i = 0; i < n; ++i) {
      sb::event_row r;
      r.seq = ++seq_;
      r.id = fmt::format("ev-{}", r.seq);
      r.routing_key = r.seq % 2 ? "message.status.sent" : "message.status.read";
      r.body = fmt::format(R"({{"schema":"switchboard.event/v1","id":"{}"}})", r.id);
      r.created_at = 1'796'000'000'000;
      rows_.push_back(std::move(r));
    }
  }
  void confirmed(const std::vector<std::int64_t>& seqs) {
    std::lock_guard lock(m_);
    for (auto s : seqs) {
      if (!confirmed_.insert(s).second) ++twice_;
      std::erase_if(rows_, [s](const sb::event_row& r) { return r.seq == s; });
    }
  }
  std::size_t confirmed_count() {
    std::lock_guard lock(m_);
    return confirmed_.size();
  }
  std::size_t twice() {
    std::lock_guard lock(m_);
    return twice_;
  }

 private:
  std::mutex m_;
  std::vector<sb::event_row> rows_;
  std::set<std::int64_t> confirmed_;
  std::size_t twice_ = 0;
  std::int64_t seq_ = 0;
};

// A plain rabbitmq-c client, as an agent's tool would be.
class client {
 public:
  client() {
    std::string buf = broker_url();
    amqp_connection_info info;
    REQUIRE(amqp_parse_url(buf.data(), &info) == AMQP_STATUS_OK);
    conn_ = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(conn_);
    const timeval timeout{10, 0};
    REQUIRE(amqp_socket_open_noblock(s, info.host, info.port, &timeout) == AMQP_STATUS_OK);
    REQUIRE(amqp_login(conn_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                       info.password)
                .reply_type == AMQP_RESPONSE_NORMAL);
    amqp_channel_open(conn_, 1);
    REQUIRE(amqp_get_rpc_reply(conn_).reply_type == AMQP_RESPONSE_NORMAL);
  }
  ~client() {
    amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // A queue of this test bound to `exchange` with `key`; `args` its arguments.
  void queue(const std::string& q, const std::string& exchange, const std::string& key,
             amqp_table_t args = amqp_empty_table) {
    amqp_queue_declare(conn_, 1, sb::amqp::bytes(q), 0, 0, 0, /*auto_delete=*/0, args);
    REQUIRE(amqp_get_rpc_reply(conn_).reply_type == AMQP_RESPONSE_NORMAL);
    amqp_queue_bind(conn_, 1, sb::amqp::bytes(q), sb::amqp::bytes(exchange), sb::amqp::bytes(key),
                    amqp_empty_table);
    REQUIRE(amqp_get_rpc_reply(conn_).reply_type == AMQP_RESPONSE_NORMAL);
  }
  void drop(const std::string& q) {
    amqp_queue_delete(conn_, 1, sb::amqp::bytes(q), 0, 0);
    amqp_get_rpc_reply(conn_);
  }
  void drop_exchange(const std::string& e) {
    amqp_exchange_delete(conn_, 1, sb::amqp::bytes(e), 0);
    amqp_get_rpc_reply(conn_);
  }

  struct got {
    std::string message_id, type, content_type, routing_key, body;
    std::uint8_t delivery_mode = 0;
  };
  // Everything in `q` now, after waiting up to `wait` for `expect` of them.
  std::vector<got> take(const std::string& q, std::size_t expect, std::chrono::milliseconds wait) {
    std::vector<got> out;
    const auto deadline = clock_type::now() + wait;
    for (;;) {
      auto reply = amqp_basic_get(conn_, 1, sb::amqp::bytes(q), /*no_ack=*/1);
      REQUIRE(reply.reply_type == AMQP_RESPONSE_NORMAL);
      if (reply.reply.id == AMQP_BASIC_GET_OK_METHOD) {
        const auto* ok = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded);
        got g;
        g.routing_key = std::string(sb::amqp::view(ok->routing_key));
        amqp_message_t msg;
        REQUIRE(amqp_read_message(conn_, 1, &msg, 0).reply_type == AMQP_RESPONSE_NORMAL);
        const auto& p = msg.properties;
        if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) g.message_id = sb::amqp::view(p.message_id);
        if (p._flags & AMQP_BASIC_TYPE_FLAG) g.type = sb::amqp::view(p.type);
        if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
          g.content_type = sb::amqp::view(p.content_type);
        if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) g.delivery_mode = p.delivery_mode;
        g.body = sb::amqp::view(msg.body);
        amqp_destroy_message(&msg);
        out.push_back(std::move(g));
        continue;
      }
      if (out.size() >= expect || clock_type::now() >= deadline) return out;
      std::this_thread::sleep_for(50ms);
    }
  }

 private:
  amqp_connection_state_t conn_ = nullptr;
};

sb::broker_options broker() {
  sb::broker_options o;
  o.url = broker_url();
  o.reconnect_min = 100ms;
  o.reconnect_max = 1000ms;
  return o;
}

}  // namespace

TEST_CASE("events: in commit order on the topic exchange, each confirmed once") {
  const std::string exchange = run_prefix() + ".ev.events", q = exchange + ".all",
                    failed = exchange + ".read";
  fake_events store;
  sb::event_publisher pub(broker(), {exchange}, std::make_unique<fake_events::reader>(store),
                          [&](std::vector<std::int64_t> seqs) { store.confirmed(seqs); });
  pub.start();
  REQUIRE(wait_until([&] { return pub.connected(); }, 10s));  // it declared the exchange
  client agent;
  agent.queue(q, exchange, "message.status.#");
  agent.queue(failed, exchange, "message.status.read");
  store.add(600);  // more than the window of 256 in flight
  CHECK(wait_until([&] { return store.confirmed_count() == 600; }, 20s));
  const auto all = agent.take(q, 600, 10s);
  REQUIRE(all.size() == 600);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    CHECK(all[i].message_id == fmt::format("ev-{}", i + 1));  // commit order
    CHECK(all[i].type == all[i].routing_key);
    CHECK(all[i].content_type == "application/json");
    CHECK(all[i].delivery_mode == 2);
    CHECK(all[i].body.find(all[i].message_id) != std::string::npos);
  }
  CHECK(agent.take(failed, 300, 5s).size() == 300);  // the binding's routing keys only
  CHECK(store.twice() == 0);
  pub.stop(1s);
  agent.drop(q);
  agent.drop(failed);
  agent.drop_exchange(exchange);
}

TEST_CASE("events: a queue full with reject-publish costs its own copies, not a loop") {
  const std::string exchange = run_prefix() + ".ev.nack", q = exchange + ".ok",
                    full = exchange + ".full";
  fake_events store;
  sb::event_publisher pub(broker(), {exchange}, std::make_unique<fake_events::reader>(store),
                          [&](std::vector<std::int64_t> seqs) { store.confirmed(seqs); });
  pub.start();
  REQUIRE(wait_until([&] { return pub.connected(); }, 10s));
  client agent;
  agent.queue(q, exchange, "#");
  amqp_table_entry_t limits[] = {
      {sb::amqp::bytes("x-max-length"), {AMQP_FIELD_KIND_I32, {.i32 = 3}}},
      sb::amqp::utf8_entry("x-overflow", "reject-publish")};
  agent.queue(full, exchange, "#", amqp_table_t{2, limits});
  store.add(20);
  CHECK(wait_until([&] { return store.confirmed_count() == 20; }, 20s));
  std::this_thread::sleep_for(1500ms);  // a loop would publish them again meanwhile
  const auto ok = agent.take(q, 20, 5s);
  CHECK(ok.size() == 20);  // each once: the nacked ones were not published again
  CHECK(agent.take(full, 3, 5s).size() == 3);
  std::string metrics;
  pub.render_metrics(metrics);
  CHECK(metrics.find("switchboard_events_refused_total 17") != std::string::npos);
  pub.stop(1s);
  agent.drop(q);
  agent.drop(full);
  agent.drop_exchange(exchange);
}
