#include "store/sqlite.hpp"

#include <fmt/core.h>

#include <mutex>

namespace sb::sql {

void check(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  throw sqlite_failure(
      rc, fmt::format("{}: {} ({})", what, db ? sqlite3_errmsg(db) : "no db", sqlite3_errstr(rc)));
}

namespace {

// Process-wide settings, which SQLite takes only before its first use. Memory statistics
// (on in Debian's build) put one global mutex around every sqlite3_malloc and free: the
// writer, the publisher's reader and the checkpoint thread contend on it for nothing, as
// nothing here reads those statistics. Best effort: when something used SQLite before
// (a test opening a file by hand), the setting is refused and everything works as before.
void configure_library() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

void open(sqlite3*& db, const std::string& path, int flags, const char* vfs) {
  configure_library();
  check(db, sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs), "open " + path);
  check(db, sqlite3_busy_timeout(db, busy_timeout_ms), "busy_timeout");
}

void exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    throw sqlite_failure(rc, fmt::format("{}: {}", sql, text));
  }
}

stmt::stmt(sqlite3* db, const char* sql) : db_(db) {
  check(db_, sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr), sql);
}

stmt::~stmt() { sqlite3_finalize(s_); }

stmt& stmt::bind(int i, std::string_view v) {
  check(db_, sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), "bind");
  return *this;
}

stmt& stmt::bind_blob(int i, std::string_view bytes) {
  check(db_, sqlite3_bind_blob64(s_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT), "bind");
  return *this;
}

stmt& stmt::bind(int i, std::int64_t v) {
  check(db_, sqlite3_bind_int64(s_, i, v), "bind");
  return *this;
}

stmt& stmt::bind(int i, std::nullopt_t) {
  check(db_, sqlite3_bind_null(s_, i), "bind");
  return *this;
}

bool stmt::step() {
  const int rc = sqlite3_step(s_);
  check(db_, rc, sqlite3_sql(s_));
  return rc == SQLITE_ROW;
}

void stmt::run() {
  while (step()) {
  }
}

void stmt::reset() noexcept {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

bool stmt::is_null(int col) const noexcept { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

std::int64_t stmt::i64(int col) const noexcept { return sqlite3_column_int64(s_, col); }

std::string stmt::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}

std::string stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}

}  // namespace sb::sql
