#include "store/wal_vfs.hpp"

#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

namespace sb::sql {

namespace {

// The most the unix VFS writes in one call: it masks a write's length to 17 bits
// (seekAndWriteFd in os_unix.c) and reports SQLITE_FULL for what that leaves out. 31 frames
// of a 4 KiB page, so a commit of 200 frames is 7 writes instead of 400.
constexpr int flush_bytes = 0x1ffff;

std::atomic<std::uint64_t> writes_asked{0};
std::atomic<std::uint64_t> writes_made{0};

// A WAL file of this VFS: this header, then the unix VFS's own file object, which does the
// I/O. Other files are the unix VFS's objects placed where SQLite expects ours.
struct wal_file {
  sqlite3_file base;
  sqlite3_file* real;
  char* buf;            // flush_bytes, gathering one run of consecutive writes
  sqlite3_int64 start;  // the run's offset in the file
  int len;              // bytes gathered
  int failed;           // an error met where SQLite ignores it, for the next xSync
};
constexpr std::size_t real_offset = (sizeof(wal_file) + 15) & ~std::size_t{15};

sqlite3_vfs* unix_vfs = nullptr;
sqlite3_vfs vfs;
sqlite3_io_methods methods;

wal_file* self(sqlite3_file* p) { return reinterpret_cast<wal_file*>(p); }
const sqlite3_io_methods& real(wal_file* f) { return *f->real->pMethods; }

// Writes what was gathered; the run is dropped whatever happens. A failure is returned to the
// caller. SQLite abandons the transaction when a write, read or sync fails, but it ignores
// some calls' errors (sizing the WAL down after a commit): a failure met there is kept and
// returned by the next xSync, so no commit syncs a WAL with a hole in it.
enum class on_failure { report, keep_for_sync };
int flush(wal_file* f, on_failure keep = on_failure::report) {
  if (f->len == 0) return SQLITE_OK;
  const int len = f->len;
  f->len = 0;
  writes_made.fetch_add(1, std::memory_order_relaxed);
  const int rc = real(f).xWrite(f->real, f->buf, len, f->start);
  if (rc != SQLITE_OK && keep == on_failure::keep_for_sync) f->failed = rc;
  return rc;
}

int wal_close(sqlite3_file* p) {
  auto* f = self(p);
  const int flushed = flush(f);
  const int closed = real(f).xClose(f->real);
  sqlite3_free(f->buf);
  return flushed != SQLITE_OK ? flushed : closed;
}

int wal_write(sqlite3_file* p, const void* data, int amt, sqlite3_int64 off) {
  auto* f = self(p);
  writes_asked.fetch_add(1, std::memory_order_relaxed);
  if (f->len > 0 && off == f->start + f->len && f->len + amt <= flush_bytes) {
    std::memcpy(f->buf + f->len, data, static_cast<std::size_t>(amt));
    f->len += amt;
    return SQLITE_OK;
  }
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  if (amt > flush_bytes) {
    writes_made.fetch_add(1, std::memory_order_relaxed);
    return real(f).xWrite(f->real, data, amt, off);
  }
  std::memcpy(f->buf, data, static_cast<std::size_t>(amt));
  f->start = off;
  f->len = amt;
  return SQLITE_OK;
}

// Every call that reads the file, depends on its size or makes it durable sees the gathered
// writes first.
int wal_read(sqlite3_file* p, void* out, int amt, sqlite3_int64 off) {
  auto* f = self(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f).xRead(f->real, out, amt, off);
}
int wal_truncate(sqlite3_file* p, sqlite3_int64 size) {
  auto* f = self(p);
  if (const int rc = flush(f, on_failure::keep_for_sync); rc != SQLITE_OK) return rc;
  return real(f).xTruncate(f->real, size);
}
int wal_sync(sqlite3_file* p, int flags) {
  auto* f = self(p);
  int rc = flush(f);
  if (rc == SQLITE_OK) rc = f->failed;
  f->failed = SQLITE_OK;  // reported: the commit fails, the next one writes its frames anew
  return rc != SQLITE_OK ? rc : real(f).xSync(f->real, flags);
}
int wal_file_size(sqlite3_file* p, sqlite3_int64* size) {
  auto* f = self(p);
  if (const int rc = flush(f, on_failure::keep_for_sync); rc != SQLITE_OK) return rc;
  return real(f).xFileSize(f->real, size);
}
// File controls neither read the frames nor make them durable (a size hint only extends the
// file, and what was gathered is written over it later): passed on as they are.
int wal_file_control(sqlite3_file* p, int op, void* arg) {
  return real(self(p)).xFileControl(self(p)->real, op, arg);
}
int wal_fetch(sqlite3_file* p, sqlite3_int64 off, int amt, void** out) {
  auto* f = self(p);
  *out = nullptr;
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f).iVersion >= 3 ? real(f).xFetch(f->real, off, amt, out) : SQLITE_OK;
}

// The rest is the unix file's own.
int wal_lock(sqlite3_file* p, int level) { return real(self(p)).xLock(self(p)->real, level); }
int wal_unlock(sqlite3_file* p, int level) { return real(self(p)).xUnlock(self(p)->real, level); }
int wal_check_reserved(sqlite3_file* p, int* out) {
  return real(self(p)).xCheckReservedLock(self(p)->real, out);
}
int wal_sector_size(sqlite3_file* p) { return real(self(p)).xSectorSize(self(p)->real); }
int wal_device(sqlite3_file* p) { return real(self(p)).xDeviceCharacteristics(self(p)->real); }
int wal_shm_map(sqlite3_file* p, int page, int size, int extend, void volatile** out) {
  return real(self(p)).xShmMap(self(p)->real, page, size, extend, out);
}
int wal_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  return real(self(p)).xShmLock(self(p)->real, offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* p) { real(self(p)).xShmBarrier(self(p)->real); }
int wal_shm_unmap(sqlite3_file* p, int del) { return real(self(p)).xShmUnmap(self(p)->real, del); }
int wal_unfetch(sqlite3_file* p, sqlite3_int64 off, void* page) {
  return real(self(p)).iVersion >= 3 ? real(self(p)).xUnfetch(self(p)->real, off, page) : SQLITE_OK;
}

int open_file(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* p, int flags, int* out_flags) {
  if (!(flags & SQLITE_OPEN_WAL)) return unix_vfs->xOpen(unix_vfs, name, p, flags, out_flags);
  auto* f = self(p);
  p->pMethods = nullptr;  // SQLite closes only a file whose open succeeded
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(p) + real_offset);
  f->buf = nullptr;
  f->start = 0;
  f->len = 0;
  f->failed = SQLITE_OK;
  if (const int rc = unix_vfs->xOpen(unix_vfs, name, f->real, flags, out_flags); rc != SQLITE_OK)
    return rc;
  f->buf = static_cast<char*>(sqlite3_malloc(flush_bytes));
  if (!f->buf) {
    real(f).xClose(f->real);
    return SQLITE_NOMEM;
  }
  p->pMethods = &methods;
  return SQLITE_OK;
}

}  // namespace

const char* coalescing_wal_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs) throw sqlite_failure(SQLITE_ERROR, "SQLite has no unix VFS");
    vfs = *unix_vfs;  // the unix VFS's functions take their own VFS only to ignore it
    vfs.zName = "sb-coalescing-wal";
    vfs.pNext = nullptr;
    vfs.szOsFile = static_cast<int>(real_offset) + unix_vfs->szOsFile;
    vfs.xOpen = open_file;
    methods = sqlite3_io_methods{3,
                                 wal_close,
                                 wal_read,
                                 wal_write,
                                 wal_truncate,
                                 wal_sync,
                                 wal_file_size,
                                 wal_lock,
                                 wal_unlock,
                                 wal_check_reserved,
                                 wal_file_control,
                                 wal_sector_size,
                                 wal_device,
                                 wal_shm_map,
                                 wal_shm_lock,
                                 wal_shm_barrier,
                                 wal_shm_unmap,
                                 wal_fetch,
                                 wal_unfetch};
    if (const int rc = sqlite3_vfs_register(&vfs, 0); rc != SQLITE_OK)
      throw sqlite_failure(rc, std::string("registering a VFS: ") + sqlite3_errstr(rc));
  });
  return vfs.zName;
}

wal_write_counts coalesced_wal_writes() {
  return {writes_asked.load(std::memory_order_relaxed),
          writes_made.load(std::memory_order_relaxed)};
}

}  // namespace sb::sql
