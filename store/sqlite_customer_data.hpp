// A customer's data as a whole, on SQLite: found through its merges, erased (GDPR Art. 17),
// exported (Art. 15/20) and let go when its retention runs out. docs/operations.md, "Data", says
// what each does for ops. Private to store/: the writer's connection erases
// (sqlite_store::erase_customer), the read API's exports (sqlite_reader::customer_export); each
// call runs inside the caller's transaction.
#pragma once

#include "core/time.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

struct sqlite3;

namespace sb::customer_data {

// The temp tables erase() and retain() collect rows in: created once on the writer's
// connection, when it opens (creating or dropping one later would make SQLite prepare every
// statement of the connection again).
void create_sets(sqlite3* db);

// The customer `id` is, following merges to the survivor; nullopt when no customer has it.
std::optional<std::string> survivor(sqlite3* db, std::string_view id);

// Deletes everything of `survivor` and of the customers merged into it (store.hpp,
// store_backend::erase_customer), keeps their dedupe keys as hashes and writes the
// customer.erased event. The connection must have secure_delete on for the freed content to be
// overwritten. Inside the caller's write transaction.
erasure_report erase(sqlite3* db, const std::string& survivor, millis at);

// One retention pass (store.hpp, store_backend::retain) from `cursor` (a conversations rowid,
// moved on; 0 when the sweep went round). `backlog`: the outbox's rows; past
// max_retention_backlog no conversation is deleted (the outbox is not read through to find
// its oldest row: the broker is behind, and retention waits for it). Inside the caller's
// write transaction.
inline constexpr std::int64_t max_retention_backlog = 10000;
retention_pass retain(sqlite3* db, const retention_options& r, millis now, std::int64_t& cursor,
                      std::int64_t backlog);

// The export document (docs/export.schema.json) of `survivor`. Inside the caller's read
// transaction, so that it is one snapshot.
std::string export_json(sqlite3* db, const std::string& survivor, millis now);

}  // namespace sb::customer_data
