#include "broker/backoff.hpp"

#include <algorithm>

namespace sb {

using std::chrono::milliseconds;

backoff::backoff(milliseconds min, milliseconds max, std::uint64_t seed)
    : lo_(std::max(min, milliseconds{1})), hi_(std::max(max, lo_)), rng_(seed) {}

milliseconds backoff::ceiling(unsigned attempt) const noexcept {
  milliseconds d = lo_;
  for (unsigned i = 0; i < attempt && d < hi_; ++i) d *= 2;
  return std::min(d, hi_);
}

milliseconds backoff::operator()(unsigned attempt) {
  const milliseconds d = ceiling(attempt);
  std::uniform_int_distribution<milliseconds::rep> jitter(d.count() / 2, d.count());
  return milliseconds{jitter(rng_)};
}

}  // namespace sb
