#include "core/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace sb {

std::chrono::milliseconds rate_limiter::take(std::string_view key, double rate, double burst,
                                             clock::time_point now) {
  if (rate <= 0) return std::chrono::milliseconds{0};
  burst = std::max(burst, 1.0);
  mutex_lock lock(m_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict(now, rate, burst);
    it = buckets_.emplace(std::string(key), bucket{burst, now}).first;
    size_.store(buckets_.size(), std::memory_order_relaxed);
  }
  bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst, b.tokens + elapsed * rate);
    b.last = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::chrono::milliseconds{0};
  }
  return std::chrono::milliseconds{
      static_cast<std::int64_t>(std::ceil((1 - b.tokens) / rate * 1000))};
}

std::chrono::milliseconds rate_limiter::wait(std::string_view key, double rate, double burst,
                                             clock::time_point now) const {
  if (rate <= 0 || size_.load(std::memory_order_relaxed) == 0)
    return std::chrono::milliseconds{0};
  burst = std::max(burst, 1.0);
  mutex_lock lock(m_);
  const auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return std::chrono::milliseconds{0};
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - it->second.last).count());
  const double tokens = std::min(burst, it->second.tokens + elapsed * rate);
  if (tokens >= 1) return std::chrono::milliseconds{0};
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::ceil((1 - tokens) / rate * 1000))};
}

void rate_limiter::evict(clock::time_point now, double rate, double burst) {
  std::erase_if(buckets_, [&](const auto& kv) {
    const double elapsed = std::chrono::duration<double>(now - kv.second.last).count();
    return kv.second.tokens + elapsed * rate >= burst;
  });
  if (buckets_.size() >= max_keys_) buckets_.clear();  // every key busy: start over, not grow
  size_.store(buckets_.size(), std::memory_order_relaxed);
}

std::size_t rate_limiter::keys() const {
  mutex_lock lock(m_);
  return buckets_.size();
}

}  // namespace sb
