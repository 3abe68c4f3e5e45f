// No signature is good twice (issue #18). Mailgun signs only a timestamp and a token, not the
// body; a Standard Webhooks signature covers the body, but its webhook-id names one delivery.
// Each signature use is remembered, by channel and key (Mailgun's token, the webhook-id), with a
// digest of what it carried, until its timestamp is past twice the channel's tolerance:
//   - a key never seen is fresh: remembered, and the request goes on;
//   - the same key with the same content is the provider's retry (after a 503 or a lost 2xx):
//     it goes on, and the store's dedupe answers it;
//   - the same key with other content is a replay of a captured signature: refused, 401.
// What is remembered survives a restart: it is written with the request's commit, or (for a
// request that stores nothing, an event webhook) with the writer's next transaction, and read
// back at start.
#pragma once

#include "channels/channel.hpp"
#include "core/mutex.hpp"
#include "core/time.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

class replay_guard {
 public:
  enum class verdict { fresh, retry, replay };

  // Checks `use` (from parse_result::signature) for `channel` at `now`; a fresh use is
  // remembered. Expired entries are dropped as a side effect, a few per call.
  verdict check(std::string_view channel, const signature_use& use, millis now);

  // What the store kept (store: signatures_log), at start.
  void load(std::string_view channel, const signature_use& use);

  std::size_t size() const;

 private:
  struct entry {
    std::string digest;
    millis expires_at = 0;
  };
  mutable mutex m_;
  // (channel, key)
  std::map<std::pair<std::string, std::string>, entry, std::less<>> seen_ SB_GUARDED_BY(m_);
  std::multimap<millis, std::pair<std::string, std::string>> by_expiry_ SB_GUARDED_BY(m_);
};

}  // namespace sb
