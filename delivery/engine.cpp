#include "delivery/engine.hpp"

#include "broker/backoff.hpp"
#include "channels/send.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "delivery/curl_worker.hpp"
#include "delivery/http_transfer.hpp"
#include "delivery/policy.hpp"

#include <curl/curl.h>
#include <fmt/core.h>
#include <boost/json/parse.hpp>

namespace sb {
namespace {

constexpr const char* component = "delivery";

// One request in flight.
struct attempt {
  delivery_job job;
  const channel_type_info* type = nullptr;
  millis started = 0;
  std::unique_ptr<http_transfer> transfer;
};

}  // namespace

struct delivery_engine::impl {
  impl(std::unique_ptr<delivery_reader> r, channel_lookup c, recorder rec, options o)
      : reader(std::move(r)),
        channels(std::move(c)),
        record(std::move(rec)),
        opts(o),
        delay(o.retry_min, o.retry_max) {}

  std::unique_ptr<delivery_reader> reader;
  channel_lookup channels;
  recorder record;
  options opts;
  backoff delay;
  curl_worker worker;
  requests_in_flight<attempt> in_flight{worker};
  held_ids held;                         // in flight, or their outcome not committed yet
  std::vector<delivery_update> updates;  // recorded once per loop

  std::atomic<std::int64_t> queued{0};
  std::atomic<millis> oldest{0};
  std::atomic<std::int64_t> flying{0};
  metrics::counter_family outcomes{
      "switchboard_deliveries_total",
      "Attempts to deliver agents' replies, by channel and outcome: sent, retried (to try "
      "again later), failed (for good: refused, or older than replies.max_age)."};
  metrics::histogram_family latency{
      "switchboard_delivery_seconds",
      "From a reply's commit to the provider taking it (sent), retries included.",
      {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400}};

  void run() {
    millis next_poll = 0;
    millis next_backlog = 0;
    while (!worker.stopping()) {
      const millis now = now_ms();
      if (now >= next_poll && in_flight.size() < opts.max_in_flight) {
        start_due(now);
        next_poll = now + opts.poll.count();
      }
      if (now >= next_backlog) {
        const auto b = reader->backlog();
        queued = b.queued;
        oldest = b.oldest;
        next_backlog = now + 1000;
      }
      int running = 0;
      curl_multi_perform(worker.multi(), &running);
      finish_done();
      flush();
      held.collect();
      // All slots taken: the next poll is for when one frees (curl_multi_poll returns then).
      const millis wait = in_flight.size() >= opts.max_in_flight
                              ? 250
                              : std::max<millis>(1, std::min<millis>(next_poll - now_ms(), 250));
      curl_multi_poll(worker.multi(), nullptr, 0, static_cast<int>(wait), nullptr);
    }
    if (const std::size_t n = in_flight.abandon())
      log::warn(component,
                "{} repl(ies) were being sent at the stop: they are sent again at the next start",
                n);
    flying = 0;
  }

  void start_due(millis now) {
    const std::size_t room = opts.max_in_flight - in_flight.size();
    for (auto& job : reader->due(now, in_flight.size() + room)) {
      if (in_flight.size() >= opts.max_in_flight) break;
      if (held.contains(job.message_id)) continue;
      start(std::move(job), now);
    }
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  // An outcome without a request (the channel gone, the reply impossible to build).
  void settle_now(const delivery_job& job, send_outcome o, millis now) {
    held.hold(job.message_id);  // until its outcome is committed
    count(job.channel, o.what);
    updates.push_back(next_step(job, o, now, opts.max_age, delay));
  }

  void start(delivery_job job, millis now) {
    const auto ch = channels(job.channel);
    if (!ch || !ch->config.outbound || ch->type == nullptr || ch->type->build_send == nullptr) {
      // A reload took the channel's outbound section away: it may come back; max_age ends it.
      settle_now(job,
                 {send_outcome::kind::retry,
                  {},
                  fmt::format("channel {} is not configured to send replies now", job.channel),
                  std::nullopt},
                 now);
      return;
    }
    boost::system::error_code ec;
    const auto reply = boost::json::parse(job.reply, ec);
    const auto answers = ec ? boost::json::value() : boost::json::parse(job.answers, ec);
    if (ec || !reply.is_object() || !answers.is_object()) {
      settle_now(job, {send_outcome::kind::failed, {}, "the stored reply cannot be read", {}}, now);
      return;
    }
    const outgoing o{job.message_id,     job.conversation_id,  job.channel,
                     reply.get_object(), answers.get_object(), now};
    auto call = ch->type->build_send(ch->config, o);
    if (!call) {
      settle_now(job, {send_outcome::kind::failed, {}, call.error().detail, {}}, now);
      return;
    }
    auto a = std::make_unique<attempt>();
    a->job = std::move(job);
    a->type = ch->type;
    a->started = now;
    a->transfer = std::make_unique<http_transfer>(
        std::move(*call), transfer_options{opts.connect_timeout, opts.request_timeout});
    held.hold(a->job.message_id);
    if (!in_flight.add(a))
      settle_now(a->job, {send_outcome::kind::retry, {}, "libcurl could not start the request", {}},
                 now);
  }

  void finish_done() {
    in_flight.each_done(
        [this](std::unique_ptr<attempt> a, CURLcode result) { finished(*a, result, now_ms()); });
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  void finished(const attempt& a, CURLcode result, millis now) {
    http_transfer& t = *a.transfer;
    send_outcome o;
    if (auto failure = t.finish(result, now); !failure.empty()) {
      o.what = send_outcome::kind::retry;
      o.reason = std::move(failure);
    } else {
      o = a.type->read_send_answer(t.response());
      if (!o.retry_after && t.response().retry_after)
        o.retry_after = parse_retry_after(*t.response().retry_after, now);
    }
    if (o.what == send_outcome::kind::sent && o.provider_id.empty())
      o.provider_id = t.call().message_id;
    count(a.job.channel, o.what);
    if (o.what == send_outcome::kind::sent)
      latency.observe("", static_cast<double>(now - a.job.created_at) / 1000.0);
    else
      log::info(component, "reply {} on channel {}: {} ({})", a.job.message_id, a.job.channel,
                o.what == send_outcome::kind::failed ? "failed" : "will retry", o.reason);
    delivery_update u = next_step(a.job, o, now, opts.max_age, delay);
    // sent_at is when the request the provider took was made: a provider's own timestamp of
    // the message is no earlier, which its watermark receipts rely on (store/delivery.hpp).
    if (u.status == "sent") u.at = a.started;
    updates.push_back(std::move(u));
  }

  void count(const std::string& channel, send_outcome::kind k) {
    const char* outcome = k == send_outcome::kind::sent    ? "sent"
                          : k == send_outcome::kind::retry ? "retried"
                                                           : "failed";
    outcomes.add(metrics::labels({{"channel", channel}, {"outcome", outcome}}));
  }

  void flush() {
    held.hand_over(
        updates, [](const auto& u) { return u.message_id; }, record);
  }
};

delivery_engine::delivery_engine(std::unique_ptr<delivery_reader> reader, channel_lookup channels,
                                 recorder record, options opts)
    : impl_(std::make_unique<impl>(std::move(reader), std::move(channels), std::move(record),
                                   opts)) {}

delivery_engine::~delivery_engine() { stop(); }

void delivery_engine::start() {
  impl_->worker.start("sb-delivery", 8L, [this] { impl_->run(); });
}

void delivery_engine::stop() {
  impl_->worker.stop([this] { impl_->flush(); });
}

void delivery_engine::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_deliveries_queued",
                 "Agents' replies committed and not sent yet (queued, retries included).",
                 static_cast<double>(impl_->queued.load()));
  const millis oldest = impl_->oldest.load();
  metrics::gauge(out, "switchboard_delivery_oldest_queued_age_seconds",
                 "Age of the oldest reply not sent yet (0 when none waits).",
                 oldest == 0 ? 0.0 : std::max(0.0, static_cast<double>(now_ms() - oldest) / 1000));
  metrics::gauge(out, "switchboard_deliveries_in_flight",
                 "Requests to providers' send APIs under way.",
                 static_cast<double>(impl_->flying.load()));
  impl_->outcomes.render(out);
  impl_->latency.render(out);
}

}  // namespace sb
