// The publisher thread. The durability rules it keeps (docs/reliability.md, "The
// promise"):
// - a row counts as published only when the broker acks it, and a basic.return before that
//   ack turns it back into a failure (unroutable messages are acked at once);
// - nack, return, channel or connection loss: the row stays in the outbox and is published
//   again; the outbox is never told about it;
// - after a reconnect every row still in the outbox is published again, from seq 0: a row
//   whose confirm was lost with the connection is sent twice (at-least-once; consumers dedupe
//   on message_id) rather than never.
//
// Rows that must be published again are not kept in memory: the thread remembers the lowest
// such seq and when to retry, then rewinds its outbox cursor there. Rows it meets again that
// are in flight or already confirmed (delete not yet committed by the writer) are skipped.
// Memory is bounded by the confirm window plus the recently-confirmed seqs.
//
// One refusal is for good: a payload above the broker's max_message_size (406, which closes
// the channel). Published again it would close the channel again, for ever, and every row in
// flight with it. The broker's reply names its limit; from then on (until the next connection:
// the limit is in the broker's config file, so raising it restarts the broker) a row above it
// is not published but parked: handed to the store, which moves it out of the outbox for ops
// to see and publish again (GET /v1/parked).
//
// This file keeps the thread: its loop, the poll, the frames it reads and the channel it
// publishes on; it wires small pieces that each do one thing (issue #19). connection.hpp owns
// the connection (socket, TLS, login, close). The delivery policy is pure code, without
// rabbitmq-c, threads or a clock of its own, unit-tested in tests/unit/broker/:
// confirms.hpp (the confirm window, the recently confirmed seqs), outbox_cursor.hpp (where the
// outbox is read and from where rows go out again), skill_parking.hpp (skills without a queue:
// parked, then probed), overflow.hpp (a nacked row: on to overflow_to, or retried after a
// backoff) and backoff.hpp (every retry delay).
#include "broker/publisher.hpp"

#include "broker/amqp_util.hpp"
#include "broker/backoff.hpp"
#include "broker/confirms.hpp"
#include "broker/connection.hpp"
#include "broker/outbox_cursor.hpp"
#include "broker/overflow.hpp"
#include "broker/skill_parking.hpp"
#include "broker/topology.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/mutex.hpp"

#include <amqp.h>
#include <amqp_framing.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pthread.h>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>
#include <variant>

namespace sb {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view component = "publisher";
constexpr amqp_channel_t channel_id = 1;  // the one channel: declares, publishes, confirms

// Nothing the thread does with the broker may block without bound (the connection's timeouts
// are in connection.cpp). stop() waits this long past its deadline for the clean close before
// cutting the socket.
constexpr milliseconds close_grace{5000};
// Upper bound on one poll(): rabbitmq-c sends heartbeats and notices missing ones only when
// called, and the outbox is re-read this often even if a notify() was missed.
constexpr milliseconds idle_tick{1000};
// Frames handled per read burst, and rows looked at per pass when most are skipped, so a
// flood of acks cannot starve publishing and a long rescan cannot starve acks.
constexpr std::size_t max_frames_per_read = 4096;
constexpr std::size_t scan_passes = 8;
// How long a confirmed seq is remembered when no rescan proves it deleted (see confirms.hpp).
constexpr milliseconds confirm_memory{20000};
// A connection that lived this long was healthy: the next reconnect starts from reconnect_min.
constexpr milliseconds healthy_connection{10000};
// Repeated failures are logged at most this often (per skill for returns).
constexpr milliseconds return_log_every{60000};
constexpr milliseconds nack_log_every{10000};

milliseconds until(clock::time_point t, clock::time_point now) {
  return t <= now ? milliseconds{0} : std::chrono::ceil<milliseconds>(t - now);
}

// A queue argument (broker/topology.hpp) as rabbitmq-c writes it. The entry points into `value`.
amqp_table_entry_t table_entry(std::string_view key, std::int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp::bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

amqp_table_entry_t table_entry(std::string_view key, std::int32_t value) {
  amqp_table_entry_t e{};
  e.key = amqp::bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I32;
  e.value.value.i32 = value;
  return e;
}

amqp_table_entry_t table_entry(std::string_view key, const std::string& value) {
  return amqp::utf8_entry(key, value);
}

std::string_view method_name(amqp_method_number_t id) {
  const char* name = amqp_method_name(id);
  return name ? name : "unknown method";
}

}  // namespace

struct publisher::impl {
  impl(broker_options opts, std::vector<skill_config> skills, outbox_source source);
  ~impl();

  // Any thread.
  void start();
  void notify() noexcept;
  void stop(milliseconds deadline);
  void update_skills(std::vector<skill_config> skills);
  publisher_stats stats() const noexcept;
  void render_metrics(std::string& out) const;

  // Publisher thread only, below.
  void run() noexcept;
  void loop();
  void serve_once();

  bool connect();
  bool open_channel();
  bool declare_topology();
  bool declare_exchange(std::size_t& failed);
  bool declare_skill(const skill_config& skill, std::size_t& failed);
  void apply_skill_update();

  void publish_batch();
  bool should_skip(const outbox_row& row, clock::time_point now);
  bool publish(outbox_row row);
  bool too_large(const outbox_row& row) const noexcept {
    return max_message_bytes_ != 0 && row.body.size() > max_message_bytes_;
  }
  void park(const outbox_row& row);

  bool read_frames();
  void settle_enqueued();
  bool handle_frame(const amqp_frame_t& frame);
  void on_ack(std::uint64_t tag, bool multiple);
  void on_nack(std::uint64_t tag, bool multiple);
  bool on_return(const amqp_basic_return_t& method);
  bool on_channel_close(const amqp_channel_close_t& method);
  void on_connection_close(const amqp_connection_close_t& method);
  void on_settled(settlement& s);
  void flush_confirmed();

  bool absorb(const amqp::outcome& failure);
  bool recover_channel(const amqp::outcome& failure);
  void channel_lost(clock::time_point retry_at);
  void forget_in_flight(clock::time_point retry_at);
  void reset_after_loss(std::string_view why);
  void destroy_connection();
  void close_cleanly();

  // Room for one more publish: under the confirm window's count and its bytes.
  bool window_has_room() const noexcept {
    return window_.size() < std::max(1u, opts_.confirm_window) &&
           (window_.empty() || window_.bytes() < opts_.confirm_window_bytes);
  }
  milliseconds next_wakeup(clock::time_point now) const;
  void wait_for_input(milliseconds timeout);
  void wait_for_wake(milliseconds timeout);
  void drain_wake() noexcept;
  void update_gauges() noexcept;

  // Fixed at construction.
  const broker_options opts_;
  const outbox_source source_;
  int wake_fd_ = -1;

  // Shared with other threads.
  mutex stop_mu_;  // serialises start/stop
  std::thread thread_ SB_GUARDED_BY(stop_mu_);
  std::atomic<bool> stopping_{false};
  std::atomic<clock::rep> drain_deadline_{0};
  mutex life_mu_;
  std::condition_variable life_cv_;
  bool exited_ SB_GUARDED_BY(life_mu_) = false;
  mutex skills_mu_;
  std::vector<skill_config> new_skills_ SB_GUARDED_BY(skills_mu_);
  std::atomic<bool> skills_changed_{false};

  std::atomic<bool> connected_{false};
  std::atomic<bool> blocked_flag_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> confirmed_total_{0};
  std::atomic<std::uint64_t> returned_total_{0};
  std::atomic<std::uint64_t> nacked_total_{0};
  std::atomic<std::uint64_t> overflowed_total_{0};
  std::atomic<std::uint64_t> parked_total_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> declare_failures_{0};

  // Metrics by skill (the routing key a publish used), updated on the publisher thread.
  std::string published_skill_, published_label_;  // publish(): the last skill's label text
  metrics::counter_family published_{"switchboard_published_total",
                                     "Messages published to the broker, by skill (routing key); "
                                     "republished rows count again."};
  metrics::counter_family confirmed_by_skill_{
      "switchboard_confirmed_total",
      "Messages the broker confirmed (acked and routed to a queue), by skill."};
  metrics::counter_family returned_by_skill_{
      "switchboard_returned_total",
      "Messages the broker returned as unroutable (no queue bound), by skill; they are retried."};
  metrics::counter_family nacked_by_skill_{
      "switchboard_nacked_total",
      "Messages the broker nacked (a full queue, reject-publish), by skill."};
  metrics::counter_family overflowed_by_skill_{
      "switchboard_overflowed_total",
      "Nacked messages sent on to the full skill's overflow_to skill, by the full skill."};
  metrics::counter_family parked_by_skill_{
      "switchboard_parked_total",
      "Messages parked because the broker refuses them for good (a payload above its "
      "max_message_size), by skill; GET /v1/parked lists them."};
  metrics::histogram_family confirm_seconds_{
      "switchboard_publish_confirm_seconds",
      "Time from publishing a message to the broker's confirm.", metrics::latency_buckets()};

  // Publisher thread only.
  std::vector<skill_config> skills_;
  // The connection: its socket, login and close (connection.hpp). stop() may cut() it.
  broker_connection link_;
  amqp_connection_state_t conn() const noexcept { return link_.state(); }
  clock::time_point connected_at_{};
  bool channel_ready_ = false;  // open and in confirm mode
  bool blocked_ = false;
  unsigned connect_attempts_ = 0;
  unsigned channel_failures_ = 0;
  clock::time_point reconnect_at_{};
  clock::time_point reopen_at_{};
  clock::time_point next_refresh_{};

  confirm_window window_;
  recent_confirms confirms_{confirm_memory};
  std::vector<std::int64_t> to_report_;  // confirmed since the last flush
  std::vector<outbox_parking> to_park_;  // parked since the last flush
  // The broker's max_message_size, once a refusal told it (0: unknown). Per connection.
  std::size_t max_message_bytes_ = 0;
  outbox_cursor cursor_;  // where the outbox is read, and from where to publish again
  skill_parking parking_{return_log_every};  // skills with no queue: parked, then probed
  nack_policy nacks_{nack_log_every};        // a nacked row: on to the overflow skill, or retried
  // Rows a full queue nacked, to be published to its overflow skill; bounded by the window.
  overflow_queue overflow_;
  backoff delays_{opts_.reconnect_min, opts_.reconnect_max};  // every retry delay
};

// ---------------------------------------------------------------------------------------------
// Construction and the API other threads use.

publisher::impl::impl(broker_options opts, std::vector<skill_config> skills, outbox_source source)
    : opts_(std::move(opts)),
      source_(std::move(source)),
      skills_(std::move(skills)),
      link_(opts_.url) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0)
    log::warn(component,
              "eventfd failed ({}): new rows are noticed within {} ms instead of at once",
              std::strerror(errno), idle_tick.count());
}

publisher::impl::~impl() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void publisher::impl::start() {
  mutex_lock lock(stop_mu_);
  if (thread_.joinable() || stopping_) {
    log::warn(component, "start() called on a publisher that was already started");
    return;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-publisher");  // top -H, perf, gdb show it
    run();
  });
}

void publisher::impl::notify() noexcept {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  // EAGAIN only when the counter is saturated, which still leaves the fd readable.
  if (::write(wake_fd_, &one, sizeof one) < 0) return;
}

void publisher::impl::stop(milliseconds deadline) {
  mutex_lock lock(stop_mu_);
  if (!thread_.joinable()) return;  // never started, or already stopped
  deadline = std::max(deadline, milliseconds{0});
  drain_deadline_ = (clock::now() + deadline).time_since_epoch().count();
  stopping_ = true;
  notify();
  {
    // The thread stops publishing, waits for outstanding confirms until the deadline, then
    // closes. Only a socket call stuck past every timeout keeps it longer: cut the socket so
    // the call returns, and the thread exits through its usual error path.
    unique_lock life(life_mu_);
    if (!life_cv_.wait_for(life.native(), deadline + close_grace,
                           [&]() SB_REQUIRES(life_mu_) { return exited_; }))
      link_.cut();
  }
  thread_.join();
}

void publisher::impl::update_skills(std::vector<skill_config> skills) {
  {
    mutex_lock lock(skills_mu_);
    new_skills_ = std::move(skills);
  }
  skills_changed_ = true;
  notify();
}

void publisher::impl::render_metrics(std::string& out) const {
  const auto st = stats();
  metrics::gauge(out, "switchboard_broker_connected",
                 "1 while the publisher has a connection to the broker.", st.connected ? 1 : 0);
  metrics::gauge(out, "switchboard_broker_blocked",
                 "1 while the broker blocks publishing (its disk or memory alarm).",
                 st.blocked ? 1 : 0);
  metrics::gauge(out, "switchboard_publish_in_flight",
                 "Messages published and awaiting the broker's confirm.",
                 static_cast<double>(st.in_flight));
  metrics::counter(out, "switchboard_broker_reconnects_total",
                   "Established broker connections that were lost.",
                   static_cast<double>(st.reconnects));
  metrics::counter(out, "switchboard_broker_declare_failures_total",
                   "Exchange or queue declares and binds the broker refused (see the log).",
                   static_cast<double>(st.declare_failures));
  published_.render(out);
  confirmed_by_skill_.render(out);
  returned_by_skill_.render(out);
  nacked_by_skill_.render(out);
  overflowed_by_skill_.render(out);
  parked_by_skill_.render(out);
  confirm_seconds_.render(out);
}

publisher_stats publisher::impl::stats() const noexcept {
  publisher_stats s;
  s.connected = connected_;
  s.blocked = blocked_flag_;
  s.in_flight = in_flight_;
  s.confirmed = confirmed_total_;
  s.returned = returned_total_;
  s.nacked = nacked_total_;
  s.overflowed = overflowed_total_;
  s.parked = parked_total_;
  s.reconnects = reconnects_;
  s.declare_failures = declare_failures_;
  return s;
}

// ---------------------------------------------------------------------------------------------
// The thread's loop.

void publisher::impl::run() noexcept {
  try {
    if (!link_.url_ok()) {
      // The URL is part of the config: no retry can fix it. Stay idle (not ready) until stop.
      log::error(component,
                 "broker url is not a valid amqp:// or amqps:// URL "
                 "(amqp://user:password@host:port/vhost): nothing will be published");
      while (!stopping_) wait_for_wake(idle_tick);
    } else {
      loop();
      close_cleanly();
    }
  } catch (const std::exception& e) {
    try {
      log::error(component, "publisher thread failed: {}", e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      log::error(component, "publisher thread failed with an unknown exception");
    } catch (...) {
    }
  }
  destroy_connection();
  {
    mutex_lock life(life_mu_);
    exited_ = true;
  }
  life_cv_.notify_all();
}

void publisher::impl::loop() {
  for (;;) {
    const auto now = clock::now();
    if (stopping_) {
      // Draining: nothing new goes out; leave once every confirm is in or time is up.
      const clock::time_point deadline{clock::duration{drain_deadline_.load()}};
      if (!conn() || window_.empty() || now >= deadline) return;
    }
    try {
      if (!conn()) {
        if (stopping_) return;
        if (now < reconnect_at_) {
          wait_for_wake(std::min(until(reconnect_at_, now), idle_tick));
          continue;
        }
        connect();
        continue;
      }
      serve_once();
    } catch (const std::exception& e) {
      // Only the outbox callbacks throw (e.g. SQLite trouble). The broker side is intact; a
      // row whose report was lost stays in the outbox and goes out again, a duplicate at worst.
      log::error(component, "outbox access failed: {}", e.what());
      wait_for_wake(idle_tick);
    }
  }
}

// One pass: take what the broker sent, report confirms, publish what the window allows, then
// sleep until the socket, a notify() or a timer needs us.
void publisher::impl::serve_once() {
  auto now = clock::now();
  if (skills_changed_.exchange(false)) apply_skill_update();
  if (!conn()) return;
  if (!channel_ready_ && !stopping_ && now >= reopen_at_) {
    if (open_channel()) declare_topology();
    if (!conn()) return;
  }
  if (!read_frames()) return;
  flush_confirmed();
  now = clock::now();
  confirms_.expire(now);
  if (now >= next_refresh_) {
    cursor_.wake();  // a notify() may have been missed; re-reading is one indexed query
    next_refresh_ = now + idle_tick;
  }
  if (!stopping_) publish_batch();
  if (!conn()) return;
  update_gauges();
  wait_for_input(next_wakeup(clock::now()));
}

// ---------------------------------------------------------------------------------------------
// Connecting and declaring.

bool publisher::impl::connect() {
  const auto fail = [&](std::string_view why) {
    destroy_connection();
    const auto delay = delays_(connect_attempts_++);
    reconnect_at_ = clock::now() + delay;
    log::warn(component, "cannot connect to broker {}: {}; retry in {} ms", link_.where(), why,
              delay.count());
    return false;
  };

  if (auto o = link_.open(); !o) return fail(o.text);

  connected_at_ = clock::now();
  connected_ = true;
  log::info(component, "connected to broker {} (heartbeat {} s, confirm window {})", link_.where(),
            link_.heartbeat(), std::max(1u, opts_.confirm_window));
  if (!open_channel() || !declare_topology()) {
    if (!conn()) return false;  // reset_after_loss already scheduled the retry
  }
  // A fresh connection knows nothing of what the previous one published: start over. Nor
  // whether the broker's limits are still what the last one said.
  max_message_bytes_ = 0;
  cursor_.restart();
  return true;
}

// channel.open + confirm.select. The broker numbers the channel's publishes from 1 again.
bool publisher::impl::open_channel() {
  amqp_channel_open(conn(), channel_id);
  if (auto o = amqp::check(amqp_get_rpc_reply(conn()), "channel.open"); !o) return absorb(o);
  amqp_confirm_select(conn(), channel_id);
  if (auto o = amqp::check(amqp_get_rpc_reply(conn()), "confirm.select"); !o) return absorb(o);
  // Tags restart at 1 on the new channel: entries left from a dead one must not match them.
  forget_in_flight(clock::now());
  channel_ready_ = true;
  return true;
}

// The exchange and every skill's queue and binding. A declare the broker refuses closes the
// channel: it is reported, the channel reopened, and the other skills still get declared.
// That skill's messages are then unroutable: returned, so they stay in the outbox.
bool publisher::impl::declare_topology() {
  std::size_t failed = 0;
  if (!declare_exchange(failed)) return false;
  for (const auto& skill : skills_)
    if (!declare_skill(skill, failed)) return false;
  declare_failures_ += failed;
  if (failed == 0)
    log::info(component, "declared exchange={} and {} skill queue(s)", opts_.exchange,
              skills_.size());
  else
    log::warn(component, "declared exchange={} and skill queues: {} of {} declare(s) failed",
              opts_.exchange, failed, skills_.size() + 1);
  return true;
}

bool publisher::impl::declare_exchange(std::size_t& failed) {
  amqp_exchange_declare(
      conn(), channel_id, amqp::bytes(opts_.exchange), amqp_cstring_bytes("direct"),
      /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  auto o = amqp::check(amqp_get_rpc_reply(conn()), "declare exchange");
  if (o) return true;
  ++failed;
  if (o.lost == amqp::loss::channel)
    log::error(component,
               "exchange={} cannot be declared as direct and durable: {}. If it exists with "
               "another type or durability, delete it or change broker.exchange",
               opts_.exchange, o.text);
  return recover_channel(o);
}

bool publisher::impl::declare_skill(const skill_config& skill, std::size_t& failed) {
  const std::string queue = topology::queue_name(skill);
  const bool quorum = skill.queue_type == "quorum";
  if (auto problem = topology::priority_problem(skill.queue_type, skill.max_priority))
    log::warn(component, "skill={} queue={}: {}; max_priority is ignored", skill.name, queue,
              *problem);
  const auto arguments = topology::queue_arguments(skill, opts_.exchange);
  std::vector<amqp_table_entry_t> args;
  args.reserve(arguments.size());
  for (const auto& a : arguments)
    args.push_back(std::visit([&](const auto& v) { return table_entry(a.key, v); }, a.value));
  const amqp_table_t table{static_cast<int>(args.size()), args.data()};
  amqp_queue_declare(conn(), channel_id, amqp::bytes(queue), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, table);
  auto o = amqp::check(amqp_get_rpc_reply(conn()), "declare queue");
  if (!o) {
    ++failed;
    if (o.reply_code == AMQP_PRECONDITION_FAILED) {
      const auto arg = amqp::inequivalent_argument(o.text);
      log::error(component,
                 "skill={} queue={} already exists with different arguments{}{} ({}). It "
                 "keeps its old arguments (and, if it was bound before, gets the skill's "
                 "messages with them; if not, they wait in the outbox). Change the skill's "
                 "config to match, or drain and delete the queue (rabbitmqctl delete_queue "
                 "{}) so it is declared again",
                 skill.name, queue, arg.empty() ? "" : ": argument=", arg, o.text, queue);
    } else if (o.lost == amqp::loss::channel) {
      log::error(component, "skill={} queue={} cannot be declared: {}", skill.name, queue, o.text);
    }
    return recover_channel(o);
  }
  amqp_queue_bind(conn(), channel_id, amqp::bytes(queue), amqp::bytes(opts_.exchange),
                  amqp::bytes(skill.name), amqp_empty_table);
  o = amqp::check(amqp_get_rpc_reply(conn()), "bind queue");
  if (!o) {
    ++failed;
    if (o.lost == amqp::loss::channel)
      log::error(component, "skill={} queue={} cannot be bound to exchange={}: {}", skill.name,
                 queue, opts_.exchange, o.text);
    return recover_channel(o);
  }
  log::debug(component,
             "skill={} queue={} type={} max_priority={} escalate_after={}ms escalate_to={} "
             "max_length={} bound to exchange={}",
             skill.name, queue, quorum ? "quorum" : "classic", quorum ? 0 : skill.max_priority,
             skill.escalate_after ? skill.escalate_after->count() : 0,
             skill.escalate_to.value_or("-"), skill.max_length.value_or(0), opts_.exchange);
  return true;
}

void publisher::impl::apply_skill_update() {
  {
    mutex_lock lock(skills_mu_);
    skills_ = std::move(new_skills_);
    new_skills_.clear();
  }
  log::info(component, "skills changed: {} skill(s)", skills_.size());
  // A queue the reload added may be what parked skills were missing: try them again now.
  parking_.clear();
  cursor_.retry_now(clock::now());
  cursor_.wake();
  if (conn() && channel_ready_) declare_topology();
}

// ---------------------------------------------------------------------------------------------
// Publishing.

namespace {

// The publishes of one batch leave in as few TCP segments as fit. Each publish is three
// writes (method, header and body frames), and without a cork each body write pushes a
// segment through the stack to the broker on its own: the kernel's send path was half the
// publisher thread's time. Corked from the second publish of a batch on (a lone publish
// already leaves in one segment: rabbitmq-c sends its first two frames with MSG_MORE, and
// corking it would cost two setsockopt() calls for nothing, which at 2,000 webhooks/s were
// 3% of the daemon's CPU), uncorked (which sends what is left) when the batch ends, however
// it ends, so nothing waits for the kernel's 200 ms cork limit.
class tcp_cork {
 public:
  explicit tcp_cork(const amqp_connection_state_t& conn) : conn_(conn) {}
  ~tcp_cork() {
    // Only the socket that was corked: after a connection loss the number may be reused.
    if (fd_ >= 0 && conn_ && amqp_get_sockfd(conn_) == fd_) set(0);
  }
  tcp_cork(const tcp_cork&) = delete;
  tcp_cork& operator=(const tcp_cork&) = delete;
  // Called before each publish of a batch; corks before the second.
  void engage() {
    if (first_ || fd_ >= 0 || !conn_) {
      first_ = false;
      return;
    }
    fd_ = amqp_get_sockfd(conn_);
    set(1);
  }

 private:
  void set(int on) const {
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  }
  const amqp_connection_state_t& conn_;  // the publisher's, reset on a connection loss
  bool first_ = true;
  int fd_ = -1;
};

}  // namespace

// Fills the confirm window from the outbox, lowest seq first.
void publisher::impl::publish_batch() {
  if (!channel_ready_ || blocked_) return;  // blocked: publishes would only stall the socket
  const std::size_t window = std::max(1u, opts_.confirm_window);
  tcp_cork cork(link_.state());
  // Rows a full queue refused, on their way to its overflow skill, go before anything new.
  while (!overflow_.empty() && window_.size() < window) {
    auto row = overflow_.pop();
    if (too_large(row)) {
      park(row);
      continue;
    }
    cork.engage();
    if (!publish(std::move(row))) return;  // connection lost: everything was reset
  }
  auto now = clock::now();
  cursor_.rewind_if_due(now);
  for (std::size_t pass = 0; pass < scan_passes && cursor_.more() && window_has_room(); ++pass) {
    const std::size_t limit = window - window_.size();
    const std::int64_t after = cursor_.after();
    auto rows = source_.fetch(after, limit);
    const bool reached_end = cursor_.fetched(rows, limit);
    confirms_.saw_scan(after, rows, reached_end);
    if (rows.empty()) break;
    for (auto& row : rows) {
      if (!window_has_room()) {  // full by bytes: this row and the rest are read again later
        cursor_.stop_before(row.seq);
        return;
      }
      if (should_skip(row, now)) continue;
      cork.engage();
      if (!publish(std::move(row))) return;  // connection lost: everything was reset
    }
    now = clock::now();
  }
}

bool publisher::impl::should_skip(const outbox_row& row, clock::time_point now) {
  // Confirmed, but the writer has not deleted it yet: publishing it would be a duplicate.
  if (confirms_.contains(row.seq)) return true;
  // Met again by a rescan while its first publish is still unconfirmed, or on its way to an
  // overflow skill.
  if (window_.holds(row.seq) || overflow_.contains(row.seq)) return true;
  if (too_large(row)) {
    park(row);
    return true;
  }
  // The broker returned this skill's messages: nothing more of it until its retry time, then
  // one probe; the other rows come back when the probe is settled (see on_settled).
  if (const auto a = parking_.admit(row.skill, row.seq, now); !a.publish) {
    cursor_.reschedule(row.seq, a.retry_at);
    return true;
  }
  return false;
}

bool publisher::impl::publish(outbox_row row) {
  // The routing key: the row's skill, or the overflow skill its full queue sent it on to.
  const std::string& target = target_skill(row);
  amqp_table_entry_t headers[] = {amqp::utf8_entry("x-channel", row.channel),
                                  amqp::utf8_entry("x-channel-type", row.channel_type),
                                  amqp::utf8_entry("x-skill", target),
                                  amqp::utf8_entry("x-switchboard-overflow-from", row.skill)};
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
                 AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_PRIORITY_FLAG |
                 AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.message_id = amqp::bytes(row.message_id);
  props.correlation_id = amqp::bytes(row.conversation_id);
  props.type = amqp_cstring_bytes("conversation.message");
  props.timestamp =
      static_cast<std::uint64_t>(std::max<millis>(row.created_at, 0) / 1000);  // seconds
  props.priority = static_cast<std::uint8_t>(std::clamp(row.priority, 0, 255));
  props.headers = amqp_table_t{row.overflow_to.empty() ? 3 : 4, headers};

  // mandatory: a message no queue takes comes back as basic.return instead of vanishing.
  const int rc =
      amqp_basic_publish(conn(), channel_id, amqp::bytes(opts_.exchange), amqp::bytes(target),
                         /*mandatory=*/1, /*immediate=*/0, &props, amqp::bytes(row.body));
  // 0 only means the bytes reached the socket; the row is settled by the broker's ack.
  if (auto o = amqp::check(rc, "publish"); !o) {
    reset_after_loss(o.text);
    return false;
  }
  // The label text of the last skill published to, kept: most publishes go to the same one.
  if (target != published_skill_) {
    published_skill_ = target;
    published_label_ = metrics::labels({{"skill", target}});
  }
  published_.add(published_label_);
  row.published_at = clock::now();
  window_.add(std::move(row));
  return true;
}

void publisher::impl::park(const outbox_row& row) {
  const std::string& target = target_skill(row);
  std::string reason =
      fmt::format("message size {} is larger than the broker's max_message_size {}",
                  row.body.size(), max_message_bytes_);
  log::error(component,
             "parked seq={} message_id={} skill={}: {}; the rows behind it go on. See GET "
             "/v1/parked to publish it again once the broker takes it",
             row.seq, row.message_id, target, reason);
  parked_by_skill_.add(metrics::labels({{"skill", target}}));
  ++parked_total_;
  // Not published again while the store moves it: a rescan skips it like a confirmed row.
  confirms_.add(row.seq, clock::now());
  to_park_.push_back({row.seq, row.body.size(), std::move(reason)});
}

// ---------------------------------------------------------------------------------------------
// Reading what the broker sends.

bool publisher::impl::read_frames() {
  // Not {0, 0}: with a zero timeout rabbitmq-c never compares against the heartbeat deadline,
  // so a silent broker would go unnoticed. 1 µs is as good as "now" but takes that path.
  const timeval no_wait{0, 1};
  for (std::size_t n = 0; n < max_frames_per_read && conn(); ++n) {
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn(), &frame, &no_wait);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (auto o = amqp::check(rc, "read"); !o) {
      reset_after_loss(o.text);
      return false;
    }
    if (!handle_frame(frame)) return false;
  }
  if (!conn()) return false;
  amqp_maybe_release_buffers(conn());
  return true;
}

// Frames rabbitmq-c queued while it waited for an RPC's reply. When that reply is a channel
// close, the acks queued before it belong to the channel being closed: settle them before its
// tags are forgotten, or they would be matched against the next channel's tags.
void publisher::impl::settle_enqueued() {
  const timeval no_wait{0, 1};
  while (conn() && amqp_frames_enqueued(conn())) {
    amqp_frame_t frame;
    if (amqp_simple_wait_frame_noblock(conn(), &frame, &no_wait) != AMQP_STATUS_OK) return;
    if (!handle_frame(frame)) return;
  }
}

// Returns false when the connection is gone.
bool publisher::impl::handle_frame(const amqp_frame_t& frame) {
  // Header and body frames belong to a basic.return and are read by on_return.
  if (frame.frame_type != AMQP_FRAME_METHOD) return true;
  const auto id = frame.payload.method.id;
  const void* decoded = frame.payload.method.decoded;
  if (frame.channel == 0) {
    switch (id) {
      case AMQP_CONNECTION_CLOSE_METHOD:
        on_connection_close(*static_cast<const amqp_connection_close_t*>(decoded));
        return false;
      case AMQP_CONNECTION_BLOCKED_METHOD: {
        const auto* m = static_cast<const amqp_connection_blocked_t*>(decoded);
        blocked_ = true;
        blocked_flag_ = true;
        log::warn(component,
                  "broker blocked publishing ({}): rows wait in the outbox until it unblocks",
                  amqp::view(m->reason));
        return true;
      }
      case AMQP_CONNECTION_UNBLOCKED_METHOD:
        blocked_ = false;
        blocked_flag_ = false;
        log::info(component, "broker unblocked publishing");
        return true;
      default:
        log::debug(component, "ignored {} on channel 0", method_name(id));
        return true;
    }
  }
  if (frame.channel != channel_id) return true;
  switch (id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
      on_ack(m->delivery_tag, m->multiple != 0);
      return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
      on_nack(m->delivery_tag, m->multiple != 0);
      return true;
    }
    case AMQP_BASIC_RETURN_METHOD:
      return on_return(*static_cast<const amqp_basic_return_t*>(decoded));
    case AMQP_CHANNEL_CLOSE_METHOD:
      return on_channel_close(*static_cast<const amqp_channel_close_t*>(decoded));
    default:
      log::debug(component, "ignored {} on channel {}", method_name(id), frame.channel);
      return true;
  }
}

void publisher::impl::on_ack(std::uint64_t tag, bool multiple) {
  settlement s;
  window_.settle(tag, multiple, /*ack=*/true, s);
  on_settled(s);
}

void publisher::impl::on_nack(std::uint64_t tag, bool multiple) {
  settlement s;
  window_.settle(tag, multiple, /*ack=*/false, s);
  on_settled(s);
}

bool publisher::impl::on_return(const amqp_basic_return_t& method) {
  // basic.return names no delivery tag: the message itself (header + body frames that follow)
  // tells which row it was. Copy the method's fields first: reading reuses the frame memory.
  const std::string skill(amqp::view(method.routing_key));
  const std::string reply = fmt::format("{} {}", method.reply_code, amqp::view(method.reply_text));
  amqp_message_t message;
  if (auto o =
          amqp::check(amqp_read_message(conn(), channel_id, &message, 0), "read returned message");
      !o) {
    reset_after_loss(o.text);
    return false;
  }
  std::string message_id;
  if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    message_id = amqp::view(message.properties.message_id);
  amqp_destroy_message(&message);

  ++returned_total_;
  if (!window_.mark_returned(message_id))
    log::debug(component, "basic.return for message_id={} which is not in flight", message_id);

  if (const auto returns = parking_.return_received(skill, clock::now()))
    log::warn(component,
              "skill={} is unroutable: broker returned {} message(s) ({}); no queue is bound "
              "to exchange={} with routing key {}. The rows stay in the outbox and are retried",
              skill, *returns, reply, opts_.exchange, skill);
  return true;
}

bool publisher::impl::on_channel_close(const amqp_channel_close_t& method) {
  const std::string_view text = amqp::view(method.reply_text);
  log::warn(component, "broker closed the channel: {} {}; rows in flight will be published again",
            method.reply_code, text);
  // A payload above the broker's max_message_size: the rows above the limit it names are
  // parked when they are met again, the others go out at once, without a backoff.
  const std::size_t limit =
      method.reply_code == AMQP_PRECONDITION_FAILED ? amqp::max_message_size(text) : 0;
  if (limit != 0) max_message_bytes_ = limit;
  amqp_channel_close_ok_t ok{};
  if (auto o = amqp::check(amqp_send_method(conn(), channel_id, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok),
                           "channel.close-ok");
      !o) {
    reset_after_loss(o.text);
    return false;
  }
  // Reopen after a backoff: a channel that keeps closing (e.g. the exchange was deleted and
  // cannot be declared) must not spin.
  const auto delay = limit != 0 ? milliseconds(0) : delays_(channel_failures_++);
  channel_lost(clock::now() + delay);
  return true;
}

void publisher::impl::on_connection_close(const amqp_connection_close_t& method) {
  const auto why = fmt::format("broker closed the connection: {} {}", method.reply_code,
                               amqp::view(method.reply_text));
  amqp_connection_close_ok_t ok{};
  amqp_send_method(conn(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);  // courtesy; we leave anyway
  reset_after_loss(why);
}

// Acked rows are reported to the outbox; returned and nacked rows are scheduled again.
void publisher::impl::on_settled(settlement& s) {
  const auto now = clock::now();
  const auto skill_of = [](const outbox_row& row) {
    return metrics::labels({{"skill", target_skill(row)}});
  };
  for (const auto& row : s.confirmed) {
    confirmed_by_skill_.add(skill_of(row));
    confirm_seconds_.observe("", std::chrono::duration<double>(now - row.published_at).count());
    to_report_.push_back(row.seq);
    confirms_.add(row.seq, now);
    if (parking_.confirmed(row.skill)) {
      // The probe (or any row) got through: release the rows that waited for it.
      log::info(component, "skill={} is routable again", row.skill);
      cursor_.retry_now(now);
    }
  }
  if (!s.confirmed.empty()) {
    channel_failures_ = 0;
    nacks_.confirmed();
  }
  for (const auto& row : s.returned) {
    returned_by_skill_.add(skill_of(row));
    cursor_.reschedule(row.seq, parking_.returned(row.skill, row.seq, now, delays_));
  }
  if (!s.nacked.empty()) {
    nacked_total_ += s.nacked.size();
    // A nack is a full queue (x-max-length with reject-publish): the row goes on to its
    // queue's overflow skill when it has one. Otherwise it is back-pressure: retry with a
    // growing delay instead of at once (overflow.hpp).
    for (const auto& row : s.nacked) {
      parking_.nacked(row.skill, row.seq);
      nacked_by_skill_.add(metrics::labels({{"skill", target_skill(row)}}));
    }
    auto round = nacks_.settle(std::move(s.nacked), skills_, now, delays_);
    for (auto& o : round.overflowed) {
      overflowed_by_skill_.add(metrics::labels({{"skill", o.from}}));
      overflow_.push(std::move(o.row));
    }
    for (const auto seq : round.retried) cursor_.reschedule(seq, round.retry_at);
    overflowed_total_ += round.overflowed.size();
    if (const auto report = nacks_.report_due(now)) {
      if (report->retried)
        log::warn(component,
                  "broker nacked {} message(s) (e.g. skill={}: its queue is full or the broker "
                  "refused them); they stay in the outbox and will be published again",
                  report->retried, report->retried_example);
      if (report->overflowed)
        log::warn(component,
                  "{} message(s) overflowed from full queue(s) (e.g. skill={}) to their "
                  "overflow_to skill",
                  report->overflowed, report->overflowed_example);
    }
  }
}

void publisher::impl::flush_confirmed() {
  if (!to_park_.empty() && source_.parked) source_.parked(std::exchange(to_park_, {}));
  if (to_report_.empty()) return;
  // A copy, so that if the callback throws the seqs are still here for the next flush.
  source_.confirmed(to_report_);
  confirmed_total_ += to_report_.size();
  to_report_.clear();
}

// ---------------------------------------------------------------------------------------------
// Losing things.

// Acts on a failed call: acknowledges a close the broker started, then forgets what the lost
// channel or connection carried. Always false, so callers can `return absorb(o);`.
bool publisher::impl::absorb(const amqp::outcome& failure) {
  if (failure.lost == amqp::loss::channel) {
    settle_enqueued();
    if (!conn()) return false;
    amqp_channel_close_ok_t ok{};
    if (auto o =
            amqp::check(amqp_send_method(conn(), channel_id, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok),
                        "channel.close-ok");
        !o) {
      reset_after_loss(o.text);
      return false;
    }
    channel_lost(clock::now() + delays_(channel_failures_++));
    return false;
  }
  if (failure.reply_code != 0) {  // the broker sent connection.close: answer it
    amqp_connection_close_ok_t ok{};
    amqp_send_method(conn(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  }
  reset_after_loss(failure.text);
  return false;
}

// After a declare failed: the channel is reopened at once (the failure is about one queue,
// not the channel) so the remaining declares go ahead. False when that is impossible.
bool publisher::impl::recover_channel(const amqp::outcome& failure) {
  absorb(failure);
  if (!conn()) return false;
  return open_channel();
}

// The channel is gone: rows in flight have an unknown fate. Publish them again from the
// lowest one, once a channel is back.
void publisher::impl::channel_lost(clock::time_point retry_at) {
  channel_ready_ = false;
  reopen_at_ = retry_at;
  forget_in_flight(retry_at);
}

void publisher::impl::forget_in_flight(clock::time_point retry_at) {
  if (const std::int64_t lowest = window_.clear(); lowest != 0)
    cursor_.reschedule(lowest, retry_at);
  // Rows on their way to an overflow skill start again from their own skill.
  if (const std::int64_t lowest = overflow_.lowest(); lowest != 0)
    cursor_.reschedule(lowest, retry_at);
  overflow_.clear();
  parking_.forget_probes();  // a lost probe is sent again
  update_gauges();
}

void publisher::impl::reset_after_loss(std::string_view why) {
  const auto now = clock::now();
  const bool was_up = connected_;
  if (was_up && now - connected_at_ >= healthy_connection) connect_attempts_ = 0;
  const std::size_t unconfirmed = window_.size();
  destroy_connection();
  window_.clear();
  overflow_.clear();
  channel_ready_ = false;
  blocked_ = false;
  blocked_flag_ = false;
  // The next connection starts from seq 0 (see connect): nothing to reschedule.
  cursor_.forget_rescan();
  parking_.clear();
  if (was_up) ++reconnects_;
  update_gauges();
  if (stopping_) {
    log::warn(component,
              "connection lost while stopping: {}; {} unconfirmed row(s) stay in the outbox", why,
              unconfirmed);
  } else {
    const auto delay = delays_(connect_attempts_++);
    reconnect_at_ = now + delay;
    log::warn(component,
              "connection to broker {} lost: {}; reconnecting in {} ms, then publishing every row "
              "still in the outbox ({} were awaiting a confirm)",
              link_.where(), why, delay.count(), unconfirmed);
  }
  // Acks that arrived before the loss are real confirms: report them (last: it may throw).
  flush_confirmed();
}

// Also after link_.close(): the flags below go down with the connection, however it ended.
void publisher::impl::destroy_connection() {
  link_.destroy();
  connected_ = false;
  channel_ready_ = false;
}

// stop(): the drain is over. Close politely so the broker does not log an abrupt disconnect;
// acks that arrive during the close still count.
void publisher::impl::close_cleanly() {
  if (!conn()) return;
  link_.shorten_timeouts();
  if (channel_ready_) {
    auto o =
        amqp::check(amqp_channel_close(conn(), channel_id, AMQP_REPLY_SUCCESS), "channel.close");
    if (o) settle_enqueued();
    channel_ready_ = false;
  }
  flush_confirmed();
  const std::size_t unconfirmed = window_.size();
  link_.close();
  destroy_connection();
  window_.clear();
  update_gauges();
  log::info(component, "stopped: {} row(s) confirmed in total; {} unconfirmed stay in the outbox",
            confirmed_total_.load(), unconfirmed);
}

// ---------------------------------------------------------------------------------------------
// Timing.

milliseconds publisher::impl::next_wakeup(clock::time_point now) const {
  if (!stopping_ && channel_ready_ && !blocked_ && cursor_.more() && window_has_room())
    return milliseconds{0};  // rows are waiting and the window has room
  milliseconds t = std::min(idle_tick, until(next_refresh_, now));
  if (cursor_.rescan_pending()) t = std::min(t, until(cursor_.rescan_at(), now));
  if (!channel_ready_) t = std::min(t, until(reopen_at_, now));
  if (stopping_)
    t = std::min(t, until(clock::time_point{clock::duration{drain_deadline_.load()}}, now));
  return t;
}

// Sleeps until the broker sends something, notify() or stop() wakes us, or `timeout`.
void publisher::impl::wait_for_input(milliseconds timeout) {
  // rabbitmq-c may already hold frames (queued during an RPC, or read ahead into its buffer):
  // poll() cannot see those, so do not sleep on them.
  if (amqp_frames_enqueued(conn()) || amqp_data_in_buffer(conn())) return;
  pollfd fds[2] = {{amqp_get_sockfd(conn()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const int n = ::poll(fds, wake_fd_ >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno != EINTR) log::warn(component, "poll failed: {}", std::strerror(errno));
  if (n > 0 && wake_fd_ >= 0 && (fds[1].revents & POLLIN)) drain_wake();
  // Socket errors (POLLERR/POLLHUP) show up as a failed read on the next pass.
}

void publisher::impl::wait_for_wake(milliseconds timeout) {
  if (wake_fd_ < 0) {
    std::this_thread::sleep_for(std::min(timeout, milliseconds{100}));
    return;
  }
  pollfd fd{wake_fd_, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(timeout.count())) > 0) drain_wake();
}

void publisher::impl::drain_wake() noexcept {
  std::uint64_t count = 0;
  if (::read(wake_fd_, &count, sizeof count) > 0) cursor_.wake();
}

void publisher::impl::update_gauges() noexcept { in_flight_ = window_.size(); }

// ---------------------------------------------------------------------------------------------
// The public class forwards to the implementation.

publisher::publisher(broker_options opts, std::vector<skill_config> skills, outbox_source source)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(skills), std::move(source))) {}

publisher::~publisher() { stop(std::chrono::milliseconds{0}); }

void publisher::start() { impl_->start(); }
void publisher::notify() noexcept { impl_->notify(); }
void publisher::stop(std::chrono::milliseconds deadline) { impl_->stop(deadline); }
void publisher::update_skills(std::vector<skill_config> skills) {
  impl_->update_skills(std::move(skills));
}
bool publisher::connected() const noexcept { return impl_->connected_; }
std::size_t publisher::in_flight() const noexcept { return impl_->in_flight_; }
std::uint64_t publisher::confirmed_total() const noexcept { return impl_->confirmed_total_; }
publisher_stats publisher::stats() const noexcept { return impl_->stats(); }
void publisher::render_metrics(std::string& out) const { impl_->render_metrics(out); }

}  // namespace sb
