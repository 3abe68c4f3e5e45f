#include "daemon/metrics.hpp"

#include <fmt/core.h>

namespace sb {

void daemon_metrics::request(std::string_view handler, std::string_view channel, unsigned status,
                             double seconds) {
  const auto code = fmt::format("{}", status);
  requests_.add(metrics::labels({{"handler", handler}, {"channel", channel}, {"code", code}}));
  request_seconds_.observe(metrics::labels({{"handler", handler}}), seconds);
}

void daemon_metrics::messages(std::string_view channel, std::string_view outcome,
                              std::string_view reason, std::uint64_t n) {
  if (n == 0) return;
  messages_.add(
      metrics::labels({{"channel", channel}, {"outcome", outcome}, {"reason", reason}}), n);
}

void daemon_metrics::reload(bool ok) {
  reloads_.add(metrics::labels({{"result", ok ? "ok" : "failed"}}));
}

void daemon_metrics::render(std::string& out) const {
  requests_.render(out);
  request_seconds_.render(out);
  messages_.render(out);
  reloads_.render(out);
}

std::uint64_t daemon_metrics::request_count(std::string_view handler, std::string_view channel,
                                            unsigned status) const {
  return requests_.value(metrics::labels(
      {{"handler", handler}, {"channel", channel}, {"code", fmt::format("{}", status)}}));
}

}  // namespace sb
