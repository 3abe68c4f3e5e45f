#include "daemon/replay_guard.hpp"

namespace sb {

replay_guard::verdict replay_guard::check(std::string_view channel, const signature_use& use,
                                          millis now) {
  mutex_lock lock(m_);
  // Forget what has expired: the oldest first, a bounded number per call.
  for (int i = 0; i < 16 && !by_expiry_.empty() && by_expiry_.begin()->first < now; ++i) {
    const auto it = by_expiry_.begin();
    const auto found = seen_.find(it->second);
    if (found != seen_.end() && found->second.expires_at == it->first) seen_.erase(found);
    by_expiry_.erase(it);
  }
  auto key = std::make_pair(std::string(channel), use.key);
  const auto found = seen_.find(key);
  if (found != seen_.end() && found->second.expires_at >= now)
    return found->second.digest == use.digest ? verdict::retry : verdict::replay;
  seen_[key] = {use.digest, use.expires_at};
  by_expiry_.emplace(use.expires_at, std::move(key));
  return verdict::fresh;
}

void replay_guard::load(std::string_view channel, const signature_use& use) {
  mutex_lock lock(m_);
  auto key = std::make_pair(std::string(channel), use.key);
  seen_[key] = {use.digest, use.expires_at};
  by_expiry_.emplace(use.expires_at, std::move(key));
}

std::size_t replay_guard::size() const {
  mutex_lock lock(m_);
  return seen_.size();
}

}  // namespace sb
