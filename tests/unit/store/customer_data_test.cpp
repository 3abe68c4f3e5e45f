// A customer's data as a whole: erased (nothing of it left in the file or the WAL, its
// provider ids still refused as duplicates, a customer.erased event) and exported.
#include "store_fixture.hpp"

#include "store/reader.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <iterator>

namespace sb::test {
namespace {

inbound_message from(std::string id, identity who, std::string text,
                     std::string name = "Ann Lee") {
  inbound_message m;
  m.provider_id = std::move(id);
  m.sender_name = std::move(name);
  m.identities.push_back(std::move(who));
  m.text = std::move(text);
  return m;
}

ingest_request on(millis at, std::string channel, std::string type, inbound_message m) {
  ingest_request r = request(at, {std::move(m)});
  r.channel = std::move(channel);
  r.channel_type = std::move(type);
  return r;
}

// How often `needle` occurs in the file at `path` (0 for a missing file).
std::size_t occurrences(const std::filesystem::path& path, const std::string& needle) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t n = 0;
  for (auto at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) ++n;
  return n;
}

// Ann writes from the web chat and by e-mail (two customers), then a message proves them one
// person: the e-mail customer is merged into the chat one. Bob writes too.
struct family_fixture : fixture {
  accepted_message chat, mail, bob;
  family_fixture() {
    chat = ingest(on(t0, "web-chat", "chat",
                     from("c-1", {"chat", "web-chat:v-1"}, "CANARY-7f3a chat", "Ann CANARY-7f3a")))
               .accepted[0];
    mail = ingest(on(t0 + minute, "mail", "mailgun",
                     from("<m-1@example.com>", {"email", "ann@example.com"}, "CANARY-7f3a mail")))
               .accepted[0];
    auto both = from("c-2", {"chat", "web-chat:v-1"}, "CANARY-7f3a both");
    both.identities.push_back({"email", "ann@example.com"});
    ingest(on(t0 + 2 * minute, "web-chat", "chat", both));
    bob = ingest(on(t0 + 3 * minute, "web-chat", "chat",
                    from("c-3", {"chat", "web-chat:v-9"}, "bob's question", "Bob")))
              .accepted[0];
  }
};

}  // namespace

TEST_CASE("erasing a customer removes it, the customers merged into it, and all of theirs") {
  family_fixture f;
  REQUIRE(f.count("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL") == 1);
  const auto backlog_before = f.store->backlog();
  REQUIRE(backlog_before == 4);

  // Named by the merged customer's id: the person is erased, survivor and all.
  auto r = f.store->erase_customer(f.mail.customer_id, t0 + day);
  REQUIRE(r.has_value());
  CHECK(r->customer_id == f.chat.customer_id);
  CHECK(r->merged_ids == std::vector<std::string>{f.mail.customer_id});
  CHECK(r->conversation_ids.size() == 2);
  CHECK(r->messages == 3);
  CHECK(r->unpublished == 3);
  CHECK(r->keys_kept == 3);
  CHECK(r->wal_cleared);
  CHECK(f.store->backlog() == backlog_before - 3);

  CHECK(f.count("SELECT count(*) FROM customers") == 1);  // Bob
  CHECK(f.count("SELECT count(*) FROM identities") == 1);
  CHECK(f.count("SELECT count(*) FROM claims WHERE customer_id != '" + f.bob.customer_id + "'") ==
        0);
  CHECK(f.count("SELECT count(*) FROM conversations") == 1);
  CHECK(f.count("SELECT count(*) FROM messages") == 1);
  CHECK(f.count("SELECT count(*) FROM outbox") == 1);
  CHECK(f.count("SELECT count(*) FROM customer_merges") == 0);
  CHECK(f.count("SELECT count(*) FROM skill_changes WHERE conversation_id != '" +
                f.bob.conversation_id + "'") == 0);
  CHECK(f.count("SELECT count(*) FROM email_ids") == 0);
  CHECK(f.count("SELECT count(*) FROM forgotten_keys") == 3);
  // The event for agents' tools, in the transaction that erased.
  CHECK(f.count("SELECT count(*) FROM events WHERE routing_key = 'customer.erased' AND "
                "json_extract(body, '$.customer_id') = '" +
                f.chat.customer_id + "' AND json_array_length(body, '$.conversation_ids') = 2") ==
        1);

  // The erased ids are gone; Bob is whole.
  CHECK(f.store->erase_customer(f.chat.customer_id, t0 + day).error().code == errc::not_found);
  auto reader = f.store->open_reader();
  REQUIRE(reader.has_value());
  CHECK_FALSE((*reader)->customer(f.chat.customer_id));
  CHECK((*reader)->customer(f.bob.customer_id));
  CHECK(f.outbox().size() == 1);
}

TEST_CASE("an erased message's retry is a duplicate; a new message of the person starts afresh") {
  family_fixture f;
  REQUIRE(f.store->erase_customer(f.chat.customer_id, t0 + day).has_value());
  // The provider retries two of the erased messages: nothing is stored again.
  auto retry = f.ingest(on(t0 + day + minute, "web-chat", "chat",
                           from("c-1", {"chat", "web-chat:v-1"}, "CANARY-7f3a chat")));
  CHECK(retry.accepted.empty());
  CHECK(retry.duplicates == 1);
  auto mail_retry = f.ingest(on(t0 + day + minute, "mail", "mailgun",
                                from("<m-1@example.com>", {"email", "ann@example.com"}, "x")));
  CHECK(mail_retry.duplicates == 1);
  // The same provider id on another channel is another message.
  CHECK(f.ingest(on(t0 + day, "other-chat", "chat", from("c-1", {"chat", "other:v-1"}, "hi")))
            .accepted.size() == 1);
  // A new message from the same visitor: a new customer, knowing nothing of the erased one.
  auto fresh = f.ingest(on(t0 + day + 2 * minute, "web-chat", "chat",
                           from("c-4", {"chat", "web-chat:v-1"}, "hello again")));
  REQUIRE(fresh.accepted.size() == 1);
  CHECK(fresh.accepted[0].customer_id != f.chat.customer_id);
  CHECK(f.count("SELECT message_count FROM conversations WHERE id = '" +
                fresh.accepted[0].conversation_id + "'") == 1);
  // Reopened later: the store still refuses the erased ids.
  f.store.reset();
  auto s = sqlite_store::open(f.opts);
  REQUIRE(s.has_value());
  f.store = std::move(*s);
  CHECK(f.ingest(on(t0 + 2 * day, "web-chat", "chat",
                    from("c-2", {"chat", "web-chat:v-1"}, "CANARY-7f3a both")))
            .duplicates == 1);
}

TEST_CASE("an erased customer's content is left neither in the database file nor in the WAL") {
  family_fixture f;
  // A reader was open before (the read API's): the WAL is still cut to nothing.
  auto reader = f.store->open_reader();
  REQUIRE(reader.has_value());
  CHECK((*reader)->customer(f.chat.customer_id));
  const std::filesystem::path db = f.opts.path;
  const std::filesystem::path wal = f.opts.path + "-wal";
  REQUIRE(occurrences(db, "CANARY-7f3a") + occurrences(wal, "CANARY-7f3a") > 0);
  REQUIRE(f.store->erase_customer(f.chat.customer_id, t0 + day).has_value());
  CHECK(occurrences(db, "CANARY-7f3a") == 0);
  CHECK(occurrences(wal, "CANARY-7f3a") == 0);
  CHECK(occurrences(db, "ann@example.com") == 0);
  CHECK(occurrences(db, "web-chat:v-1") == 0);
  CHECK(occurrences(db, "bob's question") >= 1);  // the rest is still there
}

TEST_CASE("export: the customer, the ones merged into it, identities, merges, every message") {
  family_fixture f;
  auto reader = f.store->open_reader();
  REQUIRE(reader.has_value());
  // By the merged id: the survivor's document.
  auto text = (*reader)->customer_export(f.mail.customer_id, t0 + day);
  REQUIRE(text.has_value());
  const auto doc = boost::json::parse(*text).as_object();
  CHECK(doc.at("schema") == "switchboard.export/v1");
  CHECK(doc.at("customer_id").as_string() == f.chat.customer_id);
  const auto& customers = doc.at("customers").as_array();
  REQUIRE(customers.size() == 2);
  CHECK(customers[0].at("id").as_string() == f.chat.customer_id);
  CHECK(customers[0].at("name") == "Ann CANARY-7f3a");
  CHECK(customers[1].at("merged_into").as_string() == f.chat.customer_id);
  const auto& ids = doc.at("identities").as_array();
  CHECK(ids.size() == 2);
  const auto& merges = doc.at("merges").as_array();
  REQUIRE(merges.size() == 1);
  CHECK(merges[0].at("merged_id").as_string() == f.mail.customer_id);
  CHECK(merges[0].at("identity").at("type") == "email");
  std::size_t messages = 0;
  for (const auto& c : doc.at("conversations").as_array())
    messages += c.at("messages").as_array().size();
  CHECK(messages == 3);
  CHECK(text->find("bob's question") == std::string::npos);
  CHECK((*reader)->customer_export("no-such-id", t0).error().code == errc::not_found);
}

}  // namespace sb::test
