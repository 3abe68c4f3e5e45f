// The attachments table on SQLite (store/media.hpp): the media fetcher's reader and the
// writer's record of each fetch.
#include "core/log.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store.hpp"

#include <algorithm>
#include <filesystem>

namespace sb {

using sql::stmt;
using sql::use;

// The media fetcher's reader: a read-only connection of its own (its thread's alone).
class sqlite_media_reader final : public media_reader {
 public:
  ~sqlite_media_reader() override {
    st_.reset();
    if (db_) sqlite3_close_v2(db_);
  }

  std::vector<media_job> due(millis now, std::size_t limit) override {
    std::vector<media_job> out;
    try {
      use q(st_->due);
      q->bind(1, now).bind(2, static_cast<std::int64_t>(limit));
      while (q->step())
        out.push_back({q->text(0), q->text(1), q->text(2), q->text(3), q->i64(4), q->i64(5)});
    } catch (const sql::sqlite_failure& e) {
      log::error("media", "reading the attachments due failed: {}", e.what());
      out.clear();
    }
    return out;
  }

  std::int64_t pending() override {
    try {
      use q(st_->pending);
      if (q->step()) return q->i64(0);
    } catch (const sql::sqlite_failure& e) {
      log::warn("media", "counting the attachments pending failed: {}", e.what());
    }
    return 0;
  }

 private:
  friend result<std::unique_ptr<media_reader>> open_sqlite_media_reader(const std::string& path);
  struct statements {
    explicit statements(sqlite3* db)
        : due(db,
              "SELECT id, channel, fetch_kind, fetch_ref, attempts, created_at FROM attachments "
              "WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at "
              "LIMIT ?2"),
          pending(db, "SELECT count(*) FROM attachments WHERE state = 'pending'") {}
    stmt due, pending;
  };
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
};

result<std::unique_ptr<media_reader>> open_sqlite_media_reader(const std::string& path) {
  std::unique_ptr<sqlite_media_reader> r(new sqlite_media_reader());
  const auto prepare = [&] { r->st_ = std::make_unique<sqlite_media_reader::statements>(r->db_); };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return std::unique_ptr<media_reader>(std::move(r));
}

std::string attachment_directory(const store_options& opts) {
  if (!opts.attachments.directory.empty()) return opts.attachments.directory;
  const auto dir = std::filesystem::path(opts.path).parent_path();
  return (dir.empty() ? std::filesystem::path("attachments") : dir / "attachments").string();
}

namespace {

// Removes each of `shas` that no attachment row names (a put still pinning one keeps it).
void remove_unnamed(sqlite3* db, blob_store& blobs, const std::vector<std::string>& shas) {
  if (shas.empty()) return;
  stmt named(db, "SELECT 1 FROM attachments WHERE sha256 = ?1 LIMIT 1");
  for (const auto& sha : shas) {
    named.reset();
    named.bind(1, sha);
    if (!named.step()) blobs.remove(sha);
  }
}

}  // namespace

void sqlite_store::settle_blobs(std::span<ingest_request* const> requests,
                                const std::vector<result<ingest_outcome>>& outcomes) {
  std::vector<std::string> unstored;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const ingest_request& r = *requests[i];
    for (std::size_t j = 0; j < r.messages.size(); ++j) {
      const auto& m = r.messages[j];
      const bool stored =
          i < outcomes.size() && outcomes[i] &&
          std::any_of(outcomes[i]->accepted.begin(), outcomes[i]->accepted.end(),
                      [&](const accepted_message& a) {
                        return j < r.prepared.size() && a.message_id == r.prepared[j].id;
                      });
      for (const auto& a : m.attachments) {
        if (a.state != "stored" || a.sha256.empty()) continue;
        blobs_->release(a.sha256);
        if (!stored) unstored.push_back(a.sha256);
      }
    }
  }
  try {
    remove_unnamed(db_, *blobs_, unstored);
  } catch (const sql::sqlite_failure& e) {
    log::warn("store", "looking for files no attachment names failed: {}", e.what());
  }
}

void sqlite_store::record_media(std::span<const media_update> updates) {
  std::vector<std::string> orphans;  // blobs put for rows that went meanwhile
  const auto release = [&] {
    for (const auto& u : updates)
      if (!u.sha256.empty()) blobs_->release(u.sha256);
  };
  try {
    in_transaction([&] {
      orphans.clear();
      stmt update(db_,
                  "UPDATE attachments SET state = ?2, sha256 = ?3, size = coalesce(?4, size), "
                  "content_type = CASE WHEN content_type = '' THEN ?5 ELSE content_type END, "
                  "attempts = attempts + 1, next_attempt_at = ?6, last_error = ?7, "
                  "fetch_kind = CASE WHEN ?2 = 'pending' THEN fetch_kind END, "
                  "fetch_ref = CASE WHEN ?2 = 'pending' THEN fetch_ref END "
                  "WHERE id = ?1 AND state = 'pending'");
      for (const auto& u : updates) {
        const auto opt = [](const std::string& s) {
          return s.empty() ? std::optional<std::string>() : std::optional<std::string>(s);
        };
        update.reset();
        update.bind(1, u.id).bind(2, u.state).bind(3, opt(u.sha256)).bind(4, u.size);
        update.bind(5, u.content_type).bind(6, u.next_attempt_at).bind(7, opt(u.error));
        update.run();
        if (sqlite3_changes64(db_) == 0 && !u.sha256.empty()) orphans.push_back(u.sha256);
      }
    });
    release();
    remove_unnamed(db_, *blobs_, orphans);
  } catch (const sql::sqlite_failure& e) {
    // The rows stay pending and are fetched again (the blob put is found by its hash).
    release();
    log::warn("media", "recording {} media fetches failed: {}", updates.size(), e.what());
  }
}

result<std::unique_ptr<media_reader>> sqlite_store::open_media_reader() {
  return open_sqlite_media_reader(opts_.path);
}

}  // namespace sb
