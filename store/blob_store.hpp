// Where the bytes of the files customers send are kept (docs/attachments.md): by the SHA-256
// of their content, so a file sent twice is kept once and a name says what it holds. The
// attachments table (store/schema.hpp, migration 14) says which message holds which blob; a
// blob no row names any more is removed by erasure and retention.
//
// The embedded store is a local directory. Several daemons would share one through a network
// file system that honours fsync and rename (NFSv4), or through an object store behind this
// same interface (put: a PUT whose answer comes after the object is durable; the key is the
// content's hash, so two daemons writing the same file write the same object).
#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sb {

class blob_store {
 public:
  virtual ~blob_store() = default;
  // Keeps `bytes` durably under their SHA-256 (lower-case hex, returned): once put returns,
  // the content and its name survive a crash, so a commit that names it may follow. Putting
  // the same content again writes nothing. errc::unavailable when the disk refuses.
  // A successful put pins the content until release(): the commit that will name it has not
  // happened yet, and an erasure of another message with the same bytes must not remove it
  // meanwhile.
  virtual result<std::string> put(std::string_view bytes) = 0;
  // Ends the pin of one put (once its commit is done or has failed).
  virtual void release(std::string_view sha256) = 0;
  // The content kept under `sha256`; errc::not_found when there is none.
  virtual result<std::string> get(std::string_view sha256) const = 0;
  // Removes the content (nothing when absent) unless a put pins it; the caller knows no
  // attachment names it.
  virtual void remove(std::string_view sha256) = 0;
  // Where it lives, for the logs and docs ("/var/lib/switchboard/attachments").
  virtual std::string describe() const = 0;
};

// A local directory: <dir>/<first two hex digits>/<sha256>, written under <dir>/tmp, fsynced,
// renamed into place and its directory fsynced. Created (mode 0700) when missing.
result<std::unique_ptr<blob_store>> open_local_blob_store(const std::string& dir);

}  // namespace sb
