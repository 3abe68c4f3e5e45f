// A VFS for the writer's connection that writes each commit's WAL frames with one pwrite().
//
// SQLite appends a frame to the WAL as two writes, its 24-byte header then the page, so a
// commit of n pages costs 2n write() system calls; on this project's virtual machines a
// system call is what costs, and those writes were a fifth of the writer thread's CPU. This
// VFS is the default one ("unix") in every respect but one: writes to a WAL file that
// continue the previous one are gathered in memory and reach the file as one write when
// SQLite next syncs, reads, sizes, truncates or closes that file, or when
// `flush_bytes` (128 KiB) have gathered.
//
// Nothing is promised earlier than before: with synchronous = FULL, which it requires (the
// store sets it on the writer's connection and refuses to open otherwise), a commit's frames
// become visible to other connections only once the WAL-index header is written, which
// SQLite does after xSync, and xSync writes what was gathered before it syncs. A gathered
// write that fails is returned by the call that flushed it and again by the next xSync, so
// the commit it belongs to fails as it would have. Other files (the database, the WAL-index)
// are the unix VFS's own.
#pragma once

#include <cstdint>

namespace sb::sql {

// The VFS's name for sqlite3_open_v2, registered on first use (not as the default VFS);
// sqlite_failure if SQLite refuses it.
const char* coalescing_wal_vfs();

// What the VFS did since the process started: the writes SQLite asked of WAL files and the
// writes it made of them. For tests and benchmarks.
struct wal_write_counts {
  std::uint64_t asked = 0;
  std::uint64_t made = 0;
};
wal_write_counts coalesced_wal_writes();

}  // namespace sb::sql
