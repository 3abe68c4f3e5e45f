#include "daemon/replay_guard.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <initializer_list>

namespace sb {
namespace {

// The first 16 bytes of SHA-256 over the parts, each followed by a 0 byte (so that "ab"+"c"
// and "a"+"bc" differ). A collision would need 2^64 work even for a provider choosing keys.
std::array<unsigned char, 32> sha256_of(std::initializer_list<std::string_view> parts) {
  std::array<unsigned char, 32> md{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1) {
    bool ok = true;
    for (const auto part : parts) {
      static constexpr unsigned char zero = 0;
      ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1 &&
           EVP_DigestUpdate(ctx, &zero, 1) == 1;
    }
    if (ok) EVP_DigestFinal_ex(ctx, md.data(), &len);
  }
  EVP_MD_CTX_free(ctx);
  return md;
}

std::uint64_t word(const unsigned char* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

replay_guard::key_hash replay_guard::key_of(std::string_view channel, std::string_view key) {
  const auto md = sha256_of({channel, key});
  return {word(md.data()), word(md.data() + 8)};
}

std::uint64_t replay_guard::digest_of(std::string_view digest) {
  return word(sha256_of({digest}).data());
}

void replay_guard::remember(const key_hash& k, std::uint64_t digest, millis expires_at) {
  seen_[k] = {digest, expires_at};
  by_expiry_.push_back({expires_at, k});
  std::push_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
}

replay_guard::verdict replay_guard::check(std::string_view channel, const signature_use& use,
                                          millis now) {
  const key_hash k = key_of(channel, use.key);
  const std::uint64_t digest = digest_of(use.digest);
  mutex_lock lock(m_);
  // Forget what has expired: the soonest first, a bounded number per call.
  for (int i = 0; i < 16 && !by_expiry_.empty() && by_expiry_.front().at < now; ++i) {
    std::pop_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
    const expiry gone = by_expiry_.back();
    by_expiry_.pop_back();
    const auto found = seen_.find(gone.key);
    if (found != seen_.end() && found->second.expires_at == gone.at) seen_.erase(found);
  }
  const auto found = seen_.find(k);
  if (found != seen_.end() && found->second.expires_at >= now)
    return found->second.digest == digest ? verdict::retry : verdict::replay;
  remember(k, digest, use.expires_at);
  return verdict::fresh;
}

void replay_guard::load(std::string_view channel, const signature_use& use) {
  const key_hash k = key_of(channel, use.key);
  const std::uint64_t digest = digest_of(use.digest);
  mutex_lock lock(m_);
  remember(k, digest, use.expires_at);
}

std::size_t replay_guard::size() const {
  mutex_lock lock(m_);
  return seen_.size();
}

}  // namespace sb
