#include "broker/event_publisher.hpp"

#include "broker/amqp_util.hpp"
#include "broker/backoff.hpp"
#include "broker/connection.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/mutex.hpp"

#include <amqp.h>
#include <amqp_framing.h>

#include <fmt/core.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>

#include <pthread.h>

namespace sb {
namespace {

constexpr const char* component = "events";
constexpr amqp_channel_t channel_id = 1;
constexpr std::size_t window = 256;  // events published and not yet confirmed
using clock = std::chrono::steady_clock;

}  // namespace

struct event_publisher::impl {
  impl(broker_options b, events_options e, std::unique_ptr<event_reader> r,
       std::function<void(std::vector<std::int64_t>)> c)
      : bopts(std::move(b)),
        eopts(std::move(e)),
        reader(std::move(r)),
        confirmed_cb(std::move(c)),
        conn(bopts.url),
        delay(bopts.reconnect_min, bopts.reconnect_max) {}

  broker_options bopts;
  events_options eopts;
  std::unique_ptr<event_reader> reader;
  std::function<void(std::vector<std::int64_t>)> confirmed_cb;
  broker_connection conn;
  backoff delay;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> is_connected{false};
  std::atomic<clock::rep> stop_by{0};
  mutex wake_m;
  std::condition_variable wake_cv;

  // Publishes awaiting their confirm: publish seq -> the row's seq.
  std::map<std::uint64_t, std::int64_t> pending;
  std::uint64_t published = 0;    // publishes on this connection (confirm seqs)
  std::int64_t cursor = 0;        // the last row published (rows after it are read next)
  std::int64_t done_through = 0;  // every row up to it is confirmed
  clock::time_point next_backlog{};
  std::uint64_t refused_unlogged = 0;  // nacked events not logged yet
  clock::time_point last_refused_log{};

  std::atomic<std::int64_t> waiting{0};
  std::atomic<std::uint64_t> confirmed_total{0};
  std::atomic<std::uint64_t> republished_total{0};
  std::atomic<std::uint64_t> refused_total{0};

  amqp_connection_state_t c() const { return conn.state(); }

  void run() {
    unsigned attempt = 0;
    while (true) {
      if (stopping &&
          (!conn.is_open() || pending.empty() || clock::now().time_since_epoch().count() > stop_by))
        break;
      if (clock::now() >= next_backlog) {  // also while the broker is away
        waiting = reader->backlog();
        next_backlog = clock::now() + std::chrono::seconds(1);
      }
      if (!conn.is_open()) {
        if (stopping) break;
        if (!connect()) {
          sleep_for(delay(attempt++));
          continue;
        }
        attempt = 0;
      }
      if (!stopping) publish_more();
      if (conn.is_open()) read_frames();
    }
    if (conn.is_open()) {
      if (!pending.empty())
        log::warn(component, "{} event(s) not confirmed at stop: published again at the next start",
                  pending.size());
      conn.shorten_timeouts();
      conn.close();
    }
    is_connected = false;
  }

  void sleep_for(std::chrono::milliseconds d) {
    unique_lock lock(wake_m);
    wake_cv.wait_for(lock.native(), d, [&] { return stopping.load(); });
  }

  bool lost(const amqp::outcome& o) {
    log::warn(component, "broker {}: {}; reconnecting (unconfirmed events are published again)",
              conn.where(), o.text);
    conn.destroy();
    if (!pending.empty()) republished_total += pending.size();
    pending.clear();
    cursor = done_through;
    is_connected = false;
    return false;
  }

  bool connect() {
    if (!conn.url_ok()) return false;  // the publisher says why, once
    if (auto o = conn.open(); !o) {
      log::warn(component, "broker {}: {}", conn.where(), o.text);
      return false;
    }
    amqp_channel_open(c(), channel_id);
    if (auto o = amqp::check(amqp_get_rpc_reply(c()), "channel.open"); !o) return lost(o);
    amqp_confirm_select(c(), channel_id);
    if (auto o = amqp::check(amqp_get_rpc_reply(c()), "confirm.select"); !o) return lost(o);
    amqp_exchange_declare(c(), channel_id, amqp::bytes(eopts.exchange), amqp_cstring_bytes("topic"),
                          /*passive=*/0, /*durable=*/1,
                          /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
    if (auto o = amqp::check(amqp_get_rpc_reply(c()), "declare exchange " + eopts.exchange); !o) {
      if (o.lost == amqp::loss::channel)
        log::error(component,
                   "exchange {} cannot be declared as a durable topic exchange: {}. If it exists "
                   "with another type, delete it or set events.exchange",
                   eopts.exchange, o.text);
      return lost(o);
    }
    published = 0;
    cursor = done_through;
    is_connected = true;
    log::info(component, "publishing events to exchange {} on {}", eopts.exchange, conn.where());
    return true;
  }

  void publish_more() {
    if (pending.size() >= window) return;
    const auto rows = reader->fetch(cursor, window - pending.size());
    for (const event_row& row : rows) {
      amqp_basic_properties_t p{};
      p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                 AMQP_BASIC_APP_ID_FLAG;
      p.content_type = amqp_cstring_bytes("application/json");
      p.delivery_mode = 2;
      p.message_id = amqp::bytes(row.id);
      p.type = amqp::bytes(row.routing_key);
      p.timestamp = static_cast<std::uint64_t>(row.created_at / 1000);
      p.app_id = amqp_cstring_bytes("switchboard");
      const int rc = amqp_basic_publish(c(), channel_id, amqp::bytes(eopts.exchange),
                                        amqp::bytes(row.routing_key), /*mandatory=*/0, 0, &p,
                                        amqp::bytes(row.body));
      if (auto o = amqp::check(rc, "publish an event"); !o) {
        lost(o);
        return;
      }
      pending.emplace(++published, row.seq);
      cursor = row.seq;
    }
  }

  void read_frames() {
    // Idle: the next read of the store in 250 ms; publishes in flight: their confirms soon.
    timeval wait{0, pending.empty() ? 250'000 : 20'000};
    std::vector<std::int64_t> acked;
    for (int n = 0; n < 256 && conn.is_open(); ++n) {
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame_noblock(c(), &frame, &wait);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (auto o = amqp::check(rc, "read"); !o) {
        lost(o);
        break;
      }
      if (!handle(frame, acked)) break;
      wait = {0, 1};
    }
    if (conn.is_open()) amqp_maybe_release_buffers(c());
    if (!acked.empty()) {
      confirmed_total += acked.size();
      confirmed_cb(std::move(acked));
    }
  }

  bool handle(const amqp_frame_t& frame, std::vector<std::int64_t>& acked) {
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    const auto id = frame.payload.method.id;
    const void* m = frame.payload.method.decoded;
    if (auto closed = amqp::closed_by_broker(c(), frame, channel_id)) return lost(*closed);
    if (frame.channel != channel_id) return true;
    switch (id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* a = static_cast<const amqp_basic_ack_t*>(m);
        settle(a->delivery_tag, a->multiple != 0, acked);
        return true;
      }
      case AMQP_BASIC_NACK_METHOD: {
        // A queue bound to the exchange refused it (full, with x-overflow reject-publish) or
        // failed: the other queues have it. Published again, it would reach them all again,
        // and again, while that queue stays full; so it is settled, counted and logged: the
        // full queue's tool misses it.
        const auto* n = static_cast<const amqp_basic_nack_t*>(m);
        const std::size_t before = acked.size();
        settle(n->delivery_tag, n->multiple != 0, acked);
        refused_total += acked.size() - before;
        refused_unlogged += acked.size() - before;
        // A full queue nacks every event: one line per 10 s says how many.
        if (clock::now() - last_refused_log >= std::chrono::seconds(10)) {
          log::warn(component,
                    "the broker refused {} event(s) (basic.nack: a queue bound to {} is full "
                    "with reject-publish, or failed); the other bound queues have them",
                    refused_unlogged, eopts.exchange);
          refused_unlogged = 0;
          last_refused_log = clock::now();
        }
        return true;
      }
      default:
        return true;
    }
  }

  void settle(std::uint64_t tag, bool multiple, std::vector<std::int64_t>& acked) {
    for (auto it = pending.begin(); it != pending.end() && it->first <= tag;) {
      if (!multiple && it->first != tag) {
        ++it;
        continue;
      }
      acked.push_back(it->second);
      it = pending.erase(it);
    }
    // Every row before the oldest still pending (or all published) is confirmed.
    done_through = pending.empty() ? cursor : pending.begin()->second - 1;
  }
};

event_publisher::event_publisher(broker_options broker, events_options events,
                                 std::unique_ptr<event_reader> reader,
                                 std::function<void(std::vector<std::int64_t>)> confirmed)
    : impl_(std::make_unique<impl>(std::move(broker), std::move(events), std::move(reader),
                                   std::move(confirmed))) {}

event_publisher::~event_publisher() { stop(std::chrono::milliseconds(0)); }

void event_publisher::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-events");
    impl_->run();
  });
}

void event_publisher::stop(std::chrono::milliseconds deadline) {
  if (!impl_->thread.joinable()) return;
  impl_->stop_by = (clock::now() + deadline).time_since_epoch().count();
  {
    mutex_lock lock(impl_->wake_m);
    impl_->stopping = true;
  }
  impl_->wake_cv.notify_all();
  impl_->thread.join();
}

bool event_publisher::connected() const noexcept { return impl_->is_connected; }

void event_publisher::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_events_publisher_connected",
                 "1 while the publisher of events (events.exchange) is connected to the broker.",
                 impl_->is_connected ? 1 : 0);
  metrics::gauge(out, "switchboard_events_waiting",
                 "Events stored and not yet confirmed by the broker.",
                 static_cast<double>(impl_->waiting.load()));
  metrics::counter(out, "switchboard_events_published_total",
                   "Events the broker settled on the events exchange (acked, or nacked: those "
                   "are counted in switchboard_events_refused_total too).",
                   static_cast<double>(impl_->confirmed_total.load()));
  metrics::counter(out, "switchboard_events_refused_total",
                   "Events the broker nacked (a bound queue full with reject-publish, or "
                   "failed): settled, not published again; that queue's tool missed them.",
                   static_cast<double>(impl_->refused_total.load()));
  metrics::counter(out, "switchboard_events_republished_total",
                   "Events published again because their confirm did not come (a lost "
                   "connection): consumers see them twice and dedupe on the event id.",
                   static_cast<double>(impl_->republished_total.load()));
}

}  // namespace sb
