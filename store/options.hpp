// The store section of the config (store/settings.cpp parses it), apart from the store so that
// the config does not need SQLite to hold it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sb {

// The config's `retention:` section (docs/configuration.md, docs/operations.md "Retention"):
// what is deleted when, and how fast. Off unless max_age is set.
struct retention_options {
  // Conversations silent (no message received) for longer than this are deleted with their
  // messages, replies and history; customers left with nothing are deleted; kept unreadable
  // deliveries older than this too. 0: keep everything for ever.
  std::chrono::milliseconds max_age{0};
  // How long the dedupe key of a deleted or erased message is kept (as a hash), counted from
  // its deletion: a provider's retry within it is still answered as a duplicate. WhatsApp
  // retries for up to 7 days, the longest of the providers (docs/operations.md, "Retention").
  std::chrono::milliseconds dedupe_horizon{14LL * 24 * 3600 * 1000};
  // Messages deleted in one transaction at most, and the pause between transactions while
  // there is more to delete (every `interval` otherwise): the writer's other work goes
  // between them.
  std::size_t batch = 500;
  std::chrono::milliseconds pause{50};
  std::chrono::milliseconds interval{10000};
};

// The config's `attachments:` section (docs/attachments.md): where the files customers send
// are kept, how large they may be, and how long provider media are fetched for.
struct attachment_options {
  // The blob store's directory; empty: "attachments" beside the database file.
  std::string directory;
  // A file above this is not kept (state "too_large" in the payload); the message is.
  std::int64_t max_file_bytes = 25LL << 20;
  // The files of one message together: past it, the later ones are not kept.
  std::int64_t max_message_bytes = 50LL << 20;
  // What the payload's attachment URLs start with: the read API's address as agents reach
  // it. Empty: the URL is the path alone, "/v1/attachments/{id}".
  std::string url_base;
  // Provider media are fetched after the commit, tried again with backoff until this long
  // after the message arrived, then marked failed.
  std::chrono::milliseconds fetch_for{24LL * 3600 * 1000};
  std::chrono::milliseconds fetch_timeout{120'000};  // one download, answer included
  std::size_t fetch_concurrency = 4;
};

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
  retention_options retention;     // the top-level `retention:` section
  attachment_options attachments;  // the top-level `attachments:` section
};

}  // namespace sb
