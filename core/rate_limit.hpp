// Token buckets by key (a client address, a channel): each key earns `rate` tokens a second up
// to `burst`, and a request takes one. Pure apart from its mutex; the clock is passed in.
#pragma once

#include "core/mutex.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  // Keys kept at most; past it, keys whose bucket has refilled are forgotten (they would
  // start full anyway), so a flood of distinct addresses cannot grow memory without bound.
  explicit rate_limiter(std::size_t max_keys = 100'000) : max_keys_(max_keys) {}

  // Takes a token for `key`: zero when there was one, else how long until there will be
  // (the request is refused and takes nothing). rate <= 0 means no limit.
  std::chrono::milliseconds take(std::string_view key, double rate, double burst,
                                 clock::time_point now);

  // How long until `key` will have a token, taking nothing: zero when it has one now (a key
  // never charged has a full bucket). Without a lock while no key was ever charged (the
  // refusal budget, asked on every request, is empty while nothing is refused).
  std::chrono::milliseconds wait(std::string_view key, double rate, double burst,
                                 clock::time_point now) const;

  std::size_t keys() const;

 private:
  struct bucket {
    double tokens = 0;
    clock::time_point last{};
  };
  void evict(clock::time_point now, double rate, double burst) SB_REQUIRES(m_);

  const std::size_t max_keys_;
  mutable mutex m_;
  std::unordered_map<std::string, bucket> buckets_ SB_GUARDED_BY(m_);
  std::atomic<std::size_t> size_{0};  // buckets_.size(), for wait()'s lock-free answer
};

}  // namespace sb
