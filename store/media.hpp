// The attachments table as the media fetcher (delivery/media_fetcher.hpp) and the read API see
// it (docs/attachments.md): the provider media still to fetch, what each attempt came to, and
// one attachment's record for GET /v1/attachments/{id}.
#pragma once

#include "core/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb {

// An attachment waiting to be fetched (state pending, next attempt due).
struct media_job {
  std::string id;
  std::string channel;
  std::string kind;  // channels/fetch.hpp
  std::string ref;
  std::int64_t attempts = 0;
  millis created_at = 0;  // when its message arrived
};

// What an attempt came to, written by the group writer (store_backend::record_media).
struct media_update {
  std::string id;
  std::string state;   // stored, pending (try again at next_attempt_at), failed, too_large
  std::string sha256;  // stored: the blob's key
  std::optional<std::int64_t> size;
  std::string content_type;  // what the provider says it is, when the row has none
  millis next_attempt_at = 0;
  std::string error;  // why it is not stored (yet)
};

// One attachment, for GET /v1/attachments/{id}.
struct attachment_record {
  std::string id;
  std::string message_id;
  std::string name;
  std::string content_type;
  std::optional<std::int64_t> size;
  std::string sha256;
  std::string state;
  std::int64_t attempts = 0;
  std::string last_error;
};

class media_reader {
 public:
  virtual ~media_reader() = default;
  // Up to `limit` pending attachments due at `now`, the longest waiting first. Empty on a read
  // error (logged).
  virtual std::vector<media_job> due(millis now, std::size_t limit) = 0;
  // Attachments waiting to be fetched (pending).
  virtual std::int64_t pending() = 0;
};

}  // namespace sb
