#include "store/attachments.hpp"

#include "channels/fetch.hpp"
#include "core/ids.hpp"

#include <utility>

namespace sb {

std::string attachment_url(const attachment_options& opts, std::string_view id) {
  std::string url = opts.url_base;
  url += "/v1/attachments/";
  url += id;
  return url;
}

namespace {

void release_pins(blob_store& blobs, const std::vector<inbound_message>& messages) {
  for (const auto& m : messages)
    for (const auto& a : m.attachments)
      if (a.state == "stored") blobs.release(a.sha256);
}

}  // namespace

result<attachments_kept> keep_attachments(blob_store& blobs, const attachment_options& opts,
                                          const channel_config& channel,
                                          std::vector<inbound_message>& messages) {
  attachments_kept out;
  for (auto& m : messages) {
    std::int64_t message_bytes = 0;  // kept or to fetch, as far as known
    for (auto& a : m.attachments) {
      a.id = new_id();
      if (a.bytes) a.size = static_cast<std::int64_t>(a.bytes->size());
      const std::int64_t size = a.size.value_or(0);
      if (size > opts.max_file_bytes || message_bytes + size > opts.max_message_bytes) {
        a.state = "too_large";
        a.bytes.reset();
        ++out.too_large;
        continue;
      }
      if (a.bytes) {
        auto sha = blobs.put(*a.bytes);
        if (!sha) {
          release_pins(blobs, messages);  // nothing of this request is committed
          return sha.error();
        }
        a.sha256 = std::move(*sha);
        a.bytes.reset();  // on disk now: the request need not carry it to the writer
        a.state = "stored";
        a.url = attachment_url(opts, a.id);
        message_bytes += size;
        out.bytes += size;
        ++out.stored;
      } else if (!a.fetch_kind.empty() && first_fetch_step(channel, a.fetch_kind, a.fetch_ref)) {
        a.state = "pending";
        a.source_url = std::exchange(a.url, attachment_url(opts, a.id));
        message_bytes += size;
        ++out.pending;
      } else {
        a.state = "not_kept";  // the provider's URL (if any) stays in the payload
        ++out.not_kept;
      }
    }
  }
  return out;
}

}  // namespace sb
