// The request pipeline: the one place that says what happens to a request, in order.
// The HTTP session only reads a request, calls handle(), and writes the reply it is given.
#pragma once

#include "channels/channel.hpp"
#include "core/rate_limit.hpp"
#include "daemon/config.hpp"
#include "daemon/replay_guard.hpp"
#include "daemon/request_handler.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sb {

class blob_store;
class daemon_metrics;
class ingest_sink;
class read_api;
struct kept_delivery;
struct kept_row;

// The configuration in force; a SIGHUP reload swaps it atomically.
class config_holder {
 public:
  explicit config_holder(std::shared_ptr<const config> c) : current_(std::move(c)) {}
  std::shared_ptr<const config> get() const noexcept { return current_.load(); }
  void set(std::shared_ptr<const config> c) noexcept { current_.store(std::move(c)); }

 private:
  std::atomic<std::shared_ptr<const config>> current_;
};

class pipeline final : public request_handler {
 public:
  // `sink` takes what a webhook stores: the group writer in the daemon.
  pipeline(const config_holder& cfg, ingest_sink& sink);

  // The request_handler (request_handler.hpp): the route, body limit or refusal at the
  // headers; the whole request (`done` may run on this thread or on the writer thread,
  // exactly once); the metrics of every reply.
  head_verdict check_head(const request_view& head) override;
  void handle(const request_view& req, const request_route& route,
              std::function<void(http_reply)> done) override;
  void observe_reply(std::string_view method, const request_route& route, unsigned status,
                     double seconds) const override;
  // handle() working the route out from req.target itself (tests, tools).
  void handle(const request_view& req, std::function<void(http_reply)> done) {
    handle(req, route_of(req.target), std::move(done));
  }

  // An operator's replay of a kept delivery (POST /v1/unreadable/{id}/replay): its body read
  // again by its channel's current adapter, without the signature check it passed when it
  // arrived, and committed as a webhook would be; the kept row is marked replayed in the same
  // transaction when nothing is left unreadable. `done` as for handle().
  void replay(const kept_row& row, millis now, std::function<void(http_reply)> done);

  // The signatures already used, which the store kept across a restart.
  replay_guard& signatures() noexcept { return signatures_; }

  // While draining, ingress refuses new work with 503 (the provider retries elsewhere/later).
  void set_draining(bool d) noexcept { draining_ = d; }

  // Why the daemon is not ready (GET /readyz answers 503 with it), or nullopt when it is.
  void set_readiness(std::function<std::optional<std::string>()> f) { not_ready_ = std::move(f); }
  // What GET /readyz answers: nullopt when ready, else why not (draining included).
  std::optional<std::string> not_ready() const;

  // Where the files customers send are kept (store/attachments.hpp); without one (tests, the
  // fuzzer) attachments are passed on as the providers describe them, not kept.
  void set_blob_store(blob_store* blobs) noexcept { blobs_ = blobs; }

  // The bearer-token read API (/v1/conversations, /v1/customers), when the daemon has one.
  void set_read_api(read_api* api) noexcept { read_api_ = api; }

  // Metrics: counted by the pipeline, and GET /metrics answered with `page()`.
  void set_metrics(daemon_metrics* m, std::function<std::string()> page) {
    metrics_ = m;
    metrics_page_ = std::move(page);
  }

 private:
  void webhook(const config& cfg, const channel& ch, const request_view& req,
               std::function<void(http_reply)> done);
  // Steps 3 to 5 of a webhook (pipeline.cpp), shared with replay().
  void ingest(const config& cfg, const channel& ch, parse_result parsed,
              std::optional<kept_delivery> kept, millis now, std::function<void(http_reply)> done);
  // Messages whose store keys hold control or invisible characters: kept as unreadable for
  // the types that keep such events, else the refusal to answer. The others' names cleaned.
  static error check_messages(const adapter& handler, parse_result& parsed);
  void count(std::string_view channel, std::string_view outcome, std::string_view reason,
             std::size_t n) const;
  // A webhook refused (logged at most so often, counted), charged to its client's budget of
  // refusals.
  http_reply refuse(const config& cfg, const channel& ch, const request_view& req, const error& e);
  // The refusals budget a request counts against: its client's, for the channel it names
  // (ch null: no such channel) or for the read API.
  static std::string refusal_key(const std::string& client, const channel* ch, bool reads);
  void charge_refusal(const rate_limit_config& rl, const std::string& key);
  // 429 when `key` has no token left in `bucket` (taking one when `take`); nullopt when it had.
  std::optional<http_reply> over_limit(rate_limiter& bucket, const std::string& key,
                                       std::uint32_t rate, std::uint32_t burst, bool take = true);

  const config_holder& cfg_;
  ingest_sink& sink_;
  std::atomic<bool> draining_{false};
  read_api* read_api_ = nullptr;
  blob_store* blobs_ = nullptr;
  daemon_metrics* metrics_ = nullptr;
  // Kept across reloads; the rates come from each request's config (server.rate_limit).
  rate_limiter limits_;    // per client (all webhooks) and per channel (authenticated ones)
  rate_limiter refusals_;  // refused requests, per client
  rate_limiter reads_;     // read API requests and GET handshakes, per client
  replay_guard signatures_;
  std::function<std::string()> metrics_page_;
  std::function<std::optional<std::string>()> not_ready_;
};

}  // namespace sb
