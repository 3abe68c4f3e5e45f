#include "store/sqlite_customer_data.hpp"

#include "channels/crypto.hpp"
#include "store/delivery.hpp"
#include "store/sqlite.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

namespace sb::customer_data {

using sql::stmt;

namespace {

// Merges are followed at most this far (a chain longer than this is a corrupt store).
constexpr int max_hops = 64;

// The customer and every customer merged into it, directly or through another, as the temp
// table `erase_customers`; their conversations as `erase_conversations` and their messages as
// `erase_messages`. Temp tables live in memory (temp_store = MEMORY), created once
// (create_sets) and emptied by clear_sets() before and after each use.
void clear_sets(sqlite3* db) {
  sql::exec(db,
            "DELETE FROM temp.erase_customers; DELETE FROM temp.erase_conversations;"
            "DELETE FROM temp.erase_messages;");
}

void collect_sets(sqlite3* db, const std::string& survivor) {
  clear_sets(db);
  {
    stmt q(db,
           "INSERT INTO temp.erase_customers (id) WITH RECURSIVE family(id, depth) AS ("
           "SELECT ?1, 0 UNION SELECT c.id, f.depth + 1 FROM customers c JOIN family f "
           "ON c.merged_into = f.id WHERE f.depth < ?2) SELECT DISTINCT id FROM family");
    q.bind(1, survivor).bind(2, max_hops);
    q.run();
  }
  sql::exec(db,
            "INSERT INTO temp.erase_conversations (id) SELECT id FROM conversations WHERE "
            "customer_id IN (SELECT id FROM temp.erase_customers);"
            "INSERT INTO temp.erase_messages (id, channel, provider_id, received_at) SELECT id, "
            "channel, provider_id, received_at FROM messages WHERE conversation_id IN "
            "(SELECT id FROM temp.erase_conversations);");
}

std::vector<std::string> texts(sqlite3* db, const char* sql) {
  std::vector<std::string> out;
  stmt q(db, sql);
  while (q.step()) out.push_back(q.text(0));
  return out;
}

// Runs a DELETE (or INSERT) and returns how many rows it changed.
std::int64_t changes(sqlite3* db, const char* sql) {
  stmt q(db, sql);
  q.run();
  return sqlite3_changes64(db);
}

boost::json::value text_or_null(stmt& q, int col) {
  if (q.is_null(col)) return nullptr;
  return boost::json::value(q.text(col));
}

boost::json::value time_or_null(stmt& q, int col) {
  if (q.is_null(col)) return nullptr;
  return boost::json::value(format_time(q.i64(col)));
}

// The dedupe keys a provider may still retry with, of the messages in temp.erase_messages
// received after `since`, kept as hashes: the messages' own, and the provider ids of sent
// replies (Messenger echoes a page's message with it). Returns how many were new.
std::int64_t keep_keys(sqlite3* db, millis since, millis at) {
  std::int64_t kept = 0;
  stmt keys(db,
            "SELECT channel, provider_id FROM temp.erase_messages WHERE received_at > ?1 "
            "UNION SELECT d.channel, d.provider_message_id FROM deliveries d JOIN "
            "temp.erase_messages m ON m.id = d.message_id WHERE d.provider_message_id IS NOT "
            "NULL AND m.received_at > ?1");
  keys.bind(1, since);
  stmt keep(db,
            "INSERT OR IGNORE INTO forgotten_keys (channel, key_sha256, forgotten_at) "
            "VALUES (?1, ?2, ?3)");
  while (keys.step()) {
    keep.reset();
    keep.bind(1, keys.text(0)).bind(2, sha256_hex(keys.text(1))).bind(3, at);
    keep.run();
    kept += sqlite3_changes64(db);
  }
  return kept;
}

struct deleted_conversations {
  std::int64_t messages = 0;
  std::int64_t parked = 0;
  std::int64_t deliveries = 0;
  std::int64_t attachments = 0;
  std::vector<std::string> blobs;  // named by no attachment any more: to remove after the commit
};

// Deletes the attachments of temp.erase_messages; returns how many, and the blobs only they
// named (another customer may have sent the same file: then it stays).
std::int64_t delete_attachments(sqlite3* db, std::vector<std::string>& blobs) {
  std::vector<std::string> named = texts(db,
                                         "SELECT DISTINCT sha256 FROM attachments WHERE "
                                         "sha256 IS NOT NULL AND message_id IN "
                                         "(SELECT id FROM temp.erase_messages)");
  const std::int64_t n = changes(
      db, "DELETE FROM attachments WHERE message_id IN (SELECT id FROM temp.erase_messages)");
  stmt still(db, "SELECT 1 FROM attachments WHERE sha256 = ?1 LIMIT 1");
  for (auto& sha : named) {
    still.reset();
    still.bind(1, sha);
    if (!still.step()) blobs.push_back(std::move(sha));
  }
  return n;
}

// Deletes the conversations of temp.erase_conversations, their messages (temp.erase_messages)
// and what hangs on them: replies' deliveries and keys, Message-IDs, skill history, parked
// outbox rows.
deleted_conversations delete_conversations(sqlite3* db) {
  deleted_conversations d;
  d.deliveries = changes(
      db, "DELETE FROM deliveries WHERE message_id IN (SELECT id FROM temp.erase_messages)");
  d.parked = changes(
      db, "DELETE FROM outbox_parked WHERE message_id IN (SELECT id FROM temp.erase_messages)");
  changes(db, "DELETE FROM reply_keys WHERE message_id IN (SELECT id FROM temp.erase_messages)");
  d.attachments = delete_attachments(db, d.blobs);
  changes(db,
          "DELETE FROM email_ids WHERE conversation_id IN "
          "(SELECT id FROM temp.erase_conversations)");
  changes(db,
          "DELETE FROM skill_changes WHERE conversation_id IN "
          "(SELECT id FROM temp.erase_conversations)");
  d.messages = changes(db, "DELETE FROM messages WHERE id IN (SELECT id FROM temp.erase_messages)");
  changes(db, "DELETE FROM conversations WHERE id IN (SELECT id FROM temp.erase_conversations)");
  return d;
}

// Deletes the customers of temp.erase_customers with their identities, claims and merge
// records. Returns how many identities and claims went, and how many customers.
std::pair<std::int64_t, std::int64_t> delete_customers(sqlite3* db) {
  std::int64_t identities = changes(
      db, "DELETE FROM identities WHERE customer_id IN (SELECT id FROM temp.erase_customers)");
  identities +=
      changes(db, "DELETE FROM claims WHERE customer_id IN (SELECT id FROM temp.erase_customers)");
  changes(db,
          "DELETE FROM customer_merges WHERE survivor_id IN (SELECT id FROM "
          "temp.erase_customers) OR merged_id IN (SELECT id FROM temp.erase_customers)");
  return {identities,
          changes(db, "DELETE FROM customers WHERE id IN (SELECT id FROM temp.erase_customers)")};
}

}  // namespace

void create_sets(sqlite3* db) {
  sql::exec(db,
            "CREATE TEMP TABLE IF NOT EXISTS erase_customers (id TEXT PRIMARY KEY);"
            "CREATE TEMP TABLE IF NOT EXISTS erase_conversations (id TEXT PRIMARY KEY);"
            "CREATE TEMP TABLE IF NOT EXISTS erase_messages (id TEXT PRIMARY KEY, "
            "channel TEXT, provider_id TEXT, received_at INTEGER);");
}

std::optional<std::string> survivor(sqlite3* db, std::string_view id) {
  std::string current(id);
  stmt q(db, "SELECT merged_into FROM customers WHERE id = ?1");
  for (int hops = 0; hops < max_hops; ++hops) {
    q.reset();
    q.bind(1, current);
    if (!q.step()) return std::nullopt;
    if (q.is_null(0)) return current;
    current = q.text(0);
  }
  return std::nullopt;
}

erasure_report erase(sqlite3* db, const std::string& survivor, millis at) {
  erasure_report r;
  r.customer_id = survivor;
  collect_sets(db, survivor);
  r.merged_ids = texts(db, "SELECT id FROM temp.erase_customers ORDER BY id");
  std::erase(r.merged_ids, survivor);
  r.conversation_ids = texts(db, "SELECT id FROM temp.erase_conversations ORDER BY id");
  r.keys_kept = keep_keys(db, std::numeric_limits<millis>::min(), at);
  const std::int64_t outbox =
      changes(db, "DELETE FROM outbox WHERE message_id IN (SELECT id FROM temp.erase_messages)");
  // Events not published yet that name their conversations (a reply's status moves).
  changes(db,
          "DELETE FROM events WHERE json_extract(body, '$.conversation_id') IN "
          "(SELECT id FROM temp.erase_conversations)");
  const auto d = delete_conversations(db);
  r.messages = d.messages;
  r.deliveries = d.deliveries;
  r.parked = d.parked;
  r.attachments = d.attachments;
  r.blobs = std::move(d.blobs);
  r.unpublished = outbox + d.parked;
  r.identities = delete_customers(db).first;
  clear_sets(db);

  // For agents' tools to purge their copies: what reached a queue cannot be recalled.
  const event_row ev = make_customer_erased_event(survivor, r.merged_ids, r.conversation_ids, at);
  stmt q(db, "INSERT INTO events (id, routing_key, body, created_at) VALUES (?1, ?2, ?3, ?4)");
  q.bind(1, ev.id).bind(2, ev.routing_key).bind(3, ev.body).bind(4, ev.created_at);
  q.run();
  return r;
}

retention_pass retain(sqlite3* db, const retention_options& opts, millis now, std::int64_t& cursor,
                      std::int64_t backlog) {
  retention_pass r;
  // Stop short of the oldest unpublished message: every message of a conversation silent
  // since before it was received before it, so none is in the outbox. The oldest is not
  // always the first by seq (a republished parked row keeps its created_at), so the outbox is
  // read through: only while it is short. An index on created_at would find it at once, but
  // cost every message an insert and a delete (8 µs of the writer's CPU a message, in
  // store_bench's interleaved runs).
  millis cutoff = now - opts.max_age.count();
  const bool deletes = opts.max_age.count() > 0 && backlog <= max_retention_backlog;
  if (deletes) {
    stmt q(db, "SELECT min(created_at) FROM outbox");
    if (q.step() && !q.is_null(0)) cutoff = std::min(cutoff, q.i64(0));
  }
  // The sweep's next conversations, in rowid order (the order they were opened in): no index
  // on when they last heard from the customer, which every message would have to update.
  const std::int64_t scan = static_cast<std::int64_t>(std::max<std::size_t>(opts.batch, 1)) * 4;
  clear_sets(db);
  if (deletes) {
    // Never one with a parked message (taken out of the outbox, still never published) or a
    // reply still queued.
    stmt q(db,
           "SELECT c.rowid, c.id, c.customer_id, c.last_message_at < ?2 AND c.id NOT IN (SELECT "
           "conversation_id FROM deliveries WHERE status = 'queued') AND NOT EXISTS (SELECT 1 "
           "FROM outbox_parked p JOIN messages m ON m.id = p.message_id WHERE "
           "m.conversation_id = c.id), c.message_count FROM conversations c "
           "WHERE c.rowid > ?1 ORDER BY c.rowid LIMIT ?3");
    q.bind(1, cursor).bind(2, cutoff).bind(3, scan);
    stmt add_conv(db, "INSERT INTO temp.erase_conversations (id) VALUES (?1)");
    stmt add_customer(db, "INSERT OR IGNORE INTO temp.erase_customers (id) VALUES (?1)");
    std::int64_t seen = 0;
    std::int64_t budget = static_cast<std::int64_t>(opts.batch);
    while (q.step()) {
      ++seen;
      if (q.i64(3) != 0) {
        if (budget <= 0) {  // this one waits for the next pass
          r.more = true;
          break;
        }
        budget -= std::max<std::int64_t>(q.i64(4), 1);
        add_conv.reset();
        add_conv.bind(1, q.text(1));
        add_conv.run();
        add_customer.reset();
        add_customer.bind(1, q.text(2));
        add_customer.run();
        ++r.conversations;
      }
      cursor = q.i64(0);
    }
    if (!r.more && seen < scan) cursor = 0;  // the end: the next sweep starts over
    r.more = r.more || seen == scan;
  }
  if (r.conversations > 0) {
    sql::exec(db,
              "INSERT INTO temp.erase_messages (id, channel, provider_id, received_at) SELECT "
              "id, channel, provider_id, received_at FROM messages WHERE conversation_id IN "
              "(SELECT id FROM temp.erase_conversations)");
    r.keys_kept = keep_keys(db, now - opts.dedupe_horizon.count(), now);
    auto d = delete_conversations(db);
    r.messages = d.messages;
    r.attachments = d.attachments;
    r.blobs = std::move(d.blobs);
    // Customers left with nothing: their identities, claims and merges go with them.
    sql::exec(db,
              "DELETE FROM temp.erase_customers WHERE id IN (SELECT customer_id FROM "
              "conversations WHERE customer_id IN (SELECT id FROM temp.erase_customers))");
    // And those merged into them, whose conversations the merge moved to them.
    for (int hops = 0; hops < max_hops; ++hops)
      if (changes(db,
                  "INSERT OR IGNORE INTO temp.erase_customers (id) SELECT c.id FROM customers c "
                  "WHERE c.merged_into IN (SELECT id FROM temp.erase_customers) AND NOT EXISTS "
                  "(SELECT 1 FROM conversations v WHERE v.customer_id = c.id)") == 0)
        break;
    r.customers = delete_customers(db).second;
  }
  clear_sets(db);
  if (opts.max_age.count() > 0) {
    stmt q(db,
           "DELETE FROM unreadable WHERE id IN (SELECT id FROM unreadable WHERE received_at < ?1 "
           "LIMIT 100)");
    q.bind(1, now - opts.max_age.count());
    q.run();
    r.unreadable = sqlite3_changes64(db);
  }
  {
    stmt q(db,
           "DELETE FROM forgotten_keys WHERE (channel, key_sha256) IN (SELECT channel, "
           "key_sha256 FROM forgotten_keys WHERE forgotten_at < ?1 ORDER BY forgotten_at "
           "LIMIT ?2)");
    q.bind(1, now - opts.dedupe_horizon.count()).bind(2, scan);
    q.run();
    r.keys_expired = sqlite3_changes64(db);
    r.more = r.more || r.keys_expired == scan;
  }
  return r;
}

std::string export_json(sqlite3* db, const std::string& survivor, millis now) {
  // The family, the survivor first.
  std::vector<std::string> family{survivor};
  {
    stmt q(db,
           "WITH RECURSIVE family(id, depth) AS (SELECT ?1, 0 UNION SELECT c.id, f.depth + 1 "
           "FROM customers c JOIN family f ON c.merged_into = f.id WHERE f.depth < ?2) "
           "SELECT DISTINCT id FROM family WHERE id != ?1 ORDER BY id");
    q.bind(1, survivor).bind(2, max_hops);
    while (q.step()) family.push_back(q.text(0));
  }
  boost::json::array customers;
  boost::json::array identities;
  boost::json::array merges;
  boost::json::array conversations;
  stmt customer(db, "SELECT name, created_at, merged_into FROM customers WHERE id = ?1");
  stmt ids(db,
           "SELECT type, value, 1, created_at, 0 FROM identities WHERE customer_id = ?1 "
           "UNION ALL SELECT type, value, 0, created_at, refuted FROM claims WHERE "
           "customer_id = ?1 ORDER BY 3 DESC, 4, 1, 2");
  stmt merged(db,
              "SELECT merged_id, survivor_id, merged_at, message_id, identity_type, "
              "identity_value FROM customer_merges WHERE survivor_id = ?1 "
              "ORDER BY merged_at, rowid");
  stmt convs(db,
             "SELECT id, status, skill, priority, opened_at, last_message_at, message_count, "
             "closed_at, merged_into FROM conversations WHERE customer_id = ?1 "
             "ORDER BY opened_at, id");
  stmt history(db,
               "SELECT changed_at, skill, previous_skill, message_id, reason FROM skill_changes "
               "WHERE conversation_id = ?1 ORDER BY changed_at, rowid");
  stmt messages(db, "SELECT body FROM messages WHERE conversation_id = ?1 ORDER BY seq");
  stmt deliveries(db,
                  "SELECT message_id, channel, status, attempts, created_at, updated_at, "
                  "provider_message_id, reason FROM deliveries WHERE conversation_id = ?1 "
                  "ORDER BY created_at, message_id");
  stmt email_ids(db,
                 "SELECT message_id FROM email_ids WHERE conversation_id = ?1 ORDER BY "
                 "message_id");
  for (const auto& id : family) {
    customer.reset();
    customer.bind(1, id);
    if (!customer.step()) continue;
    customers.push_back({{"id", id},
                         {"name", customer.text(0)},
                         {"created_at", format_time(customer.i64(1))},
                         {"merged_into", text_or_null(customer, 2)}});
    ids.reset();
    ids.bind(1, id);
    while (ids.step())
      identities.push_back({{"customer_id", id},
                            {"type", ids.text(0)},
                            {"value", ids.text(1)},
                            {"verified", ids.i64(2) != 0},
                            {"refuted", ids.i64(4) != 0},
                            {"since", format_time(ids.i64(3))}});
    merged.reset();
    merged.bind(1, id);
    while (merged.step()) {
      boost::json::object m{{"merged_id", merged.text(0)},
                            {"survivor_id", merged.text(1)},
                            {"at", format_time(merged.i64(2))},
                            {"message_id", text_or_null(merged, 3)}};
      m["identity"] = merged.is_null(4) ? boost::json::value(nullptr)
                                        : boost::json::value(boost::json::object{
                                              {"type", merged.text(4)}, {"value", merged.text(5)}});
      merges.push_back(std::move(m));
    }
    convs.reset();
    convs.bind(1, id);
    while (convs.step()) {
      const std::string cid = convs.text(0);
      boost::json::object c{{"id", cid},
                            {"customer_id", id},
                            {"status", convs.text(1)},
                            {"skill", text_or_null(convs, 2)},
                            {"priority", convs.i64(3)},
                            {"opened_at", format_time(convs.i64(4))},
                            {"last_message_at", format_time(convs.i64(5))},
                            {"message_count", convs.i64(6)},
                            {"closed_at", time_or_null(convs, 7)},
                            {"merged_into", text_or_null(convs, 8)}};
      boost::json::array h;
      history.reset();
      history.bind(1, cid);
      while (history.step())
        h.push_back({{"at", format_time(history.i64(0))},
                     {"skill", history.text(1)},
                     {"previous_skill", text_or_null(history, 2)},
                     {"message_id", history.text(3)},
                     {"reason", history.text(4)}});
      c["skill_history"] = std::move(h);
      boost::json::array thread;
      messages.reset();
      messages.bind(1, cid);
      while (messages.step()) {
        boost::system::error_code ec;
        auto v = boost::json::parse(messages.text(0), ec);
        thread.push_back(ec ? boost::json::value(messages.text(0)) : std::move(v));
      }
      c["messages"] = std::move(thread);
      boost::json::array d;
      deliveries.reset();
      deliveries.bind(1, cid);
      while (deliveries.step())
        d.push_back({{"message_id", deliveries.text(0)},
                     {"channel", deliveries.text(1)},
                     {"status", deliveries.text(2)},
                     {"attempts", deliveries.i64(3)},
                     {"created_at", format_time(deliveries.i64(4))},
                     {"updated_at", format_time(deliveries.i64(5))},
                     {"provider_message_id", text_or_null(deliveries, 6)},
                     {"reason", text_or_null(deliveries, 7)}});
      c["deliveries"] = std::move(d);
      boost::json::array e;
      email_ids.reset();
      email_ids.bind(1, cid);
      while (email_ids.step()) e.emplace_back(email_ids.text(0));
      c["email_message_ids"] = std::move(e);
      conversations.push_back(std::move(c));
    }
  }
  return boost::json::serialize(boost::json::object{{"schema", "switchboard.export/v1"},
                                                    {"exported_at", format_time(now)},
                                                    {"customer_id", survivor},
                                                    {"customers", std::move(customers)},
                                                    {"identities", std::move(identities)},
                                                    {"merges", std::move(merges)},
                                                    {"conversations", std::move(conversations)}});
}

}  // namespace sb::customer_data
