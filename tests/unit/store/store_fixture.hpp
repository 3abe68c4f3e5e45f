// What the store's tests share: a store on a temp file, chat messages, a routing table with
// one skill, the test clock.
#pragma once

#include "store/sqlite_store.hpp"
#include "temp_db.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sb::test {

inline std::shared_ptr<const routing_table> general_only() {
  auto t = std::make_shared<routing_table>();
  t->skills.push_back({"general", "switchboard.general", "classic", 0, 1});
  t->routes.push_back({std::nullopt, "general", 0, false, 1});
  return t;
}

inline inbound_message chat_message(std::string id, std::string visitor, std::string text) {
  inbound_message m;
  m.provider_id = std::move(id);
  m.sender_name = "Ann Lee";
  m.identities.push_back({"chat", "web-chat:" + visitor});
  m.text = std::move(text);
  return m;
}

inline ingest_request request(millis at, std::vector<inbound_message> msgs) {
  ingest_request r;
  r.channel = "web-chat";
  r.channel_type = "chat";
  r.received_at = at;
  r.messages = std::move(msgs);
  r.routing = general_only();
  return r;
}

struct fixture {
  explicit fixture(store_options o = {}) {
    o.path = db.path();
    opts = o;
    auto s = sqlite_store::open(o);
    REQUIRE(s.has_value());
    store = std::move(*s);
  }
  ingest_outcome ingest(ingest_request r) {
    ingest_request* p = &r;
    auto res = store->commit(std::span<ingest_request* const>(&p, 1), {});
    REQUIRE(res.outcomes.size() == 1);
    REQUIRE(res.outcomes[0].has_value());
    return *res.outcomes[0];
  }
  std::vector<outbox_row> outbox() {
    auto r = open_sqlite_outbox_reader(opts.path, opts.thread_limit, opts.max_payload_bytes);
    REQUIRE(r.has_value());
    return (*r)->fetch(0, 100000);
  }
  // The outbox rows published and confirmed (deleted), as the publisher would have them.
  void publish_all() {
    std::vector<std::int64_t> seqs;
    for (const auto& row : outbox()) seqs.push_back(row.seq);
    auto res = store->commit({}, seqs);
    REQUIRE(res.settled);
  }
  // The first column of the first row of `sql`, read on a connection of its own.
  std::int64_t count(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(opts.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
  temp_db db;
  store_options opts;
  std::unique_ptr<sqlite_store> store;
};

inline constexpr millis t0 = 1'795'000'000'000;  // 2026-11-18
inline constexpr millis minute = 60'000;
inline constexpr millis day = 86'400'000;

}  // namespace sb::test
