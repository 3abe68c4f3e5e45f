#include "delivery/policy.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace sb {

delivery_update next_step(const delivery_job& job, const send_outcome& outcome, millis now,
                          std::chrono::seconds max_age, backoff& delay) {
  delivery_update u;
  u.message_id = job.message_id;
  u.channel = job.channel;
  u.at = now;
  u.reason = outcome.reason;
  switch (outcome.what) {
    case send_outcome::kind::sent:
      u.status = "sent";
      u.provider_message_id = outcome.provider_id;
      return u;
    case send_outcome::kind::failed:
      u.status = "failed";
      return u;
    case send_outcome::kind::retry:
      break;
  }
  const auto attempt = static_cast<unsigned>(std::min<std::int64_t>(job.attempts, 30));
  millis wait = delay(attempt).count();
  if (outcome.retry_after)  // bounded first: a provider's absurd wait must not overflow
    wait = std::max<millis>(
        wait,
        std::clamp<std::int64_t>(outcome.retry_after->count(), 0, max_age.count() + 1) * 1000);
  const millis deadline = job.created_at + std::chrono::milliseconds(max_age).count();
  if (now + wait > deadline) {
    u.status = "failed";
    u.reason = fmt::format("max_age: not delivered within {} s of the reply; the last attempt: {}",
                           max_age.count(), outcome.reason);
    return u;
  }
  u.status = "queued";
  u.next_attempt_at = now + wait;
  return u;
}

}  // namespace sb
