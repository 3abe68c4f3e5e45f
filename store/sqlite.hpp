// Small RAII helpers over the SQLite C API, private to store/. Every return code goes through
// check(); a failure unwinds as sqlite_failure to the transaction boundary in sqlite_store.cpp,
// which turns it into an error value. The exception never leaves store/.
#pragma once

#include "core/error.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sb::sql {

struct sqlite_failure : std::runtime_error {
  sqlite_failure(int rc, const std::string& what) : std::runtime_error(what), code(rc) {}
  int code;
};

void check(sqlite3* db, int rc, std::string_view what);
// How long a connection waits for a lock another one holds before SQLITE_BUSY.
inline constexpr int busy_timeout_ms = 5000;
// sqlite3_open_v2 with `flags` (plus NOMUTEX: one thread per connection), the named VFS (the
// default when null) and a 5 s busy timeout. `db` is set even on failure; the caller closes it.
void open(sqlite3*& db, const std::string& path, int flags, const char* vfs = nullptr);
void exec(sqlite3* db, const char* sql);

// A read-only connection: opens `path` into `db`, then `prepare()` builds its statements.
// errc::unavailable with SQLite's message when either fails (the caller closes `db`).
template <class Prepare>
std::optional<error> open_reader(sqlite3*& db, const std::string& path, Prepare&& prepare) {
  try {
    open(db, path, SQLITE_OPEN_READONLY);
    prepare();
  } catch (const sqlite_failure& e) {
    return error{errc::unavailable, e.what()};
  }
  return std::nullopt;
}

class stmt {
 public:
  stmt(sqlite3* db, const char* sql);
  ~stmt();
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& bind(int i, std::string_view v);
  stmt& bind(int i, std::int64_t v);
  stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  stmt& bind(int i, std::nullopt_t);
  stmt& bind_blob(int i, std::string_view bytes);
  template <class T>
  stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind(i, std::nullopt);
  }

  bool step();  // true: a row is available; false: done
  void run();   // step to completion, expecting no rows
  void reset() noexcept;

  bool is_null(int col) const noexcept;
  std::int64_t i64(int col) const noexcept;
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when a query scope ends, whichever way it ends.
class use {
 public:
  explicit use(stmt& s) : s_(s) {}
  ~use() { s_.reset(); }
  stmt* operator->() { return &s_; }
  stmt& operator*() { return s_; }

 private:
  stmt& s_;
};

}  // namespace sb::sql
