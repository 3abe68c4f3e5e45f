// The media fetcher (docs/attachments.md): one thread that reads the attachments still to
// fetch from the store (state pending: provider media the webhook only referred to), downloads
// each through its channel's steps (channels/fetch.hpp) with the same libcurl code as agents'
// replies (delivery/http_transfer.hpp), several at once, puts the bytes in the blob store and
// hands what each attempt came to to the group writer. A failure that may pass is tried again
// with backoff until attachments.fetch_for after the message arrived; then, or at once when
// the provider refuses for good, the attachment is marked failed. A download that crosses
// max_file_bytes is abandoned and marked too_large.
#pragma once

#include "channels/settings.hpp"
#include "core/metrics.hpp"
#include "store/blob_store.hpp"
#include "store/media.hpp"
#include "store/options.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace sb {

class media_fetcher {
 public:
  struct options {
    attachment_options limits;            // max_file_bytes, fetch_for, fetch_timeout, ...
    std::chrono::milliseconds poll{500};  // how often the store is asked for due fetches
    std::chrono::milliseconds retry_min{2'000};
    std::chrono::milliseconds retry_max{600'000};
    std::chrono::milliseconds connect_timeout{10'000};
  };
  using channel_lookup = std::function<std::optional<channel>(std::string_view name)>;
  // Where the attempts' outcomes go: the group writer (group_writer::run with
  // store_backend::record_media), which runs `committed` once they are in the store.
  using recorder = std::function<void(std::vector<media_update>, std::function<void()> committed)>;

  media_fetcher(std::unique_ptr<media_reader> reader, blob_store& blobs, channel_lookup channels,
                recorder record, options opts);
  ~media_fetcher();
  media_fetcher(const media_fetcher&) = delete;
  media_fetcher& operator=(const media_fetcher&) = delete;

  void start();
  // Abandons the downloads in flight (they stay pending and are fetched at the next start).
  void stop();
  // Prometheus text: fetches by channel and outcome, bytes kept, what waits.
  void render_metrics(std::string& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sb
