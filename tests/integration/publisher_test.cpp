// The publisher against a real RabbitMQ (scripts/test.sh starts a private one and exports
// SB_TEST_AMQP_URL and SB_TEST_BROKER_NODE). The outbox is an in-memory fake: the thing under
// test is the publisher with the broker. The test consumes with rabbitmq-c directly, the way
// an agent's tool would, and checks the queue contract (docs/api.md, "Queue messages").
#include "broker/publisher.hpp"

#include "broker/amqp_util.hpp"
#include "core/time.hpp"
#include "tests/integration/broker_env.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <doctest/doctest.h>
#include <fmt/core.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

using namespace itest;

int rabbitmqctl(const std::string& args) {
  const auto cmd =
      fmt::format("timeout 90 rabbitmqctl -q -n '{}' {} >/dev/null 2>&1", broker_node(), args);
  MESSAGE("running: ", cmd);
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// ---------------------------------------------------------------------------------------------
// The fake outbox: rows by seq; confirmed() deletes, as the store's writer will (later).

class fake_outbox {
 public:
  std::int64_t add(sb::outbox_row row) {
    std::lock_guard lock(mu_);
    row.seq = next_seq_++;
    const auto seq = row.seq;
    rows_.emplace(seq, std::move(row));
    return seq;
  }

  sb::outbox_source source() {
    sb::outbox_source s;
    s.fetch = [this](std::int64_t after, std::size_t limit) {
      std::lock_guard lock(mu_);
      std::vector<sb::outbox_row> out;
      for (auto it = rows_.upper_bound(after); it != rows_.end() && out.size() < limit; ++it)
        out.push_back(it->second);
      return out;
    };
    s.confirmed = [this](std::vector<std::int64_t> seqs) {
      std::lock_guard lock(mu_);
      for (auto seq : seqs) {
        if (!confirmed_.insert(seq).second) ++confirmed_twice_;
        rows_.erase(seq);
      }
    };
    s.parked = [this](std::vector<sb::outbox_parking> rows) {
      std::lock_guard lock(mu_);
      for (auto& row : rows) {
        rows_.erase(row.seq);  // as the store moves it to outbox_parked
        parked_.push_back(std::move(row));
      }
    };
    return s;
  }
  std::vector<sb::outbox_parking> parked() const {
    std::lock_guard lock(mu_);
    return parked_;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return rows_.size();
  }
  std::size_t count_skill(const std::string& skill) const {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count_if(
        rows_.begin(), rows_.end(), [&](const auto& kv) { return kv.second.skill == skill; }));
  }
  bool was_confirmed(std::int64_t seq) const {
    std::lock_guard lock(mu_);
    return confirmed_.contains(seq);
  }
  std::size_t confirmed_twice() const {
    std::lock_guard lock(mu_);
    return confirmed_twice_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::int64_t, sb::outbox_row> rows_;
  std::int64_t next_seq_ = 1;
  std::set<std::int64_t> confirmed_;
  std::size_t confirmed_twice_ = 0;
  std::vector<sb::outbox_parking> parked_;
};

sb::outbox_row make_row(int n, const std::string& skill) {
  sb::outbox_row row;
  row.message_id = fmt::format("{}-m{:05}", run_prefix(), n);
  row.conversation_id = fmt::format("{}-c{:04}", run_prefix(), n / 3);
  row.skill = skill;
  row.channel = n % 2 ? "web-chat" : "support-mail";
  row.channel_type = n % 2 ? "chat" : "mailgun";
  row.priority = n % 10;
  row.created_at = sb::now_ms() - 1234;
  row.body =
      fmt::format(R"({{"schema":"switchboard.conversation/v1","n":{},"skill":"{}"}})", n, skill);
  return row;
}

sb::skill_config skill(std::string name, std::string queue, int max_priority = 0,
                       std::string type = "classic") {
  sb::skill_config s;
  s.name = std::move(name);
  s.queue = std::move(queue);
  s.max_priority = max_priority;
  s.queue_type = std::move(type);
  return s;
}

// Short backoffs so each test case stays well under 30 s.
sb::broker_options options(const std::string& exchange) {
  sb::broker_options o;
  o.url = broker_url();
  o.exchange = exchange;
  o.confirm_window = 256;
  o.reconnect_min = 100ms;
  o.reconnect_max = 1500ms;
  return o;
}

// ---------------------------------------------------------------------------------------------
// A plain rabbitmq-c client: the agent's side, and the admin that sets up broken topologies.

struct received {
  std::string message_id, correlation_id, content_type, type, body;
  std::uint8_t delivery_mode = 0, priority = 0;
  bool has_priority = false, has_timestamp = false;
  std::uint64_t timestamp = 0;
  std::map<std::string, std::string> headers;
};

class amqp_client {
 public:
  explicit amqp_client(const std::string& url) {
    std::string buf = url;  // amqp_parse_url writes into it
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    REQUIRE(amqp_parse_url(buf.data(), &info) == AMQP_STATUS_OK);
    REQUIRE(conn_ != nullptr);
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    REQUIRE(socket != nullptr);
    const timeval timeout{10, 0};
    const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &timeout);
    REQUIRE_MESSAGE(rc == AMQP_STATUS_OK,
                    "test client cannot connect: ", std::string(amqp_error_string2(rc)));
    amqp_set_rpc_timeout(conn_, &timeout);
    require(amqp_login(conn_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                       info.password),
            "login");
    amqp_channel_open(conn_, ch_);
    require(amqp_get_rpc_reply(conn_), "channel.open");
    open_ = true;
  }

  ~amqp_client() {
    if (!open_) return;
    amqp_channel_close(conn_, ch_, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_client(const amqp_client&) = delete;
  amqp_client& operator=(const amqp_client&) = delete;

  // "" on success; the broker's reason when it refused at channel level (the channel is
  // reopened, as the publisher does).
  std::string declare_queue(const std::string& queue, bool durable,
                            amqp_table_t args = amqp_empty_table) {
    amqp_queue_declare(conn_, ch_, sb::amqp::bytes(queue), 0, durable ? 1 : 0, 0, 0, args);
    return outcome("queue.declare");
  }
  std::string bind(const std::string& queue, const std::string& exchange, const std::string& key) {
    amqp_queue_bind(conn_, ch_, sb::amqp::bytes(queue), sb::amqp::bytes(exchange),
                    sb::amqp::bytes(key), amqp_empty_table);
    return outcome("queue.bind");
  }
  std::string delete_queue(const std::string& queue) {
    amqp_queue_delete(conn_, ch_, sb::amqp::bytes(queue), 0, 0);
    return outcome("queue.delete");
  }
  std::string delete_exchange(const std::string& exchange) {
    amqp_exchange_delete(conn_, ch_, sb::amqp::bytes(exchange), 0);
    return outcome("exchange.delete");
  }
  std::optional<std::uint32_t> message_count(const std::string& queue) {
    auto* ok = amqp_queue_declare(conn_, ch_, sb::amqp::bytes(queue), /*passive=*/1, 0, 0, 0,
                                  amqp_empty_table);
    if (!outcome("queue.declare passive").empty() || !ok) return std::nullopt;
    return ok->message_count;
  }

  std::optional<received> get(const std::string& queue) {
    auto reply = amqp_basic_get(conn_, ch_, sb::amqp::bytes(queue), /*no_ack=*/1);
    require(reply, "basic.get");
    if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
    amqp_message_t msg;
    require(amqp_read_message(conn_, ch_, &msg, 0), "read message");
    received r;
    const auto& p = msg.properties;
    auto str = [](amqp_bytes_t b) { return std::string(sb::amqp::view(b)); };
    if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) r.message_id = str(p.message_id);
    if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) r.correlation_id = str(p.correlation_id);
    if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) r.content_type = str(p.content_type);
    if (p._flags & AMQP_BASIC_TYPE_FLAG) r.type = str(p.type);
    if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) r.delivery_mode = p.delivery_mode;
    if (p._flags & AMQP_BASIC_PRIORITY_FLAG) {
      r.has_priority = true;
      r.priority = p.priority;
    }
    if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) {
      r.has_timestamp = true;
      r.timestamp = p.timestamp;
    }
    if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
      for (int i = 0; i < p.headers.num_entries; ++i) {
        const auto& e = p.headers.entries[i];
        if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)
          r.headers[str(e.key)] = str(e.value.value.bytes);
      }
    }
    r.body = str(msg.body);
    amqp_destroy_message(&msg);
    amqp_maybe_release_buffers(conn_);
    return r;
  }

  // Everything in the queue: waits up to `timeout` for at least `expect` messages, then takes
  // what else is there (duplicates after an outage).
  std::vector<received> drain(const std::string& queue, std::size_t expect,
                              std::chrono::milliseconds timeout) {
    std::vector<received> out;
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      auto m = get(queue);
      if (m) {
        out.push_back(std::move(*m));
        continue;
      }
      if (out.size() >= expect || clock_type::now() >= deadline) return out;
      std::this_thread::sleep_for(50ms);
    }
  }

 private:
  void require(const amqp_rpc_reply_t& reply, const char* what) {
    auto o = sb::amqp::check(reply, what);
    REQUIRE_MESSAGE(static_cast<bool>(o), o.text);
  }
  std::string outcome(const char* what) {
    auto o = sb::amqp::check(amqp_get_rpc_reply(conn_), what);
    if (o) return {};
    REQUIRE_MESSAGE(o.lost == sb::amqp::loss::channel, o.text);
    amqp_channel_close_ok_t ok{};
    amqp_send_method(conn_, ch_, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    amqp_channel_open(conn_, ch_);
    require(amqp_get_rpc_reply(conn_), "channel.open");
    return o.text.empty() ? std::string("refused") : o.text;
  }

  // Owns the connection, so a failed REQUIRE in the constructor does not leak it.
  struct owner {
    amqp_connection_state_t state = amqp_new_connection();
    ~owner() {
      if (state) amqp_destroy_connection(state);
    }
  };
  owner owner_;
  amqp_connection_state_t conn_ = owner_.state;
  amqp_channel_t ch_ = 1;
  bool open_ = false;
};

// Deletes what a test case declared, whatever happened in it.
struct topology_cleanup {
  std::string exchange;
  std::vector<std::string> queues;
  ~topology_cleanup() {
    try {
      amqp_client admin(broker_url());
      for (const auto& q : queues) admin.delete_queue(q);
      admin.delete_exchange(exchange);
    } catch (...) {
    }
  }
};

// Captures what the publisher logs (stderr) and echoes it afterwards, so it still shows.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    char path[] = "/tmp/sbpub-log-XXXXXX";
    fd_ = ::mkstemp(path);
    REQUIRE(fd_ >= 0);
    path_ = path;
    saved_ = ::dup(2);
    ::dup2(fd_, 2);
  }
  std::string finish() {
    if (saved_ < 0) return text_;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
    ::close(fd_);
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    text_ = ss.str();
    std::remove(path_.c_str());
    std::fwrite(text_.data(), 1, text_.size(), stderr);
    return text_;
  }
  ~stderr_capture() { finish(); }

 private:
  int fd_ = -1, saved_ = -1;
  std::string path_, text_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("publisher: 1000 rows reach their skill queues with the contract's properties") {
  const std::string exchange = run_prefix() + ".contract";
  const std::string q_billing = exchange + ".billing", q_general = exchange + ".general",
                    q_vip = exchange + ".vip";
  topology_cleanup cleanup{exchange, {q_billing, q_general, q_vip}};
  const std::vector<sb::skill_config> skills = {skill("billing", q_billing, 10),
                                                skill("general", q_general),
                                                skill("vip", q_vip, 0, "quorum")};
  const std::string names[] = {"billing", "general", "vip"};

  fake_outbox outbox;
  std::map<std::string, sb::outbox_row> sent;  // by message_id
  for (int n = 0; n < 1000; ++n) {
    auto row = make_row(n, names[n % 3]);
    sent.emplace(row.message_id, row);
    outbox.add(std::move(row));
  }

  sb::publisher pub(options(exchange), skills, outbox.source());
  const auto t0 = clock_type::now();
  pub.start();
  REQUIRE_MESSAGE(wait_until([&] { return outbox.size() == 0; }, 20s), outbox.size(),
                  " rows still in the outbox");
  const auto secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  MESSAGE(fmt::format("1000 rows confirmed in {:.3f} s ({:.0f} rows/s, connect included)", secs,
                      1000 / secs));
  CHECK(pub.confirmed_total() == 1000);
  CHECK(pub.in_flight() == 0);
  CHECK(pub.connected());
  CHECK(outbox.confirmed_twice() == 0);
  const auto st = pub.stats();
  CHECK(st.returned == 0);
  CHECK(st.nacked == 0);
  CHECK(st.declare_failures == 0);

  amqp_client agent(broker_url());
  std::set<std::string> seen;
  for (const auto& [name, queue] : std::map<std::string, std::string>{
           {"billing", q_billing}, {"general", q_general}, {"vip", q_vip}}) {
    CAPTURE(queue);
    const auto msgs = agent.drain(queue, name == "billing" ? 334 : 333, 10s);
    CHECK(msgs.size() == (name == "billing" ? 334u : 333u));
    int last_priority = 255;
    bool priority_order = true;
    for (const auto& m : msgs) {
      CAPTURE(m.message_id);
      auto it = sent.find(m.message_id);
      REQUIRE(it != sent.end());
      const auto& row = it->second;
      CHECK(seen.insert(m.message_id).second);
      CHECK(row.skill == name);
      CHECK(m.content_type == "application/json");
      CHECK(m.delivery_mode == 2);
      CHECK(m.correlation_id == row.conversation_id);
      CHECK(m.type == "conversation.message");
      CHECK(m.has_timestamp);
      CHECK(m.timestamp == static_cast<std::uint64_t>(row.created_at / 1000));
      CHECK(m.has_priority);
      CHECK(m.priority == row.priority);
      const auto header = [&](const char* key) {
        auto h = m.headers.find(key);
        return h == m.headers.end() ? std::string("(missing)") : h->second;
      };
      CHECK(header("x-channel") == row.channel);
      CHECK(header("x-channel-type") == row.channel_type);
      CHECK(header("x-skill") == row.skill);
      CHECK(m.body == row.body);
      if (m.priority > last_priority) priority_order = false;
      last_priority = m.priority;
    }
    // Everything was queued before the first get: a priority queue hands out the highest first.
    if (name == "billing") CHECK_MESSAGE(priority_order, "billing is not a priority queue");
  }
  CHECK(seen.size() == 1000);

  // Durable: redeclaring a queue as non-durable is refused because the existing one is durable.
  for (const auto& [queue, args] :
       std::vector<std::pair<std::string, int>>{{q_billing, 10}, {q_general, 0}}) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes("x-max-priority");
    e.value.kind = AMQP_FIELD_KIND_I32;
    e.value.value.i32 = args;
    const auto refused = agent.declare_queue(queue, /*durable=*/false,
                                             args ? amqp_table_t{1, &e} : amqp_empty_table);
    CHECK_MESSAGE(refused.find("durable") != std::string::npos, queue, ": ", refused);
  }

  pub.stop(2s);
  CHECK_FALSE(pub.connected());
  pub.stop(2s);  // safe twice
}

// Issue #18: the confirm window is bounded by bytes too. With payloads of up to
// store.max_payload_bytes, 512 in flight could be 512 MiB of the daemon's memory.
TEST_CASE("publisher: the payload bytes in flight stay under confirm_window_bytes") {
  const std::string exchange = run_prefix() + ".bytes";
  const std::string queue = exchange + ".general";
  topology_cleanup cleanup{exchange, {queue}};
  fake_outbox outbox;
  constexpr std::size_t payload = 256 << 10;
  constexpr int rows = 120;
  for (int n = 0; n < rows; ++n) {
    auto row = make_row(n, "general");
    row.body += std::string(payload - row.body.size(), ' ');  // JSON may end with white space
    outbox.add(std::move(row));
  }
  // One row bigger than the whole byte budget still goes out: at least one is in flight.
  auto big = make_row(rows, "general");
  big.body += std::string((2 << 20) - big.body.size(), ' ');
  outbox.add(std::move(big));

  auto o = options(exchange);
  o.confirm_window_bytes = 1 << 20;  // four of the payloads
  sb::publisher pub(o, {skill("general", queue)}, outbox.source());
  std::atomic<bool> done{false};
  std::size_t most = 0;
  std::thread sampler([&] {
    while (!done) {
      most = std::max<std::size_t>(most, pub.in_flight());
      std::this_thread::sleep_for(200us);
    }
  });
  pub.start();
  const bool emptied = wait_until([&] { return outbox.size() == 0; }, 30s);
  done = true;
  sampler.join();
  REQUIRE_MESSAGE(emptied, outbox.size(), " rows still in the outbox");
  MESSAGE("most rows in flight at once: ", most);
  CHECK(most >= 1);
  CHECK(most <= 5);  // 1 MiB / 256 KiB, and the one that crosses the budget
  CHECK(pub.confirmed_total() == rows + 1);
  amqp_client agent(broker_url());
  const auto msgs = agent.drain(queue, rows + 1, 20s);
  CHECK(msgs.size() == rows + 1);
  pub.stop(2s);
}

TEST_CASE("publisher: rows no queue takes stay in the outbox until a queue is bound") {
  const std::string exchange = run_prefix() + ".unroutable";
  const std::string q_a = exchange + ".a", q_b = exchange + ".b";
  topology_cleanup cleanup{exchange, {q_a, q_b}};
  fake_outbox outbox;
  sb::publisher pub(options(exchange), {skill("a", q_a), skill("b", q_b)}, outbox.source());
  pub.start();

  amqp_client admin(broker_url());
  // The publisher declared both queues; delete b behind its back.
  REQUIRE(wait_until([&] { return pub.connected() && admin.message_count(q_b).has_value(); }, 10s));
  REQUIRE(admin.delete_queue(q_b).empty());

  std::vector<std::int64_t> b_rows, ghost_rows;
  for (int n = 0; n < 150; ++n) {
    // "ghost" is a skill no queue was ever declared for (e.g. removed from the config).
    const std::string s = n % 3 == 0 ? "a" : n % 3 == 1 ? "b" : "ghost";
    const auto seq = outbox.add(make_row(n, s));
    if (s == "b") b_rows.push_back(seq);
    if (s == "ghost") ghost_rows.push_back(seq);
  }
  pub.notify();
  REQUIRE_MESSAGE(wait_until([&] { return outbox.count_skill("a") == 0; }, 10s),
                  "rows of the routable skill were not all confirmed");
  // Returned rows keep being retried with a backoff; they must never count as confirmed.
  std::this_thread::sleep_for(2s);
  CHECK(outbox.size() == 100);
  for (auto seq : b_rows) CHECK_FALSE(outbox.was_confirmed(seq));
  for (auto seq : ghost_rows) CHECK_FALSE(outbox.was_confirmed(seq));
  // Each was returned once; after that only one probe per skill and retry goes out, not the
  // whole backlog again.
  const auto returned = pub.stats().returned;
  CHECK(returned >= 100);
  CHECK(returned <= 130);
  CHECK(pub.confirmed_total() == 50);

  // An operator recreates the queue: b's rows go out on the next retry, ghost's stay.
  REQUIRE(admin.declare_queue(q_b, true).empty());
  REQUIRE(admin.bind(q_b, exchange, "b").empty());
  REQUIRE_MESSAGE(wait_until([&] { return outbox.count_skill("b") == 0; }, 10s),
                  outbox.count_skill("b"), " rows of b still in the outbox");
  CHECK(outbox.count_skill("ghost") == 50);
  const auto msgs = admin.drain(q_b, 50, 5s);
  std::set<std::string> ids;
  for (const auto& m : msgs) ids.insert(m.message_id);
  CHECK(ids.size() == 50);
  CHECK(admin.drain(q_a, 50, 5s).size() == 50);
  for (auto seq : b_rows) CHECK(outbox.was_confirmed(seq));
  for (auto seq : ghost_rows) CHECK_FALSE(outbox.was_confirmed(seq));

  pub.stop(1s);
  CHECK(outbox.count_skill("ghost") == 50);
}

TEST_CASE("publisher: a queue declared with other arguments is reported; other skills work") {
  const std::string exchange = run_prefix() + ".precondition";
  const std::string q_pre = exchange + ".pre", q_ok = exchange + ".ok";
  topology_cleanup cleanup{exchange, {q_pre, q_ok}};
  {
    // Someone declared the queue by hand with another max priority.
    amqp_client admin(broker_url());
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes("x-max-priority");
    e.value.kind = AMQP_FIELD_KIND_I32;
    e.value.value.i32 = 3;
    REQUIRE(admin.declare_queue(q_pre, true, amqp_table_t{1, &e}).empty());
  }
  fake_outbox outbox;
  std::vector<std::int64_t> pre_rows;
  for (int n = 0; n < 60; ++n) {
    const auto seq = outbox.add(make_row(n, n % 2 ? "pre" : "ok"));
    if (n % 2) pre_rows.push_back(seq);
  }

  std::string log;
  {
    stderr_capture capture;
    // "pre" is listed first: its failure must not stop "ok" from being declared.
    sb::publisher pub(options(exchange), {skill("pre", q_pre, 10), skill("ok", q_ok)},
                      outbox.source());
    pub.start();
    const bool drained = wait_until([&] { return outbox.count_skill("ok") == 0; }, 10s);
    std::this_thread::sleep_for(1s);
    const auto st = pub.stats();
    pub.stop(1s);
    log = capture.finish();
    CHECK_MESSAGE(drained, "rows of the healthy skill were not confirmed");
    CHECK(st.declare_failures >= 1);
    CHECK(st.connected);
  }
  CHECK(outbox.count_skill("pre") == 30);
  for (auto seq : pre_rows) CHECK_FALSE(outbox.was_confirmed(seq));
  CHECK(log.find("queue=" + q_pre) != std::string::npos);
  CHECK(log.find("x-max-priority") != std::string::npos);
  CHECK(log.find("delete the queue") != std::string::npos);
  CHECK(log.find("PRECONDITION_FAILED") != std::string::npos);

  amqp_client agent(broker_url());
  CHECK(agent.drain(q_ok, 30, 5s).size() == 30);
  CHECK(agent.message_count(q_pre) == std::optional<std::uint32_t>(0));
}

TEST_CASE("publisher: nothing is lost when the broker connection goes away") {
  const std::string node = broker_node();
  std::string action;
  SUBCASE("connections closed by the broker") { action = "close"; }
  SUBCASE("broker application stopped and started") { action = "restart"; }
  CAPTURE(action);

  const std::string exchange = run_prefix() + ".outage-" + action;
  const std::string q_c = exchange + ".classic", q_q = exchange + ".quorum";
  topology_cleanup cleanup{exchange, {q_c, q_q}};
  fake_outbox outbox;
  sb::publisher pub(options(exchange), {skill("c", q_c, 5), skill("q", q_q, 0, "quorum")},
                    outbox.source());
  pub.start();
  REQUIRE(wait_until([&] { return pub.connected(); }, 10s));

  // Rows keep arriving through the outage, as requests would.
  constexpr int total = 3000;
  std::set<std::string> ids;
  std::mutex ids_mu;
  // Bursts larger than the confirm window, so the loss is likely to catch rows in flight.
  std::thread producer([&] {
    for (int n = 0; n < total; ++n) {
      auto row = make_row(n, n % 2 ? "c" : "q");
      {
        std::lock_guard lock(ids_mu);
        ids.insert(row.message_id);
      }
      outbox.add(std::move(row));
      if (n % 500 == 499) {
        pub.notify();
        std::this_thread::sleep_for(250ms);
      }
    }
    pub.notify();
  });

  std::this_thread::sleep_for(300ms);
  if (action == "close") {
    CHECK(rabbitmqctl("close_all_connections 'switchboard outage test'") == 0);
  } else {
    CHECK(rabbitmqctl("stop_app") == 0);
    std::this_thread::sleep_for(1500ms);
    CHECK_MESSAGE(rabbitmqctl("start_app") == 0,
                  "start_app failed. If the broker's AMQP port is in 35672-35682, rabbitmqctl's "
                  "own Erlang distribution listener (RABBITMQ_CTL_DIST_PORT_MIN, default 35672) "
                  "may have taken it while the app was stopped");
  }
  producer.join();
  REQUIRE_MESSAGE(wait_until([&] { return outbox.size() == 0; }, 25s), outbox.size(),
                  " rows still in the outbox after the broker came back");
  // The publisher counts a flush of confirms after the outbox took it: wait for the count.
  CHECK(wait_until([&] { return pub.stats().confirmed >= static_cast<std::uint64_t>(total); }, 5s));
  const auto st = pub.stats();
  CHECK(st.reconnects >= 1);
  pub.stop(2s);

  amqp_client agent(broker_url());
  std::set<std::string> got;
  std::size_t duplicates = 0;
  for (const auto& q : {q_c, q_q})
    for (const auto& m : agent.drain(q, total / 2, 10s))
      if (!got.insert(m.message_id).second) ++duplicates;
  MESSAGE(
      fmt::format("{} rows, {} delivered, {} duplicate(s), {} reconnect(s), confirmed twice: {}",
                  total, got.size(), duplicates, st.reconnects, outbox.confirmed_twice()));
  CHECK(got.size() == static_cast<std::size_t>(total));
  CHECK(got == ids);
}

TEST_CASE("publisher: rows awaiting confirms when the connection drops are published again") {
  broker_node();
  const std::string exchange = run_prefix() + ".inflight";
  const std::string q = exchange + ".a";
  topology_cleanup cleanup{exchange, {q}};
  fake_outbox outbox;
  std::set<std::string> ids;
  sb::publisher pub(options(exchange), {skill("a", q)}, outbox.source());
  pub.start();
  REQUIRE(wait_until([&] { return pub.connected(); }, 10s));

  // The disk alarm holds published rows unconfirmed; then the connection goes away with them.
  struct alarm_guard {
    ~alarm_guard() { rabbitmqctl("set_disk_free_limit 50MB"); }
  } guard;
  REQUIRE(rabbitmqctl("set_disk_free_limit 1000000GB") == 0);
  for (int n = 0; n < 200; ++n) {
    auto row = make_row(n, "a");
    ids.insert(row.message_id);
    outbox.add(std::move(row));
  }
  pub.notify();
  REQUIRE(wait_until([&] { return pub.stats().blocked && pub.in_flight() > 0; }, 10s));
  const auto in_flight = pub.in_flight();
  CHECK(rabbitmqctl("close_all_connections 'switchboard in-flight test'") == 0);
  REQUIRE(wait_until([&] { return pub.stats().reconnects >= 1; }, 10s));
  CHECK(outbox.size() >= 199);  // nothing lost with the connection was reported confirmed
  REQUIRE(rabbitmqctl("set_disk_free_limit 50MB") == 0);
  REQUIRE_MESSAGE(wait_until([&] { return outbox.size() == 0; }, 15s), outbox.size(),
                  " rows still in the outbox");
  pub.stop(1s);

  amqp_client agent(broker_url());
  std::set<std::string> got;
  std::size_t duplicates = 0;
  for (const auto& m : agent.drain(q, ids.size(), 5s))
    if (!got.insert(m.message_id).second) ++duplicates;
  MESSAGE(fmt::format("{} in flight at the loss; {} delivered, {} duplicate(s)", in_flight,
                      got.size(), duplicates));
  CHECK(got == ids);
}

TEST_CASE("publisher: a broker alarm blocks publishing; rows wait and go out when it clears") {
  broker_node();
  const std::string exchange = run_prefix() + ".alarm";
  const std::string q = exchange + ".a";
  topology_cleanup cleanup{exchange, {q}};
  fake_outbox outbox;
  sb::publisher pub(options(exchange), {skill("a", q)}, outbox.source());
  pub.start();
  REQUIRE(wait_until([&] { return pub.connected(); }, 10s));

  // A free-disk limit no disk meets raises the disk alarm at once; the guard always lifts it.
  struct alarm_guard {
    ~alarm_guard() { rabbitmqctl("set_disk_free_limit 50MB"); }
  } guard;
  REQUIRE(rabbitmqctl("set_disk_free_limit 1000000GB") == 0);
  // RabbitMQ tells a connection it is blocked when it next publishes, not before: the first
  // message may get through, the rest wait in the socket and the window.
  for (int n = 0; n < 100; ++n) outbox.add(make_row(n, "a"));
  pub.notify();
  REQUIRE_MESSAGE(wait_until([&] { return pub.stats().blocked; }, 10s),
                  "connection.blocked never arrived");
  std::this_thread::sleep_for(1s);
  CHECK(outbox.size() >= 99);
  CHECK(pub.confirmed_total() <= 1);
  CHECK(pub.in_flight() <= 100);

  SUBCASE("the alarm clears") {
    REQUIRE(rabbitmqctl("set_disk_free_limit 50MB") == 0);
    REQUIRE(wait_until([&] { return outbox.size() == 0; }, 10s));
    CHECK_FALSE(pub.stats().blocked);
    pub.stop(1s);
    amqp_client agent(broker_url());
    CHECK(agent.drain(q, 100, 5s).size() == 100);
  }
  SUBCASE("stop while blocked is bounded and leaves the rows in the outbox") {
    // The blocked broker does not read our socket, so the close cannot complete politely:
    // stop must still return (deadline + close timeouts), and nothing is reported confirmed.
    const auto t0 = clock_type::now();
    pub.stop(500ms);
    const auto took = clock_type::now() - t0;
    CHECK(took < 7s);
    MESSAGE(fmt::format("stop(500ms) while blocked took {} ms",
                        std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    CHECK(outbox.size() >= 99);
  }
}

TEST_CASE("publisher: nacked rows (a full queue with reject-publish) are published again") {
  broker_node();
  const std::string exchange = run_prefix() + ".nack";
  const std::string q = exchange + ".a", policy = run_prefix() + "-nack";
  topology_cleanup cleanup{exchange, {q}};
  struct policy_guard {
    std::string name;
    ~policy_guard() { rabbitmqctl(fmt::format("clear_policy '{}'", name)); }
  } guard{policy};
  // A policy, not queue arguments: the publisher's declare stays equivalent.
  REQUIRE(rabbitmqctl(fmt::format("set_policy --apply-to queues '{}' '^{}$' "
                                  "'{{\"max-length\":10,\"overflow\":\"reject-publish\"}}'",
                                  policy, q)) == 0);
  fake_outbox outbox;
  std::set<std::string> ids;
  for (int n = 0; n < 30; ++n) {
    auto row = make_row(n, "a");
    ids.insert(row.message_id);
    outbox.add(std::move(row));
  }
  sb::publisher pub(options(exchange), {skill("a", q)}, outbox.source());
  pub.start();
  REQUIRE(wait_until([&] { return outbox.size() == 20 && pub.stats().nacked > 0; }, 10s));
  std::this_thread::sleep_for(500ms);
  CHECK(outbox.size() == 20);  // retried, nacked again, never reported

  // The agent makes room; the retries get in.
  amqp_client agent(broker_url());
  std::set<std::string> got;
  const auto deadline = clock_type::now() + 15s;
  while (got.size() < ids.size() && clock_type::now() < deadline)
    for (const auto& m : agent.drain(q, 1, 500ms)) got.insert(m.message_id);
  CHECK(got == ids);
  CHECK(wait_until([&] { return outbox.size() == 0; }, 5s));
  pub.stop(1s);
}

TEST_CASE("publisher: a row above the broker's max_message_size is parked, the rest go on") {
  broker_node();
  const std::string exchange = run_prefix() + ".toolarge";
  const std::string q = exchange + ".a";
  topology_cleanup cleanup{exchange, {q}};
  // New channels read the limit (RabbitMQ 3.10's default is 128 MiB). This case runs alone.
  struct limit_guard {
    ~limit_guard() {
      rabbitmqctl("eval 'application:set_env(rabbit, max_message_size, 134217728).'");
    }
  } guard;
  REQUIRE(rabbitmqctl("eval 'application:set_env(rabbit, max_message_size, 65536).'") == 0);
  fake_outbox outbox;
  std::set<std::string> ids;
  std::int64_t big_seq = 0;
  std::string big_id;
  for (int n = 0; n < 60; ++n) {
    auto row = make_row(n, "a");
    if (n == 20) {  // one in the middle of the window, above the limit
      row.body += std::string((100 << 10) - row.body.size(), ' ');
      big_id = row.message_id;
      big_seq = outbox.add(std::move(row));
      continue;
    }
    ids.insert(row.message_id);
    outbox.add(std::move(row));
  }
  sb::publisher pub(options(exchange), {skill("a", q)}, outbox.source());
  pub.start();
  REQUIRE_MESSAGE(wait_until([&] { return outbox.size() == 0; }, 20s), outbox.size(),
                  " rows still in the outbox");
  const auto parked = outbox.parked();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].seq == big_seq);
  CHECK(parked[0].bytes == 100 << 10);
  CHECK(parked[0].reason.find("65536") != std::string::npos);
  CHECK(pub.stats().parked == 1);
  CHECK(pub.confirmed_total() == ids.size());
  amqp_client agent(broker_url());
  std::set<std::string> got;
  for (const auto& m : agent.drain(q, ids.size(), 5s)) got.insert(m.message_id);
  CHECK(got == ids);  // every other row, duplicates of those in flight at the 406 aside
  CHECK_FALSE(got.contains(big_id));

  // Known now: another row above the limit is parked without being published (the channel
  // stays open), and a row below it goes out.
  const auto reconnects = pub.stats().reconnects;
  auto again = make_row(100, "a");
  again.body += std::string((80 << 10) - again.body.size(), ' ');
  const auto again_seq = outbox.add(std::move(again));
  const auto fine_seq = outbox.add(make_row(101, "a"));
  pub.notify();
  REQUIRE(wait_until([&] { return outbox.size() == 0; }, 10s));
  CHECK(outbox.parked().size() == 2);
  CHECK(outbox.parked().back().seq == again_seq);
  CHECK(outbox.was_confirmed(fine_seq));
  CHECK(pub.stats().reconnects == reconnects);

  // The limit is raised: a new connection forgets the old one, the row goes out.
  REQUIRE(rabbitmqctl("eval 'application:set_env(rabbit, max_message_size, 134217728).'") == 0);
  CHECK(rabbitmqctl("close_all_connections 'switchboard max size test'") == 0);
  REQUIRE(wait_until([&] { return pub.stats().reconnects > reconnects && pub.connected(); }, 10s));
  auto retried = make_row(102, "a");
  retried.body += std::string((100 << 10) - retried.body.size(), ' ');
  const auto retried_seq = outbox.add(std::move(retried));
  pub.notify();
  CHECK(wait_until([&] { return outbox.was_confirmed(retried_seq); }, 10s));
  CHECK(outbox.parked().size() == 2);
  pub.stop(1s);
}

TEST_CASE("publisher: a channel the broker closes is reopened and the topology declared again") {
  const std::string exchange = run_prefix() + ".reopen";
  const std::string q = exchange + ".a";
  topology_cleanup cleanup{exchange, {q}};
  fake_outbox outbox;
  sb::publisher pub(options(exchange), {skill("a", q)}, outbox.source());
  pub.start();
  amqp_client admin(broker_url());
  REQUIRE(wait_until([&] { return pub.connected() && admin.message_count(q).has_value(); }, 10s));
  // Publishing to a missing exchange is a channel error (404): the publisher must reopen,
  // declare the exchange and binding again, and publish what was lost with the channel.
  REQUIRE(admin.delete_exchange(exchange).empty());
  for (int n = 0; n < 50; ++n) outbox.add(make_row(n, "a"));
  pub.notify();
  REQUIRE_MESSAGE(wait_until([&] { return outbox.size() == 0; }, 10s), outbox.size(),
                  " rows still in the outbox");
  CHECK(pub.connected());
  CHECK(pub.stats().reconnects == 0);
  std::set<std::string> got;
  for (const auto& m : admin.drain(q, 50, 5s)) got.insert(m.message_id);
  CHECK(got.size() == 50);
  pub.stop(1s);
}

TEST_CASE("publisher: update_skills declares the new skill's queue and its rows go out") {
  const std::string exchange = run_prefix() + ".reload";
  const std::string q_a = exchange + ".a", q_new = exchange + ".new";
  topology_cleanup cleanup{exchange, {q_a, q_new}};
  fake_outbox outbox;
  for (int n = 0; n < 20; ++n) outbox.add(make_row(n, n % 2 ? "a" : "new"));
  sb::publisher pub(options(exchange), {skill("a", q_a)}, outbox.source());
  pub.start();
  REQUIRE(wait_until([&] { return outbox.count_skill("a") == 0; }, 10s));
  REQUIRE(wait_until([&] { return pub.stats().returned >= 10; }, 5s));
  CHECK(outbox.count_skill("new") == 10);

  pub.update_skills({skill("a", q_a), skill("new", q_new, 5)});
  REQUIRE(wait_until([&] { return outbox.size() == 0; }, 10s));
  amqp_client agent(broker_url());
  CHECK(agent.drain(q_new, 10, 5s).size() == 10);
  pub.stop(1s);
}

TEST_CASE("publisher: stop is prompt when the broker is unreachable or the url is bad") {
  fake_outbox outbox;
  outbox.add(make_row(1, "x"));
  sb::broker_options o;
  o.exchange = "unused";
  SUBCASE("nothing listens") { o.url = "amqp://guest:guest@127.0.0.1:1/%2f"; }
  SUBCASE("not a url") { o.url = "rabbit://nowhere"; }
  CAPTURE(o.url);
  sb::publisher pub(o, {skill("x", "q.x")}, outbox.source());
  pub.start();
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(pub.connected());
  const auto t0 = clock_type::now();
  pub.stop(500ms);
  CHECK(clock_type::now() - t0 < 3s);
  pub.stop(0ms);
  CHECK(outbox.size() == 1);
}
