// A request's attachments before the commit (docs/attachments.md): each gets Switchboard's id
// and a state, the files the request carries are written to the blob store (durable before
// the commit that names them, which comes before the provider's 2xx), and the payload's URL
// becomes the read API's. Provider media are left "pending" for the media fetcher.
#pragma once

#include "channels/channel.hpp"
#include "channels/message.hpp"
#include "core/error.hpp"
#include "store/blob_store.hpp"
#include "store/options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

// What keep_attachments() did, for the metrics.
struct attachments_kept {
  std::size_t stored = 0;     // written to the blob store
  std::size_t pending = 0;    // to fetch after the commit
  std::size_t too_large = 0;  // over max_file_bytes or the message's max_message_bytes
  std::size_t not_kept = 0;   // a reference this channel cannot fetch (no outbound token, X)
  std::int64_t bytes = 0;     // written
};

// The read API's URL of an attachment: url_base + "/v1/attachments/" + id.
std::string attachment_url(const attachment_options& opts, std::string_view id);

// The files written stay pinned in the blob store until the commit settles them
// (store_backend::commit releases them). errc::unavailable when the blob store refuses a write
// (the request is then answered 503 and nothing is committed; the provider retries).
result<attachments_kept> keep_attachments(blob_store& blobs, const attachment_options& opts,
                                          const channel_config& channel,
                                          std::vector<inbound_message>& messages);

}  // namespace sb
