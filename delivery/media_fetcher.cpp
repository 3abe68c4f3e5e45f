#include "delivery/media_fetcher.hpp"

#include "broker/backoff.hpp"
#include "channels/crypto.hpp"
#include "channels/fetch.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "delivery/curl_worker.hpp"
#include "delivery/http_transfer.hpp"

#include <curl/curl.h>
#include <fmt/core.h>

#include <algorithm>

namespace sb {
namespace {

constexpr const char* component = "media";
constexpr std::size_t max_lookup_bytes = 64 * 1024;  // a media lookup's JSON answer

// One attachment being fetched: its current step's request in flight.
struct download {
  media_job job;
  channel ch;  // as the config had it when the fetch began
  fetch_step step;
  std::unique_ptr<http_transfer> transfer;
};

}  // namespace

struct media_fetcher::impl {
  impl(std::unique_ptr<media_reader> r, blob_store& b, channel_lookup c, recorder rec, options o)
      : reader(std::move(r)),
        blobs(b),
        channels(std::move(c)),
        record(std::move(rec)),
        opts(std::move(o)),
        delay(opts.retry_min, opts.retry_max) {}

  std::unique_ptr<media_reader> reader;
  blob_store& blobs;
  channel_lookup channels;
  recorder record;
  options opts;
  backoff delay;
  curl_worker worker;
  requests_in_flight<download> in_flight{worker};
  held_ids held;  // in flight, or their outcome not committed yet
  std::vector<media_update> updates;

  std::atomic<std::int64_t> pending{0};
  std::atomic<std::int64_t> flying{0};
  metrics::counter_family outcomes{
      "switchboard_media_fetches_total",
      "Attempts to fetch customers' media from providers, by channel and outcome: stored, "
      "retried (to try again later), failed (for good), too_large (over max_file_bytes)."};
  metrics::counter_family bytes_kept{"switchboard_media_fetched_bytes_total",
                                     "Bytes of fetched media written to the blob store."};

  void run() {
    millis next_poll = 0;
    millis next_count = 0;
    while (!worker.stopping()) {
      const millis now = now_ms();
      if (now >= next_poll && in_flight.size() < opts.limits.fetch_concurrency) {
        start_due(now);
        next_poll = now + opts.poll.count();
      }
      if (now >= next_count) {
        pending = reader->pending();
        next_count = now + 1000;
      }
      int running = 0;
      curl_multi_perform(worker.multi(), &running);
      finish_done();
      flush();
      held.collect();
      const millis wait = std::max<millis>(1, std::min<millis>(next_poll - now_ms(), 250));
      curl_multi_poll(worker.multi(), nullptr, 0, static_cast<int>(wait), nullptr);
    }
    in_flight.abandon();  // pending still: fetched again at the next start
    flying = 0;
  }

  void start_due(millis now) {
    const std::size_t max = opts.limits.fetch_concurrency;
    for (auto& job : reader->due(now, max + held.size())) {
      if (in_flight.size() >= max) break;
      if (held.contains(job.id)) continue;
      begin(std::move(job), now);
    }
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  void begin(media_job job, millis now) {
    const auto ch = channels(job.channel);
    if (!ch) {  // a reload took the channel away: it may come back; fetch_for ends it
      retry(job, now, fmt::format("channel {} is not configured now", job.channel));
      return;
    }
    auto step = first_fetch_step(ch->config, job.kind, job.ref);
    if (!step) {
      settle(job, step.error(), now);
      return;
    }
    auto d = std::make_unique<download>();
    d->job = std::move(job);
    d->ch = *ch;
    d->step = std::move(*step);
    launch(std::move(d), now);
  }

  void launch(std::unique_ptr<download> d, millis now) {
    const bool file = d->step.is_file;
    transfer_options t;
    t.connect_timeout = opts.connect_timeout;
    t.request_timeout = opts.limits.fetch_timeout;
    t.max_body = file ? static_cast<std::size_t>(opts.limits.max_file_bytes) : max_lookup_bytes;
    t.abort_past_max_body = file;
    t.follow_redirects = d->step.follow_redirects;
    d->transfer = std::make_unique<http_transfer>(d->step.call, t);
    held.hold(d->job.id);
    if (!in_flight.add(d)) retry(d->job, now, "libcurl could not start the request");
  }

  void finish_done() {
    in_flight.each_done([this](std::unique_ptr<download> d, CURLcode result) {
      finished(std::move(d), result, now_ms());
    });
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  void finished(std::unique_ptr<download> d, CURLcode result, millis now) {
    http_transfer& t = *d->transfer;
    if (auto failure = t.finish(result, now); !failure.empty()) {
      if (d->step.is_file && t.body_over())
        return too_large(d->job, fmt::format("the file is larger than max_file_bytes ({})",
                                             opts.limits.max_file_bytes));
      return retry(d->job, now, failure);
    }
    const http_response& r = t.response();
    if (!d->step.is_file) {
      auto next = next_fetch_step(d->ch.config, d->job.kind, r);
      if (!next) return settle(d->job, next.error(), now);
      if (next->size && *next->size > opts.limits.max_file_bytes)
        return too_large(
            d->job, fmt::format("the provider names {} bytes, over max_file_bytes", *next->size));
      d->step = std::move(*next);
      return launch(std::move(d), now);
    }
    if (r.status < 200 || r.status > 299) {
      const send_outcome o = classify_status(r);
      if (o.what == send_outcome::kind::failed) return failed(d->job, o.reason);
      std::optional<std::chrono::seconds> wait;
      if (r.retry_after) wait = parse_retry_after(*r.retry_after, now);
      return retry(d->job, now, o.reason, wait);
    }
    stored(*d, r);
  }

  void stored(const download& d, const http_response& r) {
    const std::string& bytes = r.body;
    if (d.step.size && *d.step.size != static_cast<std::int64_t>(bytes.size()))
      return retry(d.job, r.received_at,
                   fmt::format("got {} bytes, the provider names {}", bytes.size(), *d.step.size));
    // Not what the provider says it sent (cut short, altered on the way): not kept.
    if (!d.step.sha256_hex.empty() && d.step.sha256_hex != sha256_hex(bytes))
      return retry(d.job, r.received_at, "the file's SHA-256 is not the one the provider names");
    auto sha = blobs.put(bytes);
    if (!sha) return retry(d.job, r.received_at, sha.error().detail);
    media_update u;
    u.id = d.job.id;
    u.state = "stored";
    u.sha256 = std::move(*sha);
    u.size = static_cast<std::int64_t>(bytes.size());
    u.content_type =
        !d.step.content_type.empty() ? d.step.content_type : std::string(r.header("content-type"));
    bytes_kept.add(metrics::labels({{"channel", d.job.channel}}),
                   static_cast<std::uint64_t>(bytes.size()));
    push(d.job, std::move(u), "stored");
  }

  void settle(const media_job& job, const error& e, millis now) {
    if (e.code == errc::unavailable) return retry(job, now, e.detail);
    failed(job, e.detail);
  }

  void retry(const media_job& job, millis now, const std::string& reason,
             std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    const auto attempt = static_cast<unsigned>(std::min<std::int64_t>(job.attempts, 30));
    millis wait = delay(attempt).count();
    if (retry_after)
      wait = std::max<millis>(wait, std::min<std::int64_t>(retry_after->count(), 86400) * 1000);
    if (now + wait > job.created_at + opts.limits.fetch_for.count())
      return failed(job, fmt::format("not fetched within fetch_for of the message; the last "
                                     "attempt: {}",
                                     reason));
    log::info(component, "attachment {} on channel {}: will retry ({})", job.id, job.channel,
              reason);
    media_update u;
    u.id = job.id;
    u.state = "pending";
    u.next_attempt_at = now + wait;
    u.error = reason;
    push(job, std::move(u), "retried");
  }

  void failed(const media_job& job, const std::string& reason) { end(job, "failed", reason); }
  void too_large(const media_job& job, const std::string& reason) { end(job, "too_large", reason); }
  void end(const media_job& job, const char* state, const std::string& reason) {
    log::warn(component, "attachment {} on channel {}: {} ({})", job.id, job.channel, state,
              reason);
    media_update u;
    u.id = job.id;
    u.state = state;
    u.error = reason;
    push(job, std::move(u), state);
  }

  void push(const media_job& job, media_update u, const char* outcome) {
    outcomes.add(metrics::labels({{"channel", job.channel}, {"outcome", outcome}}));
    held.hold(job.id);  // until its outcome is committed
    updates.push_back(std::move(u));
  }

  void flush() {
    held.hand_over(
        updates, [](const auto& u) { return u.id; }, record);
  }
};

media_fetcher::media_fetcher(std::unique_ptr<media_reader> reader, blob_store& blobs,
                             channel_lookup channels, recorder record, options opts)
    : impl_(std::make_unique<impl>(std::move(reader), blobs, std::move(channels), std::move(record),
                                   std::move(opts))) {}

media_fetcher::~media_fetcher() { stop(); }

void media_fetcher::start() {
  impl_->worker.start("sb-media", 4L, [this] { impl_->run(); });
}

void media_fetcher::stop() {
  impl_->worker.stop([this] { impl_->flush(); });
}

void media_fetcher::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_media_pending",
                 "Customers' media still to fetch from providers (pending, retries included).",
                 static_cast<double>(impl_->pending.load()));
  metrics::gauge(out, "switchboard_media_in_flight", "Media downloads under way.",
                 static_cast<double>(impl_->flying.load()));
  impl_->outcomes.render(out);
  impl_->bytes_kept.render(out);
}

}  // namespace sb
