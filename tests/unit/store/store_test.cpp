#include "store/sqlite_store.hpp"

#include "store/payload.hpp"
#include "store/reader.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/writer.hpp"
#include "store_fixture.hpp"
#include "temp_db.hpp"

#include <doctest/doctest.h>
#include <fmt/core.h>
#include <re2/re2.h>
#include <sqlite3.h>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <future>
#include <set>

namespace fs = std::filesystem;
using namespace sb;

using namespace sb::test;

TEST_CASE("a new message creates a customer, a conversation and an outbox row") {
  fixture f;
  auto out = f.ingest(request(t0, {chat_message("m-1", "v-42", "Hi, my invoice is wrong")}));
  REQUIRE(out.accepted.size() == 1);
  CHECK(out.duplicates == 0);
  CHECK(out.accepted[0].skill == "general");
  CHECK(f.store->outbox_size() == 1);

  auto rows = f.outbox();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].message_id == out.accepted[0].message_id);
  CHECK(rows[0].conversation_id == out.accepted[0].conversation_id);
  CHECK(rows[0].skill == "general");
  CHECK(rows[0].channel == "web-chat");
  CHECK(rows[0].created_at == t0);

  auto payload = boost::json::parse(rows[0].body).as_object();
  CHECK(payload.at("schema") == "switchboard.conversation/v1");
  CHECK(payload.at("conversation").at("id").as_string() == out.accepted[0].conversation_id);
  CHECK(payload.at("conversation").at("message_count") == 1);
  CHECK(payload.at("conversation").at("skill") == "general");
  CHECK(payload.at("customer").at("id").as_string() == out.accepted[0].customer_id);
  CHECK(payload.at("customer").at("name") == "Ann Lee");
  CHECK(payload.at("message").at("text") == "Hi, my invoice is wrong");
  CHECK(payload.at("message").at("provider_id") == "m-1");
  CHECK(payload.at("message").at("direction") == "inbound");
  CHECK(payload.at("thread").as_array().size() == 1);
  CHECK(payload.at("thread_truncated") == false);
}

TEST_CASE("a duplicate provider id is stored and enqueued once") {
  fixture f;
  f.ingest(request(t0, {chat_message("m-1", "v-42", "hello")}));
  auto again = f.ingest(request(t0 + 1000, {chat_message("m-1", "v-42", "hello")}));
  CHECK(again.accepted.empty());
  CHECK(again.duplicates == 1);
  CHECK(f.store->outbox_size() == 1);

  SUBCASE("also inside one batch") {
    auto both = f.ingest(
        request(t0 + 2000, {chat_message("m-2", "v-42", "x"), chat_message("m-2", "v-42", "x")}));
    CHECK(both.accepted.size() == 1);
    CHECK(both.duplicates == 1);
  }
  SUBCASE("the same id on another channel is not a duplicate") {
    auto r = request(t0 + 2000, {chat_message("m-1", "v-42", "hello")});
    r.channel = "other-chat";
    CHECK(f.ingest(std::move(r)).accepted.size() == 1);
  }
}

TEST_CASE("messages without a provider id dedupe on a hash of their content") {
  fixture f;
  auto m = chat_message("", "v-1", "same words");
  m.sent_at = t0;
  // The payload shows the key it was deduped on, never "" (issue #17: the schema requires one).
  ingest_request first = request(t0, {m});
  prepare(first);
  const auto body = boost::json::parse(first.prepared.at(0).body);
  CHECK(body.at("provider_id").as_string().starts_with("sha256:"));
  CHECK(body.at("provider_id").as_string() == first.prepared.at(0).provider_id);
  CHECK(f.ingest(request(t0, {m})).accepted.size() == 1);
  CHECK(f.ingest(request(t0 + 5, {m})).duplicates == 1);
  m.text = "other words";
  CHECK(f.ingest(request(t0 + 10, {m})).accepted.size() == 1);
}

TEST_CASE("follow-ups join the open conversation; the thread grows") {
  fixture f;
  auto a = f.ingest(request(t0, {chat_message("m-1", "v-42", "first")}));
  auto b = f.ingest(request(t0 + minute, {chat_message("m-2", "v-42", "second")}));
  CHECK(a.accepted[0].conversation_id == b.accepted[0].conversation_id);
  CHECK(a.accepted[0].customer_id == b.accepted[0].customer_id);
  auto rows = f.outbox();
  REQUIRE(rows.size() == 2);
  auto thread = boost::json::parse(rows[1].body).at("thread").as_array();
  REQUIRE(thread.size() == 2);
  CHECK(thread[0].at("text") == "first");
  CHECK(thread[1].at("text") == "second");
}

TEST_CASE("a message after the reopen window opens a new conversation") {
  store_options o;
  o.reopen_after = std::chrono::hours(24);
  fixture f(o);
  auto a = f.ingest(request(t0, {chat_message("m-1", "v-42", "first")}));
  auto b = f.ingest(request(t0 + day - 1, {chat_message("m-2", "v-42", "within")}));
  CHECK(a.accepted[0].conversation_id == b.accepted[0].conversation_id);
  // The window counts from the last message, not from the first.
  auto c = f.ingest(request(t0 + 2 * day - 2, {chat_message("m-3", "v-42", "still within")}));
  CHECK(c.accepted[0].conversation_id == a.accepted[0].conversation_id);
  auto d = f.ingest(request(t0 + 3 * day, {chat_message("m-4", "v-42", "later")}));
  CHECK(d.accepted[0].conversation_id != a.accepted[0].conversation_id);
  CHECK(d.accepted[0].customer_id == a.accepted[0].customer_id);
  auto rows = f.outbox();
  auto payload = boost::json::parse(rows.back().body);
  CHECK(payload.at("thread").as_array().size() == 1);
  CHECK(payload.at("conversation").at("message_count") == 1);
}

TEST_CASE("identities of one message are linked to one customer") {
  fixture f;
  auto m = chat_message("m-1", "v-42", "hi");
  m.identities.push_back({"email", "ann@example.com"});
  m.identities.push_back({"phone", "+15550102000"});
  auto a = f.ingest(request(t0, {m}));

  // Another visitor id that gives the same email is the same customer.
  auto n = chat_message("m-2", "v-99", "me again, from another browser");
  n.identities.push_back({"email", "ann@example.com"});
  auto b = f.ingest(request(t0 + minute, {n}));
  CHECK(b.accepted[0].customer_id == a.accepted[0].customer_id);

  auto payload = boost::json::parse(f.outbox().back().body);
  auto ids = payload.at("customer").at("identities").as_array();
  CHECK(ids.size() == 4);
}

TEST_CASE("a customer keeps the first name given; identities are stored once") {
  fixture f;
  const auto customer_of = [&](const std::string& body) {
    return boost::json::parse(body).at("customer").as_object();
  };
  auto nameless = chat_message("m-1", "v-7", "hi");
  nameless.sender_name.clear();
  nameless.identities.push_back(nameless.identities.front());  // the same identity twice
  f.ingest(request(t0, {nameless}));
  CHECK(customer_of(f.outbox().back().body).at("name").is_null());
  CHECK(customer_of(f.outbox().back().body).at("identities").as_array().size() == 1);

  auto named = chat_message("m-2", "v-7", "I'm Ann");  // a follow-up gives the name
  f.ingest(request(t0 + minute, {named}));
  CHECK(customer_of(f.outbox().back().body).at("name") == "Ann Lee");

  auto renamed = chat_message("m-3", "v-7", "call me Annie");  // a later name does not replace it
  renamed.sender_name = "Annie";
  renamed.identities.push_back({"email", "ann@example.com"});
  f.ingest(request(t0 + 2 * minute, {renamed}));
  const auto c = customer_of(f.outbox().back().body);
  CHECK(c.at("name") == "Ann Lee");
  CHECK(c.at("identities").as_array().size() == 2);

  auto again = chat_message("m-4", "v-7", "still me");  // no name: the stored one stays
  again.sender_name.clear();
  f.ingest(request(t0 + 3 * minute, {again}));
  CHECK(customer_of(f.outbox().back().body).at("name") == "Ann Lee");
  CHECK(customer_of(f.outbox().back().body).at("identities").as_array().size() == 2);
}

// Issue #18: a claimed identity (typed by a visitor, a mail whose authentication failed or is
// unknown) never links a message to another customer, never merges two, never opens another
// customer's thread. Each case failed at 9a97f07, where every identity linked.
TEST_CASE("claims never link, merge or open another customer's thread") {
  fixture f;
  // Ann, proven: a mail whose DKIM aligned with her domain.
  auto ann = chat_message("m-ann", "unused", "my invoice, please");
  ann.identities = {{"email", "ann@example.com", true}};
  auto a = f.ingest(request(t0, {ann}));
  // Bob, proven: his WhatsApp number.
  auto bob = chat_message("m-bob", "unused", "hello");
  bob.identities = {{"whatsapp", "15550102000", true}, {"phone", "+15550102000", true}};
  auto b = f.ingest(request(t0 + minute, {bob}));

  SUBCASE("a visitor typing Ann's email stays a customer of their own") {
    auto impostor = chat_message("m-imp", "v-imp", "show me my last messages");
    impostor.identities.push_back({"email", "ann@example.com", false});
    auto i = f.ingest(request(t0 + 2 * minute, {impostor}));
    CHECK(i.accepted[0].customer_id != a.accepted[0].customer_id);
    CHECK(i.accepted[0].conversation_id != a.accepted[0].conversation_id);
    const auto payload = boost::json::parse(f.outbox().back().body);
    CHECK(payload.at("thread").as_array().size() == 1);  // none of Ann's messages
    const auto& ids = payload.at("customer").at("identities").as_array();
    REQUIRE(ids.size() == 2);
    CHECK(ids[0].at("type") == "chat");
    CHECK(ids[0].at("verified") == true);
    CHECK(ids[1].at("value") == "ann@example.com");
    CHECK(ids[1].at("verified") == false);                  // shown to the agent as a claim
    CHECK(payload.at("customer").at("name") == "Ann Lee");  // the name the visitor gave
  }
  SUBCASE("one message claiming Ann's email and Bob's phone merges nobody") {
    auto both = chat_message("m-both", "v-both", "hi");
    both.identities.push_back({"email", "ann@example.com", false});
    both.identities.push_back({"phone", "+15550102000", false});
    auto i = f.ingest(request(t0 + 2 * minute, {both}));
    CHECK(i.accepted[0].customer_id != a.accepted[0].customer_id);
    CHECK(i.accepted[0].customer_id != b.accepted[0].customer_id);
    auto reader = open_sqlite_reader(f.opts.path);
    REQUIRE(reader.has_value());
    const auto cu = boost::json::parse(*(*reader)->customer(a.accepted[0].customer_id));
    CHECK(cu.at("merged_ids").as_array().empty());
    CHECK(*(*reader)->customer_id_by_identity("phone", "+15550102000") ==
          b.accepted[0].customer_id);
  }
  SUBCASE("a message with claims only joins a customer known by that claim alone") {
    // Two callback requests typing the same number: one unproven customer, one thread.
    auto first = chat_message("cb-1", "unused", "call me");
    first.identities = {{"phone", "+37126000001", false}};
    auto c1 = f.ingest(request(t0 + 2 * minute, {first}));
    auto second = chat_message("cb-2", "unused", "call me again");
    second.identities = {{"phone", "+37126000001", false}};
    auto c2 = f.ingest(request(t0 + 3 * minute, {second}));
    CHECK(c2.accepted[0].customer_id == c1.accepted[0].customer_id);
    CHECK(c2.accepted[0].conversation_id == c1.accepted[0].conversation_id);
    // ...but never a proven customer: Bob's number typed into the form is not Bob.
    auto typed = chat_message("cb-3", "unused", "call me");
    typed.identities = {{"phone", "+15550102000", false}};
    CHECK(f.ingest(request(t0 + 4 * minute, {typed})).accepted[0].customer_id !=
          b.accepted[0].customer_id);
  }
  SUBCASE("a mail whose authentication failed joins nobody") {
    auto unknown = chat_message("mail-1", "unused", "from an unknown server");
    unknown.identities = {{"email", "carol@example.org", false}};
    auto u = f.ingest(request(t0 + 2 * minute, {unknown}));
    auto spoofed = chat_message("mail-2", "unused", "new bank details");
    spoofed.identities = {{"email", "carol@example.org", false}};
    spoofed.authentication_failed = true;
    auto s = f.ingest(request(t0 + 3 * minute, {spoofed}));
    CHECK(s.accepted[0].customer_id != u.accepted[0].customer_id);
    // ...and the customer it made leads no later message to it.
    auto spoofed_only = chat_message("mail-3", "unused", "again");
    spoofed_only.identities = {{"email", "erin@example.org", false}};
    spoofed_only.authentication_failed = true;
    auto s1 = f.ingest(request(t0 + 4 * minute, {spoofed_only}));
    auto later = chat_message("mail-4", "unused", "from an unknown server");
    later.identities = {{"email", "erin@example.org", false}};
    CHECK(f.ingest(request(t0 + 5 * minute, {later})).accepted[0].customer_id !=
          s1.accepted[0].customer_id);
  }
  SUBCASE("a claim the customer later proves is shown once, verified") {
    auto typed = chat_message("m-t", "v-ann", "hi");
    typed.identities.push_back({"email", "dora@example.com", false});
    f.ingest(request(t0 + 2 * minute, {typed}));
    auto proven = chat_message("m-p", "v-ann", "logged in now");
    proven.identities.push_back({"email", "dora@example.com", true});
    f.ingest(request(t0 + 3 * minute, {proven}));
    const auto ids =
        boost::json::parse(f.outbox().back().body).at("customer").at("identities").as_array();
    REQUIRE(ids.size() == 2);
    CHECK(ids[1].at("value") == "dora@example.com");
    CHECK(ids[1].at("verified") == true);
  }
}

TEST_CASE("a merge records the message and the verified identity that proved it") {
  fixture f;
  auto email_only = chat_message("m-1", "v-1", "one");
  email_only.identities = {{"email", "ann@example.com"}};
  auto a = f.ingest(request(t0, {email_only}));
  auto phone_only = chat_message("m-2", "v-2", "two");
  phone_only.identities = {{"phone", "+15550102000"}};
  auto b = f.ingest(request(t0 + minute, {phone_only}));
  auto both = chat_message("m-3", "v-3", "both");
  both.identities = {{"email", "ann@example.com"}, {"phone", "+15550102000"}};
  auto c = f.ingest(request(t0 + 2 * minute, {both}));
  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  const auto cu = boost::json::parse(*(*reader)->customer(a.accepted[0].customer_id));
  const auto& merges = cu.at("merges").as_array();
  REQUIRE(merges.size() == 1);
  CHECK(merges[0].at("merged_id").as_string() == b.accepted[0].customer_id);
  CHECK(merges[0].at("message_id").as_string() == c.accepted[0].message_id);
  CHECK(merges[0].at("identity").at("type") == "phone");
  CHECK(merges[0].at("identity").at("value") == "+15550102000");
}

TEST_CASE("a message proving two customers are one merges them into the older") {
  fixture f;
  auto email_only = chat_message("m-1", "v-1", "from visitor one");
  email_only.identities = {{"email", "ann@example.com"}};
  auto a = f.ingest(request(t0, {email_only}));
  auto phone_only = chat_message("m-2", "v-2", "from visitor two");
  phone_only.identities = {{"phone", "+15550102000"}};
  auto b = f.ingest(request(t0 + minute, {phone_only}));
  REQUIRE(a.accepted[0].customer_id != b.accepted[0].customer_id);

  auto both = chat_message("m-3", "v-3", "both");
  both.identities = {{"phone", "+15550102000"}, {"email", "ann@example.com"}};
  auto c = f.ingest(request(t0 + 2 * minute, {both}));
  CHECK(c.accepted[0].customer_id == a.accepted[0].customer_id);  // the older survives
  CHECK(c.accepted[0].conversation_id == a.accepted[0].conversation_id);

  auto payload = boost::json::parse(f.outbox().back().body);
  auto thread = payload.at("thread").as_array();
  REQUIRE(thread.size() == 3);  // the two threads became one, in time order
  CHECK(thread[0].at("text") == "from visitor one");
  CHECK(thread[1].at("text") == "from visitor two");
  CHECK(thread[2].at("text") == "both");
  CHECK(payload.at("conversation").at("message_count") == 3);
  CHECK(payload.at("customer").at("identities").as_array().size() == 2);

  // Later messages from the merged customer's identity resolve to the survivor.
  auto later = chat_message("m-4", "v-2", "again");
  later.identities = {{"phone", "+15550102000"}};
  CHECK(f.ingest(request(t0 + 3 * minute, {later})).accepted[0].customer_id ==
        a.accepted[0].customer_id);
}

TEST_CASE("the thread carries the newest thread_limit messages, oldest first") {
  store_options o;
  o.thread_limit = 3;
  fixture f(o);
  for (int i = 1; i <= 5; ++i)
    f.ingest(request(t0 + i, {chat_message("m-" + std::to_string(i), "v-1", std::to_string(i))}));
  auto payload = boost::json::parse(f.outbox().back().body);
  auto thread = payload.at("thread").as_array();
  REQUIRE(thread.size() == 3);
  CHECK(thread[0].at("text") == "3");
  CHECK(thread[2].at("text") == "5");
  CHECK(payload.at("thread_truncated") == true);
  CHECK(payload.at("conversation").at("message_count") == 5);
}

TEST_CASE("outbound messages are stored in the thread but not enqueued") {
  fixture f;
  f.ingest(request(t0, {chat_message("m-1", "v-1", "question")}));
  auto echo = chat_message("m-2", "v-1", "answer from the page");
  echo.direction = "outbound";
  auto out = f.ingest(request(t0 + 1, {echo}));
  REQUIRE(out.accepted.size() == 1);
  CHECK(out.accepted[0].skill.empty());
  CHECK(f.store->outbox_size() == 1);
  f.ingest(request(t0 + 2, {chat_message("m-3", "v-1", "thanks")}));
  auto thread = boost::json::parse(f.outbox().back().body).at("thread").as_array();
  REQUIRE(thread.size() == 3);
  CHECK(thread[1].at("direction") == "outbound");
}

TEST_CASE("confirmed outbox rows are deleted in the next commit") {
  fixture f;
  f.ingest(request(t0, {chat_message("m-1", "v-1", "a"), chat_message("m-2", "v-1", "b")}));
  auto rows = f.outbox();
  REQUIRE(rows.size() == 2);
  std::vector<std::int64_t> seqs{rows[0].seq};
  auto res = f.store->commit({}, seqs);
  CHECK(res.outbox_removed == 1);
  CHECK(f.store->outbox_size() == 1);
  CHECK(f.outbox().front().seq == rows[1].seq);
}

TEST_CASE("the schema is versioned and reopening an existing store keeps its data") {
  temp_db db;
  store_options o;
  o.path = db.path();
  {
    auto s = sqlite_store::open(o);
    REQUIRE(s.has_value());
    auto r = request(t0, {chat_message("m-1", "v-1", "a")});
    ingest_request* p = &r;
    REQUIRE((*s)->commit(std::span<ingest_request* const>(&p, 1), {}).outcomes[0].has_value());
  }
  auto s = sqlite_store::open(o);
  REQUIRE(s.has_value());
  CHECK((*s)->outbox_size() == 1);
  sqlite3* db_handle = nullptr;
  REQUIRE(sqlite3_open(o.path.c_str(), &db_handle) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_handle, "PRAGMA user_version", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) >= 1);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db_handle, "PRAGMA journal_mode", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_close(db_handle);
}

TEST_CASE("a payload is assembled as of its message, whatever was committed after it") {
  // Three messages of one conversation in one commit, read by the publisher afterwards: each
  // payload still shows the conversation as it was when that message arrived.
  fixture f;
  f.ingest(request(t0, {chat_message("m-1", "v-1", "one"), chat_message("m-2", "v-1", "two"),
                        chat_message("m-3", "v-1", "three")}));
  auto rows = f.outbox();
  REQUIRE(rows.size() == 3);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto p = boost::json::parse(rows[i].body).as_object();
    CHECK(p.at("conversation").at("message_count") == i + 1);
    CHECK(p.at("message").at("id").as_string() == rows[i].message_id);
    const auto& thread = p.at("thread").as_array();
    REQUIRE(thread.size() == i + 1);
    CHECK(thread.back() == p.at("message"));
  }
}

TEST_CASE("an upgrade keeps the rows waiting in the outbox and publishes them assembled") {
  // A store written by a release at schema 4, whose outbox rows carried their payload.
  temp_db db;
  {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &h) == SQLITE_OK);
    for (std::size_t v = 0; v < 4; ++v)
      REQUIRE(sqlite3_exec(h, schema::migrations[v], nullptr, nullptr, nullptr) == SQLITE_OK);
    const char* rows = R"sql(
PRAGMA user_version = 4;
INSERT INTO customers (id, name, created_at) VALUES ('cu-1', 'Ann Lee', 1000);
INSERT INTO identities (type, value, customer_id, created_at) VALUES ('chat', 'web-chat:v-1', 'cu-1', 1000);
INSERT INTO conversations (id, customer_id, status, skill, priority, opened_at, last_message_at, message_count)
  VALUES ('co-1', 'cu-1', 'open', 'general', 0, 1000, 2000, 2);
INSERT INTO messages (id, conversation_id, seq, channel, provider_id, direction, received_at, body)
  VALUES ('me-1', 'co-1', 1, 'web-chat', 'p-1', 'inbound', 1000, '{"id":"me-1","text":"first"}'),
         ('me-2', 'co-1', 2, 'web-chat', 'p-2', 'inbound', 2000, '{"id":"me-2","text":"second"}');
INSERT INTO outbox (message_id, conversation_id, skill, channel, channel_type, priority, created_at, body)
  VALUES ('me-2', 'co-1', 'general', 'web-chat', 'chat', 0, 2000, '{"old":"payload"}');
)sql";
    REQUIRE(sqlite3_exec(h, rows, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
  }
  store_options o;
  o.path = db.path();
  auto s = sqlite_store::open(o);
  REQUIRE(s.has_value());
  CHECK((*s)->outbox_size() == 1);
  auto r = open_sqlite_outbox_reader(o.path, o.thread_limit, o.max_payload_bytes);
  REQUIRE(r.has_value());
  auto rows = (*r)->fetch(0, 10);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].message_id == "me-2");
  auto p = boost::json::parse(rows[0].body).as_object();
  CHECK(p.at("schema") == "switchboard.conversation/v1");
  CHECK(p.at("message").at("text") == "second");
  CHECK(p.at("conversation").at("message_count") == 2);
  CHECK(p.at("conversation").at("skill") == "general");
  CHECK(p.at("customer").at("name") == "Ann Lee");
  CHECK(p.at("customer").at("identities").as_array().size() == 1);
  REQUIRE(p.at("thread").as_array().size() == 2);
  CHECK(p.at("thread").as_array()[0].at("text") == "first");
}

TEST_CASE("the group writer commits concurrent requests in batches and answers each") {
  fixture f;
  std::atomic<int> commits_seen{0};
  group_writer w(*f.store, [&] { ++commits_seen; });
  w.start();
  constexpr int n = 200;
  std::vector<std::promise<result<ingest_outcome>>> answers(n);
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      for (int i = c; i < n; i += 4)
        w.submit(request(t0 + i, {chat_message("m-" + std::to_string(i), "v-" + std::to_string(i),
                                               "hello")}),
                 [&answers, i](result<ingest_outcome> r) { answers[i].set_value(std::move(r)); });
    });
  for (auto& t : clients) t.join();
  for (auto& a : answers) {
    auto r = a.get_future().get();
    REQUIRE(r.has_value());
    CHECK(r->accepted.size() == 1);
  }
  CHECK(w.backlog() == n);
  CHECK(w.commits() <= static_cast<std::uint64_t>(n));
  // on_commit runs after the batch's callbacks have answered: wait for it, not race it (on
  // a busy machine all 200 answers can be in before the last batch's on_commit).
  for (int i = 0; i < 500 && commits_seen.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(commits_seen.load() >= 1);

  // Confirmations are applied by the writer thread.
  auto rows = f.outbox();
  std::vector<std::int64_t> seqs;
  for (const auto& r : rows) seqs.push_back(r.seq);
  w.confirmed(seqs);
  w.stop();
  CHECK(w.backlog() == 0);
  CHECK(f.store->outbox_size() == 0);

  // After stop, nothing is silently dropped: a late submit is answered 503.
  std::promise<result<ingest_outcome>> late;
  w.submit(request(t0, {chat_message("late", "v", "x")}),
           [&](result<ingest_outcome> r) { late.set_value(std::move(r)); });
  auto lr = late.get_future().get();
  REQUIRE_FALSE(lr.has_value());
  CHECK(lr.error().code == errc::unavailable);
}

TEST_CASE("confirmed rows are deleted with the next batch, or alone once the linger is over") {
  fixture f;
  const auto ingest = [&](group_writer& w, const std::string& id) {
    std::promise<result<ingest_outcome>> answer;
    w.submit(request(t0, {chat_message(id, "v-" + id, "hello")}),
             [&](result<ingest_outcome> r) { answer.set_value(std::move(r)); });
    auto r = answer.get_future().get();
    REQUIRE(r.has_value());
  };
  const auto confirm_all = [&](group_writer& w) {
    std::vector<std::int64_t> seqs;
    for (const auto& r : f.outbox()) seqs.push_back(r.seq);
    w.confirmed(seqs);
  };

  SUBCASE("deletes ride with the next batch of requests: no fsync of their own") {
    group_writer w(*f.store, {}, 1024, std::chrono::seconds(10));
    w.start();
    for (const char* id : {"a", "b", "c"}) ingest(w, id);
    const auto commits = w.commits();
    confirm_all(w);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(w.commits() == commits);  // still waiting for company
    CHECK(w.backlog() == 3);
    ingest(w, "d");
    CHECK(w.commits() == commits + 1);  // the request and the three deletes, one transaction
    CHECK(w.backlog() == 1);
    CHECK(f.store->outbox_size() == 1);
    w.stop();
  }
  SUBCASE("without requests, the deletes commit on their own after the linger") {
    group_writer w(*f.store, {}, 1024, std::chrono::milliseconds(50));
    w.start();
    for (const char* id : {"a", "b"}) ingest(w, id);
    const auto commits = w.commits();
    confirm_all(w);
    for (int i = 0; i < 500 && w.backlog() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(w.backlog() == 0);
    CHECK(w.commits() == commits + 1);
    CHECK(f.store->outbox_size() == 0);
    w.stop();
  }
}

TEST_CASE("the checkpoint thread copies committed WAL pages into the database file") {
  fixture f;
  group_writer w(*f.store, {});
  w.start();
  // One request per commit: well over 1,000 WAL pages.
  for (int i = 0; i < 400; ++i) {
    std::promise<result<ingest_outcome>> done;
    w.submit(request(t0 + i,
                     {chat_message("m-" + std::to_string(i), "v-" + std::to_string(i), "hello")}),
             [&](result<ingest_outcome> r) { done.set_value(std::move(r)); });
    REQUIRE(done.get_future().get().has_value());
  }
  for (int i = 0; i < 500 && f.store->checkpoints() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(f.store->checkpoints() >= 1);
  w.stop();
  // The pages reached the database file itself: another connection reading it without the
  // WAL (the file alone, copied) sees the customers.
  const auto copy = f.db.dir / "copy.db";
  fs::copy_file(f.db.path(), copy);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM customers", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(sqlite3_column_int(q, 0) > 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

TEST_CASE("a WAL that cannot restart is checkpointed per 1,000 new pages, not per commit") {
  // A reader in a transaction whenever the writer begins one (as the publisher often is)
  // keeps SQLite from restarting the WAL, which then only grows. Waking the checkpoint
  // thread on the WAL's length ran a checkpoint, and its fsync, after every commit.
  fixture f;
  group_writer w(*f.store, {});
  w.start();
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open_v2(f.opts.path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  constexpr int commits = 300;  // about 15 WAL pages each: past 1,000 pages after ~70
  for (int i = 0; i < commits; ++i) {
    REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    std::promise<result<ingest_outcome>> done;
    w.submit(request(t0 + i,
                     {chat_message("m-" + std::to_string(i), "v-" + std::to_string(i), "hello")}),
             [&](result<ingest_outcome> r) { done.set_value(std::move(r)); });
    REQUIRE(done.get_future().get().has_value());
    REQUIRE(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  w.stop();
  sqlite3_close(reader);
  CHECK(f.store->checkpoints() >= 1);
  CHECK(f.store->checkpoints() < commits / 10);
}

TEST_CASE("the writer checkpoints itself when the WAL reaches its hard bound") {
  fixture f;  // no group writer, so no checkpoint thread
  std::vector<ingest_request> reqs;
  for (int i = 0; i < 3000; ++i)
    reqs.push_back(request(
        t0 + i, {chat_message("m-" + std::to_string(i), "v-" + std::to_string(i), "hello")}));
  std::vector<ingest_request*> one(1);
  for (auto& r : reqs) {
    one[0] = &r;
    REQUIRE_FALSE(f.store->commit(one, {}).failed);
  }
  // Without a checkpoint the WAL would hold every page written (several per commit); bounded,
  // it restarts from its beginning once it reaches wal_hard_frames pages.
  const auto wal_frames = (fs::file_size(f.db.path() + "-wal") - 32) / (24 + 4096);
  CHECK(wal_frames <= static_cast<std::uintmax_t>(sqlite_store::wal_hard_frames) + 64);
  CHECK(fs::file_size(f.db.path()) > 100 * 4096);
}

namespace {

// A second connection to a store's file: SQLite then refuses, halfway through a request, every
// message whose provider id is LIKE `pattern` (a trigger), and rows can be counted.
struct refusing_trigger {
  refusing_trigger(const std::string& path, const std::string& pattern) {
    REQUIRE(sqlite3_open(path.c_str(), &h) == SQLITE_OK);
    const auto sql = "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.provider_id LIKE '" +
                     pattern + "' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END";
    REQUIRE(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  ~refusing_trigger() { sqlite3_close(h); }
  std::int64_t count(const char* sql) {
    sql::stmt q(h, sql);
    REQUIRE(q.step());
    return q.i64(0);
  }
  sqlite3* h = nullptr;
};

}  // namespace

TEST_CASE("a request that fails leaves no trace; the others of its batch are stored") {
  // The batch runs without a savepoint per request; when one fails it is split around it,
  // so that request alone is refused and its half-done writes (here its customer,
  // identity and conversation, written before its message) are rolled back.
  fixture f;
  refusing_trigger t(f.opts.path, "boom");
  const auto count = [&](const char* sql) { return t.count(sql); };
  auto a = request(t0, {chat_message("m-a", "v-a", "first")});
  auto b = request(t0, {chat_message("boom", "v-b", "second")});
  auto c = request(t0, {chat_message("m-c", "v-c", "third"), chat_message("m-c2", "v-a", "x")});
  std::vector<ingest_request*> batch{&a, &b, &c};
  auto res = f.store->commit(batch, {});
  REQUIRE(res.outcomes.size() == 3);
  REQUIRE(res.outcomes[0].has_value());
  CHECK(res.outcomes[0]->accepted.size() == 1);
  REQUIRE_FALSE(res.outcomes[1].has_value());
  CHECK(res.outcomes[1].error().code == errc::internal);
  REQUIRE(res.outcomes[2].has_value());
  CHECK(res.outcomes[2]->accepted.size() == 2);
  CHECK_FALSE(res.failed);
  CHECK(res.outbox_added == 3);
  CHECK(f.store->outbox_size() == 3);
  CHECK(count("SELECT count(*) FROM messages") == 3);
  CHECK(count("SELECT count(*) FROM customers") == 2);
  CHECK(count("SELECT count(*) FROM conversations") == 2);
  CHECK(count("SELECT count(*) FROM identities WHERE value = 'web-chat:v-b'") == 0);
  // v-a's follow-up in the third request joined the first request's conversation.
  CHECK(res.outcomes[2]->accepted[1].conversation_id ==
        res.outcomes[0]->accepted[0].conversation_id);

  // A batch where every request goes through is committed in one go, as before.
  auto d = request(t0 + minute, {chat_message("m-d", "v-d", "fourth")});
  auto e = request(t0 + minute, {chat_message("m-e", "v-a", "fifth")});
  std::vector<ingest_request*> next{&d, &e};
  auto ok = f.store->commit(next, {});
  REQUIRE(ok.outcomes.size() == 2);
  CHECK(ok.outcomes[0].has_value());
  CHECK(ok.outcomes[1].has_value());
  CHECK(count("SELECT count(*) FROM messages") == 5);
}

TEST_CASE("a batch is split around each failing request; the confirmed deletes still commit") {
  fixture f;
  refusing_trigger t(f.opts.path, "boom%");
  const auto count = [&](const char* sql) { return t.count(sql); };
  // Two rows to confirm, committed before.
  f.ingest(request(t0, {chat_message("old-1", "v-old", "one")}));
  f.ingest(request(t0, {chat_message("old-2", "v-old", "two")}));
  std::vector<std::int64_t> confirmed;
  for (const auto& row : f.outbox()) confirmed.push_back(row.seq);
  REQUIRE(confirmed.size() == 2);

  // Failures first, last and in the middle, two of them side by side.
  std::vector<ingest_request> reqs;
  const char* ids[] = {"boom-1", "m-1", "m-2", "boom-2", "boom-3", "m-3", "boom-4"};
  for (const char* id : ids)
    reqs.push_back(request(t0 + minute, {chat_message(id, std::string("v-") + id, "hi")}));
  std::vector<ingest_request*> batch;
  for (auto& r : reqs) batch.push_back(&r);
  auto res = f.store->commit(batch, confirmed);
  REQUIRE(res.outcomes.size() == reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << ids[i]);
    const bool boom = std::string_view(ids[i]).starts_with("boom");
    CHECK(res.outcomes[i].has_value() == !boom);
    if (boom) CHECK(res.outcomes[i].error().code == errc::internal);
  }
  CHECK_FALSE(res.failed);
  CHECK(res.settled);
  CHECK(res.outbox_added == 3);
  CHECK(res.outbox_removed == 2);
  CHECK(f.store->outbox_size() == 3);
  CHECK(f.store->backlog() == 3);
  CHECK(count("SELECT count(*) FROM messages") == 5);
  CHECK(count("SELECT count(*) FROM customers") == 4);  // v-old and the three that went through
  // The hand-off describes exactly the rows committed, in seq order.
  REQUIRE(res.handed.rows.size() == 3);
  CHECK(res.handed.rows[0].row.seq < res.handed.rows[1].row.seq);
  CHECK(res.handed.rows[1].row.seq < res.handed.rows[2].row.seq);
  const auto stored = f.outbox();
  REQUIRE(stored.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(stored[i].seq == res.handed.rows[i].row.seq);

  // A single failing request with confirmed rows: it fails, the deletes commit.
  std::vector<std::int64_t> more;
  for (const auto& row : stored) more.push_back(row.seq);
  auto lone = request(t0 + 2 * minute, {chat_message("boom-5", "v-x", "no")});
  std::vector<ingest_request*> one{&lone};
  auto res2 = f.store->commit(one, more);
  REQUIRE(res2.outcomes.size() == 1);
  CHECK_FALSE(res2.outcomes[0].has_value());
  CHECK(res2.settled);
  CHECK(res2.outbox_removed == 3);
  CHECK(f.store->outbox_size() == 0);
  CHECK(f.store->backlog() == 0);
}

TEST_CASE("the writer's page cache holds up to store.cache_bytes, not SQLite's default 2 MiB") {
  // 4,000 new customers with a 1 KB message each: about 10 MB of table and index pages.
  const auto cache_after_load = [](std::size_t cache_bytes) {
    store_options o;
    o.cache_bytes = cache_bytes;
    fixture f(o);
    const std::string text(1000, 'x');
    for (int b = 0; b < 40; ++b) {
      std::vector<ingest_request> reqs;
      for (int i = 0; i < 100; ++i) {
        const auto n = std::to_string(b * 100 + i);
        reqs.push_back(request(t0 + b, {chat_message("m-" + n, "v-" + n, text + n)}));
      }
      std::vector<ingest_request*> batch;
      for (auto& r : reqs) batch.push_back(&r);
      REQUIRE_FALSE(f.store->commit(batch, {}).failed);
    }
    return f.store->cache_used_bytes();
  };
  const auto small = cache_after_load(1 << 20);
  const auto large = cache_after_load(32 << 20);
  INFO("cache used: " << small << " bytes with 1 MiB, " << large << " with 32 MiB");
  CHECK(small > 0);
  CHECK(small <= (1 << 20) * 5 / 4);  // SQLite's bound counts pages; their headers come on top
  CHECK(large > 4 << 20);             // beyond what SQLite's default would keep
}

TEST_CASE("a full store answers every request of the batch with unavailable, keeps the rest") {
  store_options o;
  o.max_page_count = 50;  // a few dozen 4 KiB pages: full after some messages
  fixture f(o);
  int stored = 0;
  bool full = false;
  for (int i = 0; i < 2000 && !full; ++i) {
    auto a = request(t0 + i, {chat_message("a-" + std::to_string(i), "v-" + std::to_string(i),
                                           std::string(500, 'x'))});
    auto b = request(t0 + i, {chat_message("b-" + std::to_string(i), "w-" + std::to_string(i),
                                           std::string(500, 'y'))});
    std::vector<ingest_request*> batch{&a, &b};
    auto res = f.store->commit(batch, {});
    REQUIRE(res.outcomes.size() == 2);
    for (auto& r : res.outcomes) {
      if (r) {
        ++stored;
        continue;
      }
      full = true;
      CHECK(r.error().code == errc::unavailable);
    }
  }
  REQUIRE(full);
  CHECK(stored > 0);
  // Everything committed before the store filled up is still there, and nothing more.
  CHECK(f.store->outbox_size() == stored);
  CHECK(static_cast<int>(f.outbox().size()) == stored);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(f.opts.path.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "ok");
  sqlite3_finalize(st);
  sqlite3_close(h);
}

namespace {

inbound_message email_message(std::string message_id, std::string from, std::string text,
                              std::string in_reply_to = {},
                              std::vector<std::string> references = {}) {
  inbound_message m;
  m.provider_id = message_id;
  m.identities.push_back({"email", std::move(from)});
  m.subject = "Invoice";
  m.text = std::move(text);
  boost::json::object e;
  e["message_id"] = message_id;
  e["in_reply_to"] =
      in_reply_to.empty() ? boost::json::value(nullptr) : boost::json::value(in_reply_to);
  boost::json::array refs;
  for (auto& r : references) refs.push_back(boost::json::string(r));
  e["references"] = std::move(refs);
  m.extra["email"] = std::move(e);
  return m;
}

ingest_request email_request(millis at, inbound_message m) {
  auto r = request(at, {std::move(m)});
  r.channel = "support-mail";
  r.channel_type = "mime";
  return r;
}

}  // namespace

TEST_CASE("an email reply naming a stored Message-ID joins that conversation past the window") {
  store_options o;
  o.reopen_after = std::chrono::hours(24);
  fixture f(o);
  auto first = f.ingest(email_request(
      t0, email_message("a1@mail.example", "ann@example.com", "my invoice is wrong")));
  // Ten days later, a reply to that mail: past the window, yet the same conversation.
  auto reply = f.ingest(
      email_request(t0 + 10 * day, email_message("a2@mail.example", "ann@example.com", "any news?",
                                                 "a1@mail.example", {"a1@mail.example"})));
  CHECK(reply.accepted[0].conversation_id == first.accepted[0].conversation_id);
  auto payload = boost::json::parse(f.outbox().back().body);
  CHECK(payload.at("thread").as_array().size() == 2);

  // A new mail that names nothing, after the window: a new conversation.
  auto fresh = f.ingest(email_request(
      t0 + 20 * day, email_message("a3@mail.example", "ann@example.com", "another topic")));
  CHECK(fresh.accepted[0].conversation_id != first.accepted[0].conversation_id);

  // A reply to the old thread (now closed) reopens it; only References names it this time.
  auto late = f.ingest(email_request(
      t0 + 21 * day, email_message("a4@mail.example", "ann@example.com", "about the invoice",
                                   "unknown@elsewhere", {"a1@mail.example", "a2@mail.example"})));
  CHECK(late.accepted[0].conversation_id == first.accepted[0].conversation_id);
  // ... and the next plain message joins the reopened conversation (one open per customer).
  auto next = f.ingest(email_request(
      t0 + 21 * day + minute, email_message("a5@mail.example", "ann@example.com", "thanks")));
  CHECK(next.accepted[0].conversation_id == first.accepted[0].conversation_id);
}

TEST_CASE("a reply_to naming a stored provider message joins its conversation") {
  store_options o;
  o.reopen_after = std::chrono::hours(1);
  fixture f(o);
  auto a = f.ingest(request(t0, {chat_message("m-1", "v-1", "question")}));
  auto m = chat_message("m-2", "v-1", "replying to my question");
  m.extra["reply_to"] = "m-1";
  auto b = f.ingest(request(t0 + 5 * day, {m}));
  CHECK(b.accepted[0].conversation_id == a.accepted[0].conversation_id);
}

TEST_CASE("closing a conversation makes the next message open a new one") {
  fixture f;
  auto a = f.ingest(request(t0, {chat_message("m-1", "v-1", "hello")}));
  auto closed = f.store->close_conversation(a.accepted[0].conversation_id, t0 + 1);
  REQUIRE(closed.has_value());
  CHECK(*closed == "closed");
  auto again = f.store->close_conversation(a.accepted[0].conversation_id, t0 + 2);
  REQUIRE(again.has_value());
  CHECK(*again == "closed");
  auto missing = f.store->close_conversation("no-such-id", t0 + 2);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == errc::not_found);
  auto b = f.ingest(request(t0 + minute, {chat_message("m-2", "v-1", "hello again")}));
  CHECK(b.accepted[0].conversation_id != a.accepted[0].conversation_id);
  CHECK(b.accepted[0].customer_id == a.accepted[0].customer_id);
}

// A delivery with events that could not be read is kept whole in the transaction of what could
// be read of it; a provider's redelivery of it is kept once; a replay marks it done.
TEST_CASE("kept deliveries: stored with the batch, once per body, replayed, deleted") {
  fixture f;
  const auto with_kept = [](millis at, std::vector<inbound_message> msgs, std::string body,
                            std::vector<unreadable_event> events, std::string replay_of = {}) {
    ingest_request r = request(at, std::move(msgs));
    r.kept.emplace();
    r.kept->events = std::move(events);
    r.kept->content_type = "application/json";
    r.kept->body = std::move(body);
    r.kept->replay_of = std::move(replay_of);
    return r;
  };
  const std::string body = std::string("{\"entry\":[\x01 binary \xff bytes]}") + '\0' + "tail";
  const unreadable_event bad{"entry[0].messaging[1]",
                             "field entry[0].messaging[1].sender is required",
                             R"({"recipient":{"id":"1"}})"};
  auto out = f.ingest(with_kept(t0, {chat_message("m-ok", "v-1", "readable")}, body, {bad}));
  CHECK(out.accepted.size() == 1);
  CHECK(out.unreadable == 1);
  CHECK(out.kept_new);
  // The redelivery: the message is a duplicate, the kept row is not written twice.
  out = f.ingest(with_kept(t0 + minute, {chat_message("m-ok", "v-1", "readable")}, body, {bad}));
  CHECK(out.duplicates == 1);
  CHECK(out.unreadable == 1);
  CHECK_FALSE(out.kept_new);

  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  CHECK((*reader)->kept_pending() == 1);
  auto list = boost::json::parse((*reader)->kept_list("pending", "", 100));
  REQUIRE(list.at("unreadable").as_array().size() == 1);
  const auto& item = list.at("unreadable").as_array()[0].as_object();
  CHECK(item.at("channel").as_string() == "web-chat");
  CHECK(item.at("event_count").as_int64() == 1);
  CHECK(item.at("body_bytes").as_int64() == static_cast<std::int64_t>(body.size()));
  CHECK(item.at("events").as_array()[0].at("path").as_string() == "entry[0].messaging[1]");
  CHECK_FALSE(item.at("events").as_array()[0].as_object().contains("event"));
  CHECK(boost::json::parse((*reader)->kept_list("pending", "other-channel", 100))
            .at("unreadable")
            .as_array()
            .empty());
  const std::string id(item.at("id").as_string());
  auto row = (*reader)->kept(id);
  REQUIRE(row);
  CHECK(row->body == body);  // byte for byte, NUL and all
  CHECK(row->status == "pending");
  CHECK(boost::json::parse(row->events_json).as_array()[0].at("event").at("recipient").at("id") ==
        "1");

  // A replay that still cannot read the event refreshes the row; one that can marks it done.
  out = f.ingest(with_kept(t0 + 2 * minute, {}, {}, {bad}, id));
  CHECK((*reader)->kept(id)->status == "pending");
  out = f.ingest(
      with_kept(t0 + 3 * minute, {chat_message("m-late", "v-1", "read at last")}, {}, {}, id));
  CHECK(out.accepted.size() == 1);
  CHECK(out.unreadable == 0);
  row = (*reader)->kept(id);
  CHECK(row->status == "replayed");
  CHECK(row->replayed_at == t0 + 3 * minute);
  CHECK((*reader)->kept_pending() == 0);
  CHECK(boost::json::parse((*reader)->kept_list("replayed", "", 100))
            .at("unreadable")
            .as_array()
            .size() == 1);

  CHECK(f.store->delete_unreadable(id).has_value());
  CHECK_FALSE((*reader)->kept(id));
  CHECK(f.store->delete_unreadable(id).error().code == errc::not_found);
}

// Issue #18: a signature's first use is remembered across a restart, with the request's commit
// or apart from any request.
TEST_CASE("signatures used are kept until they expire") {
  fixture f;
  const millis now = now_ms();  // expired ones are forgotten by the clock
  ingest_request r = request(now, {chat_message("m-sig", "v-1", "hi")});
  r.seen = signature_use{"msg_abc", "digest-1", now + 10 * minute};
  f.ingest(std::move(r));
  const std::vector<seen_signature> apart{{"mailgun", {"token-1", "digest-2", now + 20 * minute}},
                                          {"mailgun", {"token-old", "digest-3", now - minute}}};
  auto res = f.store->commit({}, {}, apart);
  CHECK_FALSE(res.failed);
  auto kept = f.store->load_signatures(now);
  REQUIRE(kept.size() == 2);
  std::set<std::string> keys;
  for (const auto& s : kept) keys.insert(s.channel + "/" + s.use.key + "/" + s.use.digest);
  CHECK(keys == std::set<std::string>{"web-chat/msg_abc/digest-1", "mailgun/token-1/digest-2"});
  CHECK(f.store->load_signatures(now + 15 * minute).size() == 1);  // the first has expired
}

TEST_CASE("an upgrade from schema 8 keeps the signatures remembered") {
  temp_db db;
  const millis now = now_ms();
  {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &h) == SQLITE_OK);
    for (std::size_t v = 0; v < 8; ++v)
      REQUIRE(sqlite3_exec(h, schema::migrations[v], nullptr, nullptr, nullptr) == SQLITE_OK);
    const std::string rows = fmt::format(R"sql(
PRAGMA user_version = 8;
INSERT INTO signatures_seen (channel, key, digest, expires_at) VALUES
  ('mailgun', 'token-1', 'd-1', {}), ('web-chat', 'msg_1', 'd-2', {}), ('mailgun', 'old', 'd-3', {});
)sql",
                                         now + 20 * minute, now + 10 * minute, now - minute);
    REQUIRE(sqlite3_exec(h, rows.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
  }
  store_options o;
  o.path = db.path();
  auto s = sqlite_store::open(o);
  REQUIRE(s.has_value());
  std::set<std::string> keys;
  for (const auto& sig : (*s)->load_signatures(now))
    keys.insert(sig.channel + "/" + sig.use.key + "/" + sig.use.digest);
  CHECK(keys == std::set<std::string>{"mailgun/token-1/d-1", "web-chat/msg_1/d-2"});
}

TEST_CASE("a parked outbox row leaves the outbox, and comes back as a new row") {
  fixture f;
  f.ingest(request(t0, {chat_message("m-1", "v-1", "one"), chat_message("m-2", "v-2", "two"),
                        chat_message("m-3", "v-3", "three")}));
  auto rows = f.outbox();
  REQUIRE(rows.size() == 3);
  const std::vector<outbox_parking> park{{rows[1].seq, 123456, "too large"},
                                         {999999, 1, "not in the outbox"}};
  auto moved = f.store->park(park, t0 + minute);
  REQUIRE(moved.has_value());
  CHECK(*moved == 1);
  CHECK(f.store->outbox_size() == 2);
  CHECK(f.store->backlog() == 2);  // the backend's own count follows the outbox
  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  CHECK((*reader)->parked() == 1);
  auto list = boost::json::parse((*reader)->parked_list(10)).at("parked").as_array();
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("seq") == rows[1].seq);
  CHECK(list[0].at("message_id").as_string() == rows[1].message_id);
  CHECK(list[0].at("bytes") == 123456);
  CHECK(list[0].at("reason") == "too large");
  CHECK(list[0].at("skill").as_string() == rows[1].skill);

  auto again = f.store->unpark(rows[1].seq);
  REQUIRE(again.has_value());
  CHECK(*again > rows[2].seq);  // after everything the publisher has seen
  CHECK(f.store->outbox_size() == 3);
  CHECK(f.store->backlog() == 3);
  CHECK((*reader)->parked() == 0);
  auto after = f.outbox();
  REQUIRE(after.size() == 3);
  CHECK(after.back().seq == *again);
  CHECK(after.back().message_id == rows[1].message_id);
  CHECK(after.back().body == rows[1].body);  // assembled the same way
  CHECK(f.store->unpark(rows[1].seq).error().code == errc::not_found);

  REQUIRE(f.store->park(std::vector<outbox_parking>{{*again, 1, "x"}}, t0).has_value());
  CHECK(f.store->delete_parked(*again).has_value());
  CHECK(f.store->delete_parked(*again).error().code == errc::not_found);
  CHECK((*reader)->parked() == 0);
  CHECK(f.store->outbox_size() == 2);
}

TEST_CASE("the reader answers conversations and customers, following merges") {
  fixture f;
  auto email_only = chat_message("m-1", "v-1", "first");
  email_only.identities = {{"email", "ann@example.com"}};
  auto a = f.ingest(request(t0, {email_only}));
  auto phone_only = chat_message("m-2", "v-2", "second");
  phone_only.identities = {{"phone", "+15550102000"}};
  phone_only.sender_name = "";
  auto b = f.ingest(request(t0 + minute, {phone_only}));
  auto both = chat_message("m-3", "v-3", "third");
  both.identities = {{"email", "ann@example.com"}, {"phone", "+15550102000"}};
  f.ingest(request(t0 + 2 * minute, {both}));

  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  // The merged-away conversation answers as the survivor's, with the whole thread.
  auto conv = (*reader)->conversation(b.accepted[0].conversation_id);
  REQUIRE(conv);
  auto cj = boost::json::parse(*conv);
  CHECK(cj.at("conversation").at("id").as_string() == a.accepted[0].conversation_id);
  auto thread = cj.at("thread").as_array();
  REQUIRE(thread.size() == 3);
  CHECK(thread[0].at("text") == "first");
  CHECK(thread[2].at("text") == "third");
  CHECK(cj.at("customer").at("identities").as_array().size() == 2);

  auto old_customer = (*reader)->customer(b.accepted[0].customer_id);
  REQUIRE(old_customer);
  auto cu = boost::json::parse(*old_customer);
  CHECK(cu.at("id").as_string() == a.accepted[0].customer_id);
  REQUIRE(cu.at("merged_ids").as_array().size() == 1);
  CHECK(cu.at("merged_ids").as_array()[0].as_string() == b.accepted[0].customer_id);
  CHECK(cu.at("conversations").as_array().size() == 1);

  auto by_phone = (*reader)->customer_id_by_identity("phone", "+15550102000");
  REQUIRE(by_phone);
  CHECK(*by_phone == a.accepted[0].customer_id);
  CHECK_FALSE((*reader)->customer_id_by_identity("phone", "+15550109999"));
  CHECK_FALSE((*reader)->conversation("nope"));
  CHECK_FALSE((*reader)->customer("nope"));
}

TEST_CASE("every skill change is recorded on the conversation, with the route that made it") {
  fixture f;
  auto table = std::make_shared<routing_table>();
  table->skills.push_back({"general", "switchboard.general", "classic", 0, 1});
  table->skills.push_back({"sales", "switchboard.sales", "classic", 0, 2});
  route to_sales{route_condition{}, "sales", 0, /*reroute=*/true, 5};
  to_sales.when->text_matches = std::make_shared<re2::RE2>("sales");
  table->routes.push_back(std::move(to_sales));
  table->routes.push_back({std::nullopt, "general", 0, false, 7});
  const auto send = [&](millis at, std::string id, std::string text) {
    auto r = request(at, {chat_message(std::move(id), "v-1", std::move(text))});
    r.routing = table;
    return f.ingest(std::move(r)).accepted.at(0);
  };
  const auto hello = send(t0, "m-1", "hello");
  const auto thanks = send(t0 + minute, "m-2", "thanks");  // sticky: no change
  const auto moved = send(t0 + 2 * minute, "m-3", "talk to sales");
  const auto again = send(t0 + 3 * minute, "m-4", "sales again");  // already sales: no change
  CHECK(thanks.skill == "general");
  CHECK(moved.skill == "sales");
  CHECK(again.skill == "sales");

  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  auto conv = (*reader)->conversation(hello.conversation_id);
  REQUIRE(conv);
  const auto history = boost::json::parse(*conv).at("conversation").at("skill_history").as_array();
  REQUIRE(history.size() == 2);
  CHECK(history[0].at("skill").as_string() == "general");
  CHECK(history[0].at("previous_skill").is_null());
  CHECK(history[0].at("message_id").as_string() == hello.message_id);
  CHECK(history[0].at("reason").as_string() == "route #2 (line 7): default");
  CHECK(history[1].at("skill").as_string() == "sales");
  CHECK(history[1].at("previous_skill").as_string() == "general");
  CHECK(history[1].at("message_id").as_string() == moved.message_id);
  CHECK(history[1].at("at").as_string() == format_time(t0 + 2 * minute));
}

// Issue #18: a payload has a size bound. A mail of megabytes in a thread used to make every
// later payload of that customer megabytes too, up to what the broker refuses.
TEST_CASE("payloads stay within store.max_payload_bytes; the stored messages stay whole") {
  store_options o;
  o.max_payload_bytes = 64 << 10;
  fixture f(o);
  // A text of 1 MiB that escapes heavily in JSON (quotes, a control character) and is
  // multi-byte UTF-8 (ā) everywhere a cut may fall.
  std::string huge;
  while (huge.size() < (1 << 20)) huge += "\xc4\x81\"\x01 ";
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i)
    texts.push_back("message " + std::to_string(i) + ": " + std::string(12 << 10, 'x'));
  texts.push_back(huge);
  texts.push_back("and a short one after it");
  millis at = t0;
  std::string conversation;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto out = f.ingest(
        request(at += minute, {chat_message("big-" + std::to_string(i), "v-big", texts[i])}));
    conversation = out.accepted.at(0).conversation_id;
  }
  const auto rows = f.outbox();
  REQUIRE(rows.size() == texts.size());
  const std::string marker = truncation_marker(conversation);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(rows[i].body.size() <= o.max_payload_bytes);
    // Valid JSON and valid UTF-8 (Boost.JSON's parser checks both).
    const auto p = boost::json::parse(rows[i].body).as_object();
    const auto& message = p.at("message").as_object();
    const auto& thread = p.at("thread").as_array();
    REQUIRE(!thread.empty());
    CHECK(thread.back() == p.at("message"));
    const std::string text(message.at("text").as_string());
    if (i == 10) {  // the huge one: cut, marked, and still much of its share
      CHECK(message.at("truncated") == true);
      CHECK(text.ends_with(marker));
      CHECK(text.size() > 4 << 10);
    } else {
      CHECK_FALSE(message.contains("truncated"));
      CHECK(text == texts[i]);
    }
  }
  // The first payloads fit whole; the one after the huge message has it and the older ones
  // cut in its thread (each to an eighth of the room), and the oldest left out.
  const auto first = boost::json::parse(rows[1].body).as_object();
  CHECK(first.at("thread").as_array().size() == 2);
  CHECK(first.at("thread_truncated") == false);
  const auto last = boost::json::parse(rows.back().body).as_object();
  CHECK(last.at("thread_truncated") == true);
  const auto& last_thread = last.at("thread").as_array();
  CHECK(last_thread.size() < texts.size());
  REQUIRE(last_thread.size() >= 2);
  CHECK(last_thread[last_thread.size() - 2].at("truncated") == true);
  CHECK(last_thread[0].at("truncated") == true);
  CHECK(last_thread[0].at("text").as_string().ends_with(marker));
  // The read API serves every message whole.
  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  const auto conv = (*reader)->conversation(conversation);
  REQUIRE(conv.has_value());
  CHECK(conv->find(marker) == std::string::npos);
  CHECK(conv->size() > huge.size());
}

TEST_CASE("fit_message and build_bounded_payload below the bound change nothing") {
  const std::string m = R"({"id":"m1","text":"hello","from":{"name":null}})";
  CHECK(fit_message(m, m.size(), "[cut]") == m);
  conversation_view conv;
  conv.id = "c1";
  customer_view customer;
  customer.id = "u1";
  const std::vector<std::string> thread{m, m};
  CHECK(build_bounded_payload(conv, customer, thread, false, 1 << 20) ==
        build_payload(conv, customer, m, thread, false));
  // A string that cannot be cut enough (all of its bytes are short strings): left as it is.
  const std::string many = R"({"a":"x","b":"y","c":"z"})";
  CHECK(fit_message(many, 10, "[cut]") == R"({"a":"x","b":"y","c":"z","truncated":true})");
}
