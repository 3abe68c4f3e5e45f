#include "delivery/engine.hpp"

#include "broker/backoff.hpp"
#include "channels/send.hpp"
#include "core/ascii.hpp"
#include "core/log.hpp"
#include "core/mutex.hpp"
#include "core/time.hpp"
#include "delivery/policy.hpp"

#include <curl/curl.h>
#include <fmt/core.h>
#include <boost/json/parse.hpp>

#include <cstring>
#include <map>
#include <set>
#include <thread>

#include <pthread.h>

namespace sb {
namespace {

constexpr const char* component = "delivery";
constexpr std::size_t max_answer_bytes = 64 * 1024;
constexpr std::size_t max_answer_headers = 32;

// One request in flight.
struct attempt {
  delivery_job job;
  http_call call;
  const channel_type_info* type = nullptr;
  http_response response;
  curl_slist* headers = nullptr;
  curl_slist* recipients = nullptr;  // SMTP
  std::size_t uploaded = 0;          // SMTP: bytes of the mail read by libcurl
  CURL* easy = nullptr;
  millis started = 0;
  ~attempt() {
    if (headers) curl_slist_free_all(headers);
    if (recipients) curl_slist_free_all(recipients);
    if (easy) curl_easy_cleanup(easy);
  }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto* a = static_cast<attempt*>(self);
  const std::size_t bytes = size * n;
  const std::size_t room = max_answer_bytes - std::min(max_answer_bytes, a->response.body.size());
  a->response.body.append(data, std::min(bytes, room));
  return bytes;  // the rest is read and dropped: the provider's answer is bounded
}

std::size_t on_upload(char* buffer, std::size_t size, std::size_t n, void* self) {
  auto* a = static_cast<attempt*>(self);
  const std::size_t bytes = std::min(size * n, a->call.body.size() - a->uploaded);
  std::memcpy(buffer, a->call.body.data() + a->uploaded, bytes);
  a->uploaded += bytes;
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* a = static_cast<attempt*>(self);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a status line: the headers of an earlier answer go
    a->response.headers.clear();
    a->response.retry_after.reset();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = ascii_lower(c);
  const std::string value(ascii_trim(line.substr(colon + 1)));
  if (name == "retry-after") a->response.retry_after = value;
  if (a->response.headers.size() < max_answer_headers)
    a->response.headers.emplace_back(std::move(name), value);
  return size * n;
}

// Replies whose outcome was handed to the writer, not yet committed: filled on the writer
// thread, emptied by the engine's.
struct settled_box {
  mutex m;
  std::vector<std::string> ids SB_GUARDED_BY(m);
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
  CURLM* multi = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::map<CURL*, std::unique_ptr<attempt>> in_flight;
  // Replies in flight, or whose outcome is not committed yet: not started again meanwhile.
  std::set<std::string> busy;
  std::vector<delivery_update> updates;  // recorded once per loop
  std::shared_ptr<settled_box> settled = std::make_shared<settled_box>();

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
    while (!stopping) {
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
      curl_multi_perform(multi, &running);
      finish_done();
      flush();
      release_settled();
      // All slots taken: the next poll is for when one frees (curl_multi_poll returns then).
      const millis wait = in_flight.size() >= opts.max_in_flight
                              ? 250
                              : std::max<millis>(1, std::min<millis>(next_poll - now_ms(), 250));
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
    }
    for (auto& [easy, a] : in_flight) curl_multi_remove_handle(multi, easy);
    if (!in_flight.empty())
      log::warn(component,
                "{} repl(ies) were being sent at the stop: they are sent again at the next start",
                in_flight.size());
    in_flight.clear();
    flying = 0;
  }

  void start_due(millis now) {
    const std::size_t room = opts.max_in_flight - in_flight.size();
    for (auto& job : reader->due(now, in_flight.size() + room)) {
      if (in_flight.size() >= opts.max_in_flight) break;
      if (busy.contains(job.message_id)) continue;
      start(std::move(job), now);
    }
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  // An outcome without a request (the channel gone, the reply impossible to build).
  void settle_now(const delivery_job& job, send_outcome o, millis now) {
    busy.insert(job.message_id);  // until its outcome is committed
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
    a->call = std::move(*call);
    a->type = ch->type;
    a->started = now;
    a->easy = curl_easy_init();
    if (a->easy == nullptr) {
      settle_now(a->job, {send_outcome::kind::retry, {}, "curl_easy_init failed", {}}, now);
      return;
    }
    CURL* e = a->easy;
    curl_easy_setopt(e, CURLOPT_URL, a->call.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.request_timeout.count()));
    if (a->call.method == "SMTP")
      smtp_options(*a);
    else
      http_options(*a);
    if (!a->call.username.empty()) {
      curl_easy_setopt(e, CURLOPT_USERNAME, a->call.username.c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, a->call.password.c_str());
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a.get());
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      settle_now(a->job, {send_outcome::kind::retry, {}, "curl_multi_add_handle failed", {}}, now);
      return;
    }
    busy.insert(a->job.message_id);
    in_flight.emplace(e, std::move(a));
  }

  static void http_options(attempt& a) {
    CURL* e = a.easy;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "Switchboard");
    if (a.call.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, a.call.method.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, a.call.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(a.call.body.size()));
    a.headers = curl_slist_append(a.headers, "Expect:");  // no 100-continue round trip
    for (const auto& [k, v] : a.call.headers)
      a.headers = curl_slist_append(a.headers, fmt::format("{}: {}", k, v).c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a.headers);
    if (!a.call.username.empty()) curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  }

  // The mail is uploaded from a.call.body; libcurl escapes lines that start with a dot.
  static void smtp_options(attempt& a) {
    CURL* e = a.easy;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_USE_SSL, a.call.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, fmt::format("<{}>", a.call.mail_from).c_str());
    for (const auto& r : a.call.recipients)
      a.recipients = curl_slist_append(a.recipients, fmt::format("<{}>", r).c_str());
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, a.recipients);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(a.call.body.size()));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &on_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, &a);
  }

  void finish_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      const auto it = in_flight.find(m->easy_handle);
      if (it == in_flight.end()) continue;
      const CURLcode result = m->data.result;  // `m` is not valid once the handle is removed
      std::unique_ptr<attempt> a = std::move(it->second);
      in_flight.erase(it);
      curl_multi_remove_handle(multi, a->easy);
      const millis now = now_ms();
      send_outcome o;
      long status = 0;
      curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
      const bool smtp = a->call.method == "SMTP";
      if (result != CURLE_OK && !(smtp && status >= 400)) {
        o.what = send_outcome::kind::retry;
        o.reason = curl_easy_strerror(result);
      } else {
        // SMTP: the relay's last reply code; when it refused, libcurl's words for the step.
        a->response.status = static_cast<unsigned>(status);
        a->response.received_at = now;
        if (result != CURLE_OK) a->response.body = curl_easy_strerror(result);
        o = a->type->read_send_answer(a->response);
        if (!o.retry_after && a->response.retry_after)
          o.retry_after = parse_retry_after(*a->response.retry_after, now);
      }
      if (o.what == send_outcome::kind::sent && o.provider_id.empty())
        o.provider_id = a->call.message_id;
      count(a->job.channel, o.what);
      if (o.what == send_outcome::kind::sent)
        latency.observe("", static_cast<double>(now - a->job.created_at) / 1000.0);
      else
        log::info(component, "reply {} on channel {}: {} ({})", a->job.message_id, a->job.channel,
                  o.what == send_outcome::kind::failed ? "failed" : "will retry", o.reason);
      delivery_update u = next_step(a->job, o, now, opts.max_age, delay);
      // sent_at is when the request the provider took was made: a provider's own timestamp of
      // the message is no earlier, which its watermark receipts rely on (store/delivery.hpp).
      if (u.status == "sent") u.at = a->started;
      updates.push_back(std::move(u));
    }
    flying = static_cast<std::int64_t>(in_flight.size());
  }

  void count(const std::string& channel, send_outcome::kind k) {
    const char* outcome = k == send_outcome::kind::sent    ? "sent"
                          : k == send_outcome::kind::retry ? "retried"
                                                           : "failed";
    outcomes.add(metrics::labels({{"channel", channel}, {"outcome", outcome}}));
  }

  void flush() {
    if (updates.empty()) return;
    std::vector<std::string> ids;
    for (const auto& u : updates) ids.push_back(u.message_id);
    record(std::move(updates), [box = settled, ids = std::move(ids)]() mutable {
      mutex_lock lock(box->m);
      box->ids.insert(box->ids.end(), std::make_move_iterator(ids.begin()),
                      std::make_move_iterator(ids.end()));
    });
    updates.clear();
  }

  // Outcomes the writer committed: those replies may be read as due again (a retry).
  void release_settled() {
    std::vector<std::string> ids;
    {
      mutex_lock lock(settled->m);
      ids.swap(settled->ids);
    }
    for (const auto& id : ids) busy.erase(id);
  }
};

delivery_engine::delivery_engine(std::unique_ptr<delivery_reader> reader, channel_lookup channels,
                                 recorder record, options opts)
    : impl_(std::make_unique<impl>(std::move(reader), std::move(channels), std::move(record),
                                   opts)) {}

delivery_engine::~delivery_engine() { stop(); }

void delivery_engine::start() {
  if (impl_->thread.joinable()) return;
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
  impl_->thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-delivery");
    impl_->run();
  });
}

void delivery_engine::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  impl_->flush();
  curl_multi_cleanup(impl_->multi);
  impl_->multi = nullptr;
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
