// The store section of the config (store/settings.cpp parses it), apart from the store so that
// the config does not need SQLite to hold it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sb {

struct store_options {
  std::string path = "switchboard.db";
  std::chrono::seconds reopen_after{7 * 24 * 3600};
  std::size_t thread_limit = 50;
  // A queue payload's size bound (store/payload.hpp, build_bounded_payload): well under
  // RabbitMQ's max_message_size (128 MiB by default), and what the publisher's window holds.
  std::size_t max_payload_bytes = 4 << 20;
  std::size_t max_backlog = 1'000'000;  // unpublished messages before ingress answers 503
  std::int64_t max_page_count = 0;      // 0: SQLite's default; tests set it to make the store full
  // The writer connection's page cache (SQLite's own, in the daemon's heap). Every message
  // inserts into a handful of indexes at random places (UUID keys, provider ids); SQLite's
  // default 2 MiB holds few of their pages once the store is large, and a page not held is
  // read from the OS, or from the disk when the OS has let it go.
  std::size_t cache_bytes = 64 << 20;
};

}  // namespace sb
