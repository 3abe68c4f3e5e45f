// What an attempt's outcome makes of a delivery row (delivery/policy.hpp).
#include "delivery/policy.hpp"

#include <doctest/doctest.h>

namespace sb {
namespace {

constexpr millis t0 = 1'796'000'000'000;
constexpr std::chrono::seconds day{24 * 3600};

delivery_job job(std::int64_t attempts, millis created = t0) {
  delivery_job j;
  j.message_id = "r-1";
  j.channel = "wa";
  j.attempts = attempts;
  j.created_at = created;
  return j;
}

}  // namespace

TEST_CASE("sent and failed are final; a retry backs off, honours Retry-After, ends at max_age") {
  backoff delay(std::chrono::seconds(1), std::chrono::minutes(5), 42);
  const millis now = t0 + 10'000;

  auto u = next_step(job(0), {send_outcome::kind::sent, "wamid.1", {}, {}}, now, day, delay);
  CHECK(u.status == "sent");
  CHECK(u.provider_message_id == "wamid.1");
  CHECK(u.at == now);
  CHECK(u.attempted);
  CHECK(u.channel == "wa");  // an erased reply's provider id is kept by channel (sqlite_replies)

  u = next_step(job(0), {send_outcome::kind::failed, {}, "(#100) Invalid parameter", {}}, now, day,
                delay);
  CHECK(u.status == "failed");
  CHECK(u.reason == "(#100) Invalid parameter");

  // Exponential with equal jitter: the n-th retry waits between half and all of 2^n s.
  for (std::int64_t n = 0; n < 12; ++n) {
    CAPTURE(n);
    u = next_step(job(n), {send_outcome::kind::retry, {}, "HTTP 503", {}}, now, day, delay);
    CHECK(u.status == "queued");
    CHECK(u.reason == "HTTP 503");
    const millis ceiling = std::min<millis>(1000LL << n, 300'000);
    CHECK(u.next_attempt_at >= now + ceiling / 2);
    CHECK(u.next_attempt_at <= now + ceiling);
  }
  // The provider's Retry-After when longer than the backoff; never shorter than the backoff.
  u = next_step(job(0), {send_outcome::kind::retry, {}, "HTTP 429", std::chrono::seconds(30)}, now,
                day, delay);
  CHECK(u.next_attempt_at == now + 30'000);
  u = next_step(job(10), {send_outcome::kind::retry, {}, "HTTP 429", std::chrono::seconds(0)}, now,
                day, delay);
  CHECK(u.next_attempt_at >= now + 300'000 / 2);

  // A retry that would come after max_age fails instead, saying why and what was last said.
  u = next_step(job(3, now - day.count() * 1000 + 5'000),
                {send_outcome::kind::retry, {}, "HTTP 502", std::chrono::seconds(10)}, now, day,
                delay);
  CHECK(u.status == "failed");
  CHECK(u.reason ==
        "max_age: not delivered within 86400 s of the reply; the last attempt: "
        "HTTP 502");
}

}  // namespace sb
