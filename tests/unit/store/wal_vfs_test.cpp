#include "store/wal_vfs.hpp"

#include "store/sqlite_store.hpp"
#include "temp_db.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <sys/resource.h>

#include <csignal>
#include <string>

using namespace sb;
using test::temp_db;

namespace {

struct connection {
  connection(const std::string& path, const char* vfs) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            vfs) == SQLITE_OK);
  }
  ~connection() { sqlite3_close_v2(db); }
  void exec(const char* sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
    INFO(sql << ": " << (msg ? msg : ""));
    sqlite3_free(msg);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string text(const char* sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }
  sqlite3* db = nullptr;
};

}  // namespace

TEST_CASE("a WAL written through the coalescing VFS reads back what was written") {
  temp_db d;
  const auto path = d.path("t.db");
  const auto before = sql::coalesced_wal_writes();
  {
    connection w(path, sql::coalescing_wal_vfs());
    w.exec("PRAGMA journal_mode = WAL");
    w.exec("PRAGMA synchronous = FULL");
    // A page cache of 10 pages: the transaction spills frames into the WAL before it commits
    // and reads them back from there, which must see the gathered writes.
    w.exec("PRAGMA cache_size = 10");
    w.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB, h TEXT)");
    w.exec("CREATE INDEX t_by_h ON t (h)");
    w.exec("BEGIN");
    w.exec("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) "
           "INSERT INTO t SELECT x, randomblob(300), hex(randomblob(8)) FROM n");
    w.exec("UPDATE t SET h = h || 'x' WHERE k % 7 = 0");  // reads the spilled pages
    w.exec("COMMIT");

    // Committed: another connection, on the default VFS, sees every row.
    connection r(path, nullptr);
    CHECK(r.text("SELECT count(*) || ',' || sum(length(v)) || ',' || sum(h LIKE '%x') FROM t") ==
          "5000,1500000,714");

    // A checkpoint lets the next commit restart the WAL at its beginning: a write that does
    // not continue the gathered run.
    w.exec("PRAGMA wal_checkpoint(PASSIVE)");
    w.exec("INSERT INTO t VALUES (5001, zeroblob(10), 'last')");
    CHECK(r.text("SELECT h FROM t WHERE k = 5001") == "last");
    CHECK(r.text("PRAGMA integrity_check") == "ok");
  }
  const auto after = sql::coalesced_wal_writes();
  const auto asked = after.asked - before.asked;
  const auto made = after.made - before.made;
  // Each read of a spilled page flushed what was gathered, so the saving here is small; never
  // more writes than SQLite asked for.
  CHECK(asked > 1000);  // two per frame (header, page)
  CHECK(made <= asked);

  // Closed (which writes anything gathered): reopened, nothing is missing or damaged.
  connection again(path, nullptr);
  CHECK(again.text("PRAGMA integrity_check") == "ok");
  CHECK(again.text("SELECT count(*) FROM t") == "5001");
}

TEST_CASE("the store's commits write their WAL frames in a few writes") {
  temp_db d;
  store_options o;
  o.path = d.path("store.db");
  auto s = sqlite_store::open(o);
  REQUIRE(s.has_value());
  auto routing = std::make_shared<routing_table>();
  routing->skills.push_back({"general", "switchboard.general", "classic", 0, 1});
  routing->routes.push_back({std::nullopt, "general", 0, false, 1});

  std::vector<ingest_request> reqs(64);
  std::vector<ingest_request*> batch;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    auto& r = reqs[i];
    r.channel = "web-chat";
    r.channel_type = "chat";
    r.received_at = 1'795'000'000'000 + static_cast<millis>(i);
    inbound_message m;
    m.provider_id = "m-" + std::to_string(i);
    m.identities.push_back({"chat", "web-chat:v-" + std::to_string(i)});
    m.text = "Hello " + std::to_string(i);
    r.messages.push_back(std::move(m));
    r.routing = routing;
    batch.push_back(&r);
  }
  const auto before = sql::coalesced_wal_writes();
  auto res = (*s)->commit(batch, {});
  const auto after = sql::coalesced_wal_writes();
  for (const auto& o : res.outcomes) REQUIRE(o.has_value());

  const auto asked = after.asked - before.asked;
  const auto made = after.made - before.made;
  INFO("asked " << asked << ", made " << made);
  CHECK(asked >= 40);      // two per frame, and a batch of 64 new customers is tens of frames
  CHECK(made * 10 < asked);

  // A 2xx follows this commit: a connection of its own reads every message at once.
  connection r(o.path, nullptr);
  CHECK(r.text("SELECT count(*) FROM messages") == "64");
  CHECK(r.text("SELECT count(*) FROM outbox") == "64");
}

TEST_CASE("a WAL write that fails fails its commit, and the store takes writes again after") {
  temp_db d;
  const auto path = d.path("t.db");
  connection w(path, sql::coalescing_wal_vfs());
  w.exec("PRAGMA journal_mode = WAL");
  w.exec("PRAGMA synchronous = FULL");
  w.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
  w.exec("INSERT INTO t VALUES (1, randomblob(100))");

  // Files may not grow past 256 KiB from here on: the next commit's gathered frames (about
  // 2 MB) cannot all be written, and only the flush at its sync finds out.
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 256 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const int rc = sqlite3_exec(w.db,
                              "WITH RECURSIVE n(x) AS (SELECT 2 UNION ALL SELECT x + 1 FROM n "
                              "WHERE x < 2000) INSERT INTO t SELECT x, randomblob(1000) FROM n",
                              nullptr, nullptr, nullptr);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
  std::signal(SIGXFSZ, old_handler);
  CHECK(rc != SQLITE_OK);  // not committed, so no 2xx would have been sent

  connection r(path, nullptr);
  CHECK(r.text("SELECT count(*) FROM t") == "1");
  CHECK(r.text("PRAGMA integrity_check") == "ok");

  // Room again: the same writes commit on the same connection.
  w.exec("WITH RECURSIVE n(x) AS (SELECT 2 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
         "INSERT INTO t SELECT x, randomblob(1000) FROM n");
  CHECK(r.text("SELECT count(*) FROM t") == "2000");
  CHECK(r.text("PRAGMA integrity_check") == "ok");
}
