#include "core/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace sb {

namespace {

// Random bytes drawn from OpenSSL's CSPRNG in blocks: each RAND_bytes call costs a getpid()
// system call (its fork check) and a lock, three times per stored message otherwise. Every
// byte handed out is used once. Per thread, so no lock; the daemon never forks.
void random_bytes(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 1024> pool;
  thread_local std::size_t used = pool.size();
  if (pool.size() - used < n) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      throw std::runtime_error("RAND_bytes failed");
    used = 0;
  }
  std::memcpy(out, pool.data() + used, n);
  used += n;
}

}  // namespace

std::string new_id(millis at) {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data() + 6, b.size() - 6);  // the first 6 bytes are the timestamp
  const auto ts = static_cast<std::uint64_t>(at);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ts >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 9562 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xF];
  }
  return out;
}

bool is_id(std::string_view id) noexcept {
  // 8-4-4-4-12
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return id[14] == '7' && (id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
}

}  // namespace sb
