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

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
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
  // An entry is kept as digests: the channel and key as the first 128 bits of their SHA-256,
  // what the signature carried as 64 bits of its own. About 90 bytes of heap with the hash
  // table's node and bucket and the expiry heap's slot (it was about 430 with the strings in
  // two trees). Memory is rate x 2 x tolerance of them, so their size is what counts.
  struct key_hash {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const key_hash&) const = default;
  };
  struct key_hasher {
    std::size_t operator()(const key_hash& k) const noexcept { return k.lo; }
  };
  struct entry {
    std::uint64_t digest = 0;
    millis expires_at = 0;
  };
  static key_hash key_of(std::string_view channel, std::string_view key);
  static std::uint64_t digest_of(std::string_view digest);
  void remember(const key_hash& k, std::uint64_t digest, millis expires_at) SB_REQUIRES(m_);

  mutable mutex m_;
  std::unordered_map<key_hash, entry, key_hasher> seen_ SB_GUARDED_BY(m_);
  // The soonest expiry on top (a min-heap over a vector: 24 bytes an entry).
  struct expiry {
    millis at = 0;
    key_hash key;
    bool operator>(const expiry& o) const noexcept { return at > o.at; }
  };
  std::vector<expiry> by_expiry_ SB_GUARDED_BY(m_);
};

}  // namespace sb
