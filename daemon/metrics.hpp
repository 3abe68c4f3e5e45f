// The daemon's own metrics (HTTP requests, messages by outcome, reloads) and the /metrics page,
// which adds what the writer, the publisher and the process report. Names and meanings are
// listed in docs/operations.md.
#pragma once

#include "core/metrics.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace sb {

class daemon_metrics {
 public:
  // One answered HTTP request. `handler`: webhook, handshake, api, healthz, readyz, metrics or
  // other; `channel`: a configured channel's name, else empty (never request text, so the
  // number of series stays bounded).
  void request(std::string_view handler, std::string_view channel, unsigned status,
               double seconds);
  // Messages of one webhook request by outcome: accepted, duplicate, ignored, unreadable (an
  // event kept with its delivery, not read), or rejected with the error's name as reason
  // (bad_signature, malformed, unavailable, ...).
  void messages(std::string_view channel, std::string_view outcome, std::string_view reason,
                std::uint64_t n);
  void reload(bool ok);

  // Adds the daemon's families to `out`.
  void render(std::string& out) const;

  // For tests.
  std::uint64_t request_count(std::string_view handler, std::string_view channel,
                              unsigned status) const;

 private:
  metrics::counter_family requests_{
      "switchboard_http_requests_total",
      "HTTP requests answered, by handler, channel (webhooks) and status code."};
  metrics::histogram_family request_seconds_{
      "switchboard_http_request_duration_seconds",
      "Time from a request's complete headers to its answer (a 2xx waits for the commit), by "
      "handler.",
      metrics::latency_buckets()};
  metrics::counter_family messages_{
      "switchboard_messages_total",
      "Webhook messages by channel and outcome (accepted, duplicate, ignored, unreadable: kept "
      "with their delivery for ops, rejected with a reason)."};
  metrics::counter_family reloads_{"switchboard_config_reloads_total",
                                   "SIGHUP reloads, by result (ok, failed)."};
};

}  // namespace sb
