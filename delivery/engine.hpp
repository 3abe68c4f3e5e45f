// The delivery engine (docs/replies.md, "Delivery"): one thread that reads the replies due from
// the store, sends each through its channel type's send API (channels/send.hpp) with libcurl's
// multi interface (TLS, connection reuse, timeouts; several requests at once), and hands what
// each attempt came to to the group writer (delivery/policy.hpp decides: sent, failed, or a
// retry later). At least once: a reply whose answer was not recorded (a crash, a stop during
// the request) is sent again; the duplicate window is the requests in flight then, at most
// max_in_flight, each within request_timeout.
#pragma once

#include "channels/settings.hpp"
#include "core/metrics.hpp"
#include "store/delivery.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace sb {

class delivery_engine {
 public:
  struct options {
    std::chrono::seconds max_age{24 * 3600};  // replies.max_age
    std::size_t max_in_flight = 32;           // requests at once, all channels together
    std::chrono::milliseconds poll{250};      // how often the store is asked for due replies
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{30'000};  // the whole request, answer included
    std::chrono::milliseconds retry_min{1'000};         // the backoff between attempts
    std::chrono::milliseconds retry_max{300'000};
  };
  // The channel named, as the current config has it (nullopt: no such channel any more).
  using channel_lookup = std::function<std::optional<channel>(std::string_view name)>;
  // Where the attempts' updates go: the group writer (group_writer::record), which runs
  // `committed` once they are in the store. Until then the replies they are about are not
  // tried again (their rows still say queued).
  using recorder =
      std::function<void(std::vector<delivery_update>, std::function<void()> committed)>;

  delivery_engine(std::unique_ptr<delivery_reader> reader, channel_lookup channels, recorder record,
                  options opts);
  ~delivery_engine();
  delivery_engine(const delivery_engine&) = delete;
  delivery_engine& operator=(const delivery_engine&) = delete;

  void start();
  // Abandons the requests in flight (their replies stay queued and are sent again at the next
  // start) and joins. Call before the writer stops.
  void stop();
  // Prometheus text: deliveries by channel and outcome, the delivery latency, what waits.
  void render_metrics(std::string& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sb
