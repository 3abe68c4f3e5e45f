#include "broker/reply_consumer.hpp"

#include "broker/amqp_util.hpp"
#include "broker/backoff.hpp"
#include "broker/connection.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/mutex.hpp"
#include "core/time.hpp"

#include <amqp.h>
#include <amqp_framing.h>

#include <fmt/core.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <pthread.h>

namespace sb {
namespace {

constexpr const char* component = "replies";
constexpr amqp_channel_t channel_id = 1;
// Replies handed over at once: enough for the group writer to commit many in one transaction.
constexpr std::uint16_t prefetch = 64;
// A body larger than this is not read into memory: the broker dead-letters it to the rejected
// queue (the replies queue's dead-letter arguments), with x-death saying "rejected". Twice
// the reply's own bound (replies/reply.hpp), so the parser's too_large answers everything
// between.
constexpr std::uint64_t max_read_body = 1 << 20;
using clock = std::chrono::steady_clock;

// Verdicts arrive on the writer's thread; the consumer's thread applies them. Shared, so that a
// verdict arriving after the consumer is gone (the writer answers what is left at its stop)
// has somewhere to go.
struct verdict_box {
  mutex m;
  std::vector<std::tuple<std::uint64_t, std::uint64_t, reply_verdict>> items SB_GUARDED_BY(m);
};

std::string str(amqp_bytes_t b) { return std::string(amqp::view(b)); }

}  // namespace

struct reply_consumer::impl {
  impl(broker_options b, replies_options r, reply_sink& s)
      : bopts(std::move(b)),
        ropts(std::move(r)),
        sink(s),
        conn(bopts.url),
        delay(bopts.reconnect_min, bopts.reconnect_max) {}

  // A delivery taken and not yet acknowledged.
  struct delivery {
    delivery() { init_amqp_pool(&pool, 4096); }
    ~delivery() { empty_amqp_pool(&pool); }
    delivery(const delivery&) = delete;
    delivery& operator=(const delivery&) = delete;
    std::string body;
    std::string key;                  // message_id
    amqp_basic_properties_t props{};  // as received; its strings and headers live in `pool`
    amqp_pool_t pool{};
    bool waiting = false;  // handed to the sink, no verdict yet
    unsigned attempts = 0;
    clock::time_point next_try{};
    std::optional<reply_verdict> rejected;  // to publish to the rejected queue
    std::uint64_t publish_seq = 0;          // that publish, awaiting the broker's confirm
  };

  broker_options bopts;
  replies_options ropts;
  reply_sink& sink;
  broker_connection conn;
  backoff delay;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> is_connected{false};
  std::atomic<clock::rep> stop_by{0};
  mutex wake_m;
  std::condition_variable wake_cv;

  std::shared_ptr<verdict_box> verdicts = std::make_shared<verdict_box>();
  std::map<std::uint64_t, std::unique_ptr<delivery>> inflight;  // by delivery tag
  std::map<std::uint64_t, std::uint64_t> publishes;             // publish seq -> delivery tag
  std::uint64_t generation = 0;  // per connection: verdicts for an older one are dropped
  std::uint64_t published = 0;   // publishes on this connection's channel (confirm seqs)
  std::string consumer_tag;
  bool cancelled = false;

  metrics::counter_family outcomes{
      "switchboard_replies_consumed_total",
      "Replies taken from the replies queue, by outcome: committed, replayed (a redelivery of "
      "a committed key), rejected (published to the rejected-replies queue) or retried (the "
      "store could not take it then)."};
  metrics::counter_family rejections{
      "switchboard_replies_rejected_total",
      "Replies from the queue moved to the rejected-replies queue, by reason."};

  amqp_connection_state_t c() const { return conn.state(); }

  void run() {
    unsigned attempt = 0;
    while (true) {
      if (stopping && (!conn.is_open() || inflight.empty() ||
                       clock::now().time_since_epoch().count() > stop_by))
        break;
      if (!conn.is_open()) {
        if (stopping) break;
        if (!connect()) {
          sleep_for(delay(attempt++));
          continue;
        }
        attempt = 0;
      }
      if (stopping && !cancelled) cancel();
      apply_verdicts();
      if (conn.is_open()) retry_due();
      if (conn.is_open()) read_frames();
    }
    if (conn.is_open()) {
      if (!inflight.empty())
        log::warn(component,
                  "{} repl(ies) not settled at stop: the broker redelivers them at the next start",
                  inflight.size());
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
    log::warn(component, "broker {}: {}; reconnecting (unacknowledged replies are redelivered)",
              conn.where(), o.text);
    conn.destroy();
    inflight.clear();
    publishes.clear();
    is_connected = false;
    return false;
  }

  bool rpc_ok(std::string_view what) {
    auto o = amqp::check(amqp_get_rpc_reply(c()), what);
    if (o) return true;
    if (o.reply_code == 406 && what.starts_with("declare"))
      log::error(component,
                 "{}: the queue exists with other arguments ({}); delete it or set replies.queue "
                 "to another name (docs/replies.md)",
                 o.text, amqp::inequivalent_argument(o.text));
    return lost(o);
  }

  bool declare(const std::string& queue, amqp_table_t args) {
    amqp_queue_declare(c(), channel_id, amqp::bytes(queue), 0, /*durable=*/1, 0, 0, args);
    return rpc_ok("declare queue " + queue);
  }

  bool connect() {
    if (!conn.url_ok()) return false;  // the publisher says why, once
    if (auto o = conn.open(); !o) {
      log::warn(component, "broker {}: {}", conn.where(), o.text);
      return false;
    }
    amqp_channel_open(c(), channel_id);
    if (!rpc_ok("channel.open")) return false;
    amqp_confirm_select(c(), channel_id);
    if (!rpc_ok("confirm.select")) return false;
    if (!declare(ropts.rejected_queue, amqp_empty_table)) return false;
    // What the consumer will not read (a body over max_read_body) the broker moves to the
    // rejected queue when it is rejected.
    amqp_table_entry_t dead_letter[] = {
        amqp::utf8_entry("x-dead-letter-exchange", ""),
        amqp::utf8_entry("x-dead-letter-routing-key", ropts.rejected_queue)};
    if (!declare(ropts.queue, amqp_table_t{2, dead_letter})) return false;
    amqp_basic_qos(c(), channel_id, 0, prefetch, 0);
    if (!rpc_ok("basic.qos")) return false;
    const auto* ok = amqp_basic_consume(c(), channel_id, amqp::bytes(ropts.queue), amqp_empty_bytes,
                                        0, /*no_ack=*/0, 0, amqp_empty_table);
    if (!rpc_ok("basic.consume")) return false;
    consumer_tag = str(ok->consumer_tag);
    ++generation;
    published = 0;
    cancelled = false;
    is_connected = true;
    log::info(component, "consuming replies from {} on {} (rejected ones go to {})", ropts.queue,
              conn.where(), ropts.rejected_queue);
    return true;
  }

  void cancel() {
    cancelled = true;
    amqp_basic_cancel(c(), channel_id, amqp::bytes(consumer_tag));
    rpc_ok("basic.cancel");
  }

  // Verdicts from the sink.
  void apply_verdicts() {
    std::vector<std::tuple<std::uint64_t, std::uint64_t, reply_verdict>> items;
    {
      mutex_lock lock(verdicts->m);
      items.swap(verdicts->items);
    }
    for (auto& [gen, tag, v] : items) {
      if (gen != generation || !conn.is_open()) continue;  // redelivered on the new connection
      const auto it = inflight.find(tag);
      if (it == inflight.end()) continue;
      delivery& d = *it->second;
      d.waiting = false;
      switch (v.what) {
        case reply_verdict::kind::committed:
        case reply_verdict::kind::replayed:
          outcomes.add(metrics::labels(
              {{"outcome", v.what == reply_verdict::kind::committed ? "committed" : "replayed"}}));
          ack(tag);
          break;
        case reply_verdict::kind::retry:
          outcomes.add(metrics::labels({{"outcome", "retried"}}));
          d.next_try = clock::now() + delay(std::min(d.attempts++, 8u));
          break;
        case reply_verdict::kind::rejected:
          log::info(component, "reply message_id={} rejected ({}): {}", d.key, v.reason, v.detail);
          d.rejected = std::move(v);
          publish_rejected(tag, d);
          break;
      }
      if (!conn.is_open()) return;
    }
  }

  void ack(std::uint64_t tag) {
    inflight.erase(tag);
    if (auto o = amqp::check(amqp_basic_ack(c(), channel_id, tag, 0), "basic.ack"); !o) lost(o);
  }

  void hand_over(std::uint64_t tag, delivery& d) {
    d.waiting = true;
    auto box = verdicts;
    sink.take(d.body, d.key, [box, gen = generation, tag](reply_verdict v) {
      mutex_lock lock(box->m);
      box->items.emplace_back(gen, tag, std::move(v));
    });
  }

  void retry_due() {
    const auto now = clock::now();
    for (auto& [tag, d] : inflight) {
      if (d->waiting || d->publish_seq != 0 || d->next_try > now) continue;
      if (d->rejected)
        publish_rejected(tag, *d);
      else if (!stopping)
        hand_over(tag, *d);
      if (!conn.is_open()) return;
    }
  }

  // The reply as it came, with x-reason and x-reason-detail added to its headers, to the
  // rejected queue through the default exchange, mandatory: acknowledged once confirmed.
  void publish_rejected(std::uint64_t tag, delivery& d) {
    amqp_basic_properties_t p = d.props;
    p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    p.delivery_mode = 2;
    std::vector<amqp_table_entry_t> headers;
    if (d.props._flags & AMQP_BASIC_HEADERS_FLAG)
      for (int i = 0; i < d.props.headers.num_entries; ++i) {
        const auto key = amqp::view(d.props.headers.entries[i].key);
        if (key != "x-reason" && key != "x-reason-detail")
          headers.push_back(d.props.headers.entries[i]);
      }
    headers.push_back(amqp::utf8_entry("x-reason", d.rejected->reason));
    headers.push_back(amqp::utf8_entry("x-reason-detail", d.rejected->detail));
    p.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
    const int rc =
        amqp_basic_publish(c(), channel_id, amqp_empty_bytes, amqp::bytes(ropts.rejected_queue),
                           /*mandatory=*/1, 0, &p, amqp::bytes(d.body));
    if (auto o = amqp::check(rc, "publish to " + ropts.rejected_queue); !o) {
      lost(o);
      return;
    }
    d.publish_seq = ++published;
    publishes.emplace(d.publish_seq, tag);
  }

  void read_frames() {
    const bool busy = !inflight.empty();
    // Not {0, 0}: with a zero timeout rabbitmq-c never checks the heartbeat deadline.
    timeval wait{0, busy ? 5'000 : 200'000};
    for (int n = 0; n < 256 && conn.is_open(); ++n) {
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame_noblock(c(), &frame, &wait);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (auto o = amqp::check(rc, "read"); !o) {
        lost(o);
        return;
      }
      if (!handle(frame)) return;
      wait = {0, 1};
    }
    if (conn.is_open()) amqp_maybe_release_buffers(c());
  }

  bool handle(const amqp_frame_t& frame) {
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    const auto id = frame.payload.method.id;
    const void* m = frame.payload.method.decoded;
    if (auto closed = amqp::closed_by_broker(c(), frame, channel_id)) return lost(*closed);
    if (frame.channel != channel_id) return true;
    switch (id) {
      case AMQP_BASIC_DELIVER_METHOD: {
        const std::uint64_t tag = static_cast<const amqp_basic_deliver_t*>(m)->delivery_tag;
        return read_delivery(tag);
      }
      case AMQP_BASIC_ACK_METHOD:
      case AMQP_BASIC_NACK_METHOD: {
        const bool acked = id == AMQP_BASIC_ACK_METHOD;
        const std::uint64_t seq = acked ? static_cast<const amqp_basic_ack_t*>(m)->delivery_tag
                                        : static_cast<const amqp_basic_nack_t*>(m)->delivery_tag;
        const bool multiple = acked ? static_cast<const amqp_basic_ack_t*>(m)->multiple != 0
                                    : static_cast<const amqp_basic_nack_t*>(m)->multiple != 0;
        return confirmed(seq, multiple, acked);
      }
      case AMQP_BASIC_RETURN_METHOD:
        // The rejected queue is gone (deleted since it was declared): its confirm follows and
        // must not acknowledge the reply. Start over; the declare makes it again.
        return lost({amqp::loss::connection, 0,
                     "a rejected reply could not be routed to " + ropts.rejected_queue});
      case AMQP_BASIC_CANCEL_METHOD:
        return lost({amqp::loss::connection, 0,
                     "the broker cancelled the consumer (was " + ropts.queue + " deleted?)"});
      default:
        return true;
    }
  }

  // The broker settled publishes to the rejected queue up to `seq`.
  bool confirmed(std::uint64_t seq, bool multiple, bool acked) {
    for (auto it = publishes.begin(); it != publishes.end() && it->first <= seq;) {
      if (!multiple && it->first != seq) {
        ++it;
        continue;
      }
      const std::uint64_t tag = it->second;
      it = publishes.erase(it);
      const auto d = inflight.find(tag);
      if (d == inflight.end()) continue;
      if (acked) {
        outcomes.add(metrics::labels({{"outcome", "rejected"}}));
        rejections.add(metrics::labels({{"reason", d->second->rejected->reason}}));
        ack(tag);
        if (!conn.is_open()) return false;
      } else {
        d->second->publish_seq = 0;  // published again after a pause
        d->second->next_try = clock::now() + std::chrono::seconds(1);
      }
    }
    return true;
  }

  // The content of a basic.deliver: its header frame, then its body frames.
  bool read_delivery(std::uint64_t tag) {
    timeval wait{30, 0};
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(c(), &frame, &wait);
    if (auto o = amqp::check(rc, "read a reply's header"); !o) return lost(o);
    if (frame.frame_type != AMQP_FRAME_HEADER || frame.channel != channel_id)
      return lost({amqp::loss::connection, 0, "a reply's header frame was expected"});
    const std::uint64_t size = frame.payload.properties.body_size;
    auto d = std::make_unique<delivery>();
    const auto* props =
        static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
    d->props = *props;
    // Copy what points into the frame's memory into the delivery's own pool.
    const auto copy = [&](amqp_bytes_t& b) {
      if (b.len == 0) return;
      amqp_bytes_t to;
      amqp_pool_alloc_bytes(&d->pool, b.len, &to);
      if (to.bytes != nullptr) std::memcpy(to.bytes, b.bytes, b.len);
      b = to;
    };
    const std::pair<amqp_flags_t, amqp_bytes_t*> strings[] = {
        {AMQP_BASIC_CONTENT_TYPE_FLAG, &d->props.content_type},
        {AMQP_BASIC_CONTENT_ENCODING_FLAG, &d->props.content_encoding},
        {AMQP_BASIC_CORRELATION_ID_FLAG, &d->props.correlation_id},
        {AMQP_BASIC_REPLY_TO_FLAG, &d->props.reply_to},
        {AMQP_BASIC_MESSAGE_ID_FLAG, &d->props.message_id},
        {AMQP_BASIC_TYPE_FLAG, &d->props.type},
        {AMQP_BASIC_APP_ID_FLAG, &d->props.app_id},
        {AMQP_BASIC_CLUSTER_ID_FLAG, &d->props.cluster_id}};
    for (const auto& [flag, b] : strings)
      if (props->_flags & flag) copy(*b);
    // Not carried to the rejected queue: a per-message TTL would expire the rejected reply
    // there, and the broker refuses a user_id other than the publisher's own login.
    d->props._flags &= ~(AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_USER_ID_FLAG);
    if ((props->_flags & AMQP_BASIC_HEADERS_FLAG) &&
        amqp_table_clone(&props->headers, &d->props.headers, &d->pool) != AMQP_STATUS_OK) {
      // A header rabbitmq-c cannot copy (an empty key): the copy for the rejected queue goes
      // without the reply's own headers rather than with half-copied ones.
      d->props._flags &= ~AMQP_BASIC_HEADERS_FLAG;
      d->props.headers = amqp_empty_table;
      log::warn(component, "a reply's headers could not be copied; a rejected copy has none");
    }
    if (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) d->key = str(d->props.message_id);
    if (size <= max_read_body) d->body.reserve(size);
    std::uint64_t got = 0;
    while (got < size) {
      rc = amqp_simple_wait_frame_noblock(c(), &frame, &wait);
      if (auto o = amqp::check(rc, "read a reply's body"); !o) return lost(o);
      if (frame.frame_type != AMQP_FRAME_BODY || frame.channel != channel_id)
        return lost({amqp::loss::connection, 0, "a reply's body frame was expected"});
      const auto fragment = amqp::view(frame.payload.body_fragment);
      got += fragment.size();
      if (size <= max_read_body) d->body.append(fragment);
    }
    if (size > max_read_body) {
      log::warn(component,
                "reply message_id={} is {} bytes, over {}: not read; the broker moves it to {}",
                d->key, size, max_read_body, ropts.rejected_queue);
      outcomes.add(metrics::labels({{"outcome", "rejected"}}));
      rejections.add(metrics::labels({{"reason", "too_large"}}));
      const int r = amqp_basic_reject(c(), channel_id, tag, /*requeue=*/0);
      if (auto o = amqp::check(r, "basic.reject"); !o) return lost(o);
      return true;
    }
    delivery& ref = *d;
    inflight.emplace(tag, std::move(d));
    hand_over(tag, ref);
    return true;
  }
};

reply_consumer::reply_consumer(broker_options broker, replies_options replies, reply_sink& sink)
    : impl_(std::make_unique<impl>(std::move(broker), std::move(replies), sink)) {}

reply_consumer::~reply_consumer() { stop(std::chrono::milliseconds(0)); }

void reply_consumer::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-replies");
    impl_->run();
  });
}

void reply_consumer::stop(std::chrono::milliseconds deadline) {
  if (!impl_->thread.joinable()) return;
  impl_->stop_by = (clock::now() + deadline).time_since_epoch().count();
  {
    mutex_lock lock(impl_->wake_m);
    impl_->stopping = true;
  }
  impl_->wake_cv.notify_all();
  impl_->thread.join();
}

bool reply_consumer::connected() const noexcept { return impl_->is_connected; }

void reply_consumer::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_replies_consumer_connected",
                 "1 while the consumer of the replies queue is connected to the broker.",
                 impl_->is_connected ? 1 : 0);
  impl_->outcomes.render(out);
  impl_->rejections.render(out);
}

}  // namespace sb
