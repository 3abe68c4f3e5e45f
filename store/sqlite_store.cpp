#include "store/sqlite_store.hpp"

#include "core/ids.hpp"
#include "core/log.hpp"
#include "store/payload.hpp"
#include "store/reader.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_customer_data.hpp"
#include "store/sqlite_replies.hpp"
#include "store/wal_vfs.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace sb {

using sql::stmt;
using sql::use;

struct sqlite_store::statements {
  explicit statements(sqlite3* db)
      : begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        find_duplicate(db, "SELECT 1 FROM messages WHERE channel = ?1 AND provider_id = ?2"),
        find_forgotten(db, "SELECT 1 FROM forgotten_keys WHERE channel = ?1 AND key_sha256 = ?2"),
        any_forgotten(db, "SELECT EXISTS (SELECT 1 FROM forgotten_keys)"),
        find_own_send(db,
                      "SELECT 1 FROM deliveries WHERE channel = ?1 AND provider_message_id = ?2"),
        find_identity(db, "SELECT customer_id FROM identities WHERE type = ?1 AND value = ?2"),
        customer_info(db, "SELECT name, created_at FROM customers WHERE id = ?1"),
        insert_customer(db, "INSERT INTO customers (id, name, created_at) VALUES (?1, ?2, ?3)"),
        set_customer_name(db, "UPDATE customers SET name = ?2 WHERE id = ?1 AND name = ''"),
        insert_identity(db,
                        "INSERT OR IGNORE INTO identities (type, value, customer_id, created_at) "
                        "VALUES (?1, ?2, ?3, ?4)"),
        move_identities(db, "UPDATE identities SET customer_id = ?2 WHERE customer_id = ?1"),
        mark_merged(db, "UPDATE customers SET merged_into = ?2 WHERE id = ?1"),
        record_merge(db,
                     "INSERT INTO customer_merges (merged_id, survivor_id, merged_at, "
                     "message_id, identity_type, identity_value) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        insert_claim(db,
                     "INSERT OR IGNORE INTO claims (customer_id, type, value, created_at, "
                     "refuted) VALUES (?1, ?2, ?3, ?4, ?5)"),
        // A customer known by claims alone (no verified identity: nobody proved anything
        // about them), the oldest first. The only customers a claim may lead to.
        find_claim_only(db,
                        "SELECT c.customer_id FROM claims c JOIN customers u ON u.id = "
                        "c.customer_id WHERE c.type = ?1 AND c.value = ?2 AND c.refuted = 0 AND "
                        "u.merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM identities i "
                        "WHERE i.customer_id = c.customer_id) ORDER BY u.created_at, u.id "
                        "LIMIT 1"),
        move_claims(
            db,
            "INSERT OR IGNORE INTO claims (customer_id, type, value, created_at, refuted) "
            "SELECT ?2, type, value, created_at, refuted FROM claims WHERE customer_id = ?1"),
        drop_claims(db, "DELETE FROM claims WHERE customer_id = ?1"),
        open_conversation(db,
                          "SELECT id, skill, priority, opened_at, last_message_at, message_count "
                          "FROM conversations WHERE customer_id = ?1 AND status = 'open'"),
        insert_conversation(db,
                            "INSERT INTO conversations (id, customer_id, status, skill, priority, "
                            "opened_at, last_message_at, message_count) "
                            "VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?6, ?7)"),
        close_conversation(db,
                           "UPDATE conversations SET status = 'closed', closed_at = ?2 "
                           "WHERE id = ?1"),
        mark_conversation_merged(db,
                                 "UPDATE conversations SET status = 'merged', closed_at = ?3, "
                                 "merged_into = ?2 WHERE id = ?1"),
        move_conversations(db, "UPDATE conversations SET customer_id = ?2 WHERE customer_id = ?1"),
        move_messages(db, "UPDATE messages SET conversation_id = ?2 WHERE conversation_id = ?1"),
        move_deliveries(db,
                        "UPDATE deliveries SET conversation_id = ?2 WHERE conversation_id = ?1"),
        resequence(db,
                   "UPDATE messages SET seq = r.n FROM (SELECT id, row_number() OVER "
                   "(ORDER BY received_at, id) AS n FROM messages WHERE conversation_id = ?1) AS r "
                   "WHERE messages.id = r.id"),
        recount(db,
                "UPDATE conversations SET message_count = (SELECT count(*) FROM messages WHERE "
                "conversation_id = ?1), opened_at = min(opened_at, ?2), last_message_at = "
                "max(last_message_at, ?3) WHERE id = ?1"),
        update_conversation(db,
                            "UPDATE conversations SET skill = ?2, priority = ?3, "
                            "last_message_at = max(last_message_at, ?4), message_count = ?5 "
                            "WHERE id = ?1"),
        insert_message(db,
                       "INSERT INTO messages (id, conversation_id, seq, channel, provider_id, "
                       "direction, received_at, sent_at, body) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        insert_attachment(db,
                          "INSERT INTO attachments (id, message_id, position, channel, name, "
                          "content_type, size, sha256, state, fetch_kind, fetch_ref, "
                          "next_attempt_at, created_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        insert_outbox(db,
                      "INSERT INTO outbox (message_id, conversation_id, skill, channel, "
                      "channel_type, priority, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        delete_outbox(db, "DELETE FROM outbox WHERE seq = ?1"),
        count_outbox(db, "SELECT count(*) FROM outbox"),
        park_outbox(db,
                    "INSERT OR REPLACE INTO outbox_parked (seq, message_id, conversation_id, "
                    "skill, channel, channel_type, priority, created_at, parked_at, bytes, "
                    "reason) SELECT seq, message_id, conversation_id, skill, channel, "
                    "channel_type, priority, created_at, ?2, ?3, ?4 FROM outbox WHERE seq = ?1"),
        unpark_outbox(db,
                      "INSERT INTO outbox (message_id, conversation_id, skill, channel, "
                      "channel_type, priority, created_at) SELECT message_id, conversation_id, "
                      "skill, channel, channel_type, priority, created_at FROM outbox_parked "
                      "WHERE seq = ?1"),
        delete_parked(db, "DELETE FROM outbox_parked WHERE seq = ?1"),
        find_email_id(db, "SELECT conversation_id FROM email_ids WHERE message_id = ?1"),
        insert_email_id(db,
                        "INSERT OR IGNORE INTO email_ids (message_id, conversation_id) "
                        "VALUES (?1, ?2)"),
        find_provider_message(db,
                              "SELECT conversation_id FROM messages WHERE channel = ?1 AND "
                              "provider_id = ?2"),
        load_conversation(db,
                          "SELECT customer_id, status, skill, priority, opened_at, "
                          "last_message_at, message_count, merged_into FROM conversations "
                          "WHERE id = ?1"),
        reopen_conversation(db,
                            "UPDATE conversations SET status = 'open', closed_at = NULL "
                            "WHERE id = ?1"),
        insert_skill_change(db,
                            "INSERT INTO skill_changes (conversation_id, message_id, changed_at, "
                            "skill, previous_skill, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        move_email_ids(db, "UPDATE email_ids SET conversation_id = ?2 WHERE conversation_id = ?1"),
        move_skill_changes(db,
                           "UPDATE skill_changes SET conversation_id = ?2 "
                           "WHERE conversation_id = ?1"),
        write_probe(db, "INSERT OR REPLACE INTO write_probe (id, written_at) VALUES (1, ?1)"),
        insert_unreadable(db,
                          "INSERT OR IGNORE INTO unreadable (id, channel, channel_type, "
                          "received_at, content_type, body, body_sha256, events, event_count, "
                          "status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending')"),
        replay_unreadable(db,
                          "UPDATE unreadable SET events = ?2, event_count = ?3, status = CASE "
                          "WHEN ?3 = 0 THEN 'replayed' ELSE 'pending' END, replayed_at = ?4 "
                          "WHERE id = ?1"),
        delete_unreadable(db, "DELETE FROM unreadable WHERE id = ?1"),
        remember_signature(db,
                           "INSERT INTO signatures_log (channel, key, digest, expires_at) "
                           "VALUES (?1, ?2, ?3, ?4)"),
        // The log's start up to its first entry still in force: a few rows per commit. (An
        // expired entry behind one of a longer tolerance waits for it; start ignores it.)
        forget_signatures(db,
                          "DELETE FROM signatures_log WHERE id < coalesce((SELECT id FROM "
                          "signatures_log WHERE expires_at >= ?1 ORDER BY id LIMIT 1), "
                          "9223372036854775807)"),
        load_signatures(db,
                        "SELECT channel, key, digest, expires_at FROM signatures_log "
                        "WHERE expires_at >= ?1 ORDER BY id") {}

  stmt begin, commit, rollback;
  stmt find_duplicate, find_forgotten, any_forgotten, find_own_send, find_identity, customer_info,
      insert_customer, set_customer_name;
  stmt insert_identity, move_identities, mark_merged, record_merge;
  stmt insert_claim, find_claim_only, move_claims, drop_claims;
  stmt open_conversation, insert_conversation, close_conversation, mark_conversation_merged;
  stmt move_conversations, move_messages, move_deliveries, resequence, recount, update_conversation;
  stmt insert_message, insert_attachment, insert_outbox, delete_outbox, count_outbox;
  stmt park_outbox, unpark_outbox, delete_parked;
  stmt find_email_id, insert_email_id, find_provider_message, load_conversation;
  stmt reopen_conversation, insert_skill_change, move_email_ids, move_skill_changes, write_probe;
  stmt insert_unreadable, replay_unreadable, delete_unreadable;
  stmt remember_signature, forget_signatures, load_signatures;
};

namespace {

void configure_connection(sqlite3* db) {
  sqlite3_extended_result_codes(db, 1);
  // WAL + synchronous=FULL: a COMMIT returns only after the WAL is fsynced, which is what a
  // 2xx promises. WAL also lets the publisher read the outbox while the writer commits.
  sql::exec(db, "PRAGMA journal_mode = WAL");
  sql::exec(db, "PRAGMA synchronous = FULL");
  // The WAL of this connection is written through coalescing_wal_vfs(), which is safe only
  // when every commit syncs the WAL before SQLite shows its frames to readers.
  stmt q(db, "PRAGMA synchronous");
  if (!q.step() || q.i64(0) < 2)
    throw sql::sqlite_failure(SQLITE_MISUSE, "the store's connection needs synchronous = FULL");
}

void keep_statement_journal_in_memory(sqlite3* db) {
  // Each statement that may fail halfway has a statement journal, which keeps the pages it
  // changes. On disk (the default) that journal spills to a temp file past 64 KiB, and then
  // every page touched costs a pwrite() (86% of the writer's writes when each request ran in
  // a savepoint). It only serves the rollback of a statement within the open transaction, so
  // memory is where it belongs; a crash loses nothing it holds. Set after the migrations,
  // whose sorts (an index built on a large table) may need temp files.
  sql::exec(db, "PRAGMA temp_store = MEMORY");
}

void migrate(sqlite3* db) {
  std::int64_t version = 0;
  {
    stmt v(db, "PRAGMA user_version");
    if (v.step()) version = v.i64(0);
  }
  const auto latest = static_cast<std::int64_t>(schema::migrations.size());
  if (version > latest)
    throw sql::sqlite_failure(SQLITE_ERROR,
                              fmt::format("the database has schema version {}, newer than this "
                                          "switchboard ({}); upgrade switchboard",
                                          version, latest));
  for (auto v = version; v < latest; ++v) {
    sql::exec(db, "BEGIN IMMEDIATE");
    try {
      sql::exec(db, schema::migrations[static_cast<std::size_t>(v)]);
      sql::exec(db, fmt::format("PRAGMA user_version = {}", v + 1).c_str());
      sql::exec(db, "COMMIT");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    log::info("store", "schema migrated to version {}", v + 1);
  }
}

bool transient(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

// One DELETE by its key, in a statement of its own: errc::not_found (`missing`) when it
// matched nothing.
template <class Key>
result<void> delete_one(sqlite3* db, sql::stmt& statement, const Key& key,
                        std::string_view missing) {
  try {
    use q(statement);
    q->bind(1, key);
    q->run();
    if (sqlite3_changes(db) == 0) return error{errc::not_found, std::string(missing)};
    return {};
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "{}: deleting {} failed: {}", missing, key, e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
}

}  // namespace

// The work of one request inside the batch transaction.
struct store_tx {
  sqlite_store& s;
  sqlite_store::statements& st;
  const ingest_request& req;

  struct open_conv {
    conversation_view view;
    bool is_new = false;
  };

  result<ingest_outcome> run() {
    ingest_outcome out;
    if (req.reply) {
      SB_TRY(receipt, s.replies_->commit(req));
      out.reply = std::move(*receipt);
      return out;
    }
    out.ignored = req.ignored;
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
      if (auto a = one(req.messages[i], req.prepared[i])) {
        out.accepted.push_back(std::move(*a));
      } else {
        ++out.duplicates;
      }
    }
    if (req.kept) {
      out.unreadable = req.kept->events.size();
      out.kept_new = keep(*req.kept);
    }
    if (req.seen) remember(req.channel, *req.seen);
    if (!req.statuses.empty())
      s.replies_->apply_statuses(req.channel, req.statuses, req.received_at, handed);
    return out;
  }

  void remember(const std::string& channel, const signature_use& sig) {
    remember(st.remember_signature, channel, sig);
  }

  static void remember(sql::stmt& s, const std::string& channel, const signature_use& sig) {
    use q(s);
    q->bind(1, channel).bind(2, sig.key).bind(3, sig.digest).bind(4, sig.expires_at);
    q->run();
  }

  // The delivery kept whole with its unreadable events, in the transaction of what could be
  // read of it: a 2xx promises both. A provider's redelivery of the same body finds its row
  // (INSERT OR IGNORE). A replay updates the row it replays: done when nothing is left
  // unreadable.
  // Returns whether a new row was written.
  bool keep(const kept_delivery& k) {
    const auto count = static_cast<std::int64_t>(k.events.size());
    if (!k.replay_of.empty()) {
      use q(st.replay_unreadable);
      q->bind(1, k.replay_of).bind(2, k.events_json).bind(3, count).bind(4, req.received_at);
      q->run();
      return false;
    }
    if (count == 0) return false;
    use q(st.insert_unreadable);
    q->bind(1, k.id).bind(2, req.channel).bind(3, req.channel_type).bind(4, req.received_at);
    q->bind(5, k.content_type).bind_blob(6, k.body).bind(7, k.body_sha256);
    q->bind(8, k.events_json).bind(9, count);
    q->run();
    return sqlite3_changes(s.db_) > 0;
  }

  // Returns nothing for a duplicate.
  std::optional<accepted_message> one(const inbound_message& m, const prepared_message& p) {
    {
      use q(st.find_duplicate);
      q->bind(1, req.channel).bind(2, p.provider_id);
      if (q->step()) return std::nullopt;
    }
    // A message erased with its customer: its provider may retry it for days, and only the
    // hash of its dedupe key is left to say so (docs/operations.md, "Erasure").
    if (s.forgotten_any_ && !p.key_sha256.empty()) {
      use q(st.find_forgotten);
      q->bind(1, req.channel).bind(2, p.key_sha256);
      if (q->step()) return std::nullopt;
    }
    // The provider's echo of an agent's reply this store sent (Messenger and Instagram echo
    // every message of the page): the reply is in the thread already, under its own id.
    if (m.direction == "outbound") {
      use q(st.find_own_send);
      q->bind(1, req.channel).bind(2, p.provider_id);
      if (q->step()) return std::nullopt;
    }
    const std::string customer_id = resolve_customer(m, p.id);
    open_conv conv = conversation_for(customer_id, m);

    const bool inbound = m.direction != "outbound";
    if (inbound && req.routing) {
      const conversation_state state{conv.is_new, conv.view.skill, conv.view.priority};
      // The language was settled on the HTTP thread (routing::message_language), so the
      // single writer thread never runs the detector.
      const auto d = decide({m, req.channel, req.channel_type, std::optional(m.language)}, state,
                            req.received_at, *req.routing);
      if (!d.skill.empty()) {
        conv.view.skill = d.skill;
        conv.view.priority = d.priority;
      }
      if (d.skill_changed) {
        use q(st.insert_skill_change);
        q->bind(1, conv.view.id).bind(2, p.id).bind(3, req.received_at).bind(4, d.skill);
        q->bind(5, d.previous_skill).bind(6, d.reason);
        q->run();
      }
    }

    conv.view.message_count += 1;
    conv.view.last_message_at = std::max(conv.view.last_message_at, req.received_at);
    {
      use q(st.insert_message);
      q->bind(1, p.id).bind(2, conv.view.id).bind(3, conv.view.message_count);
      q->bind(4, req.channel).bind(5, p.provider_id).bind(6, m.direction);
      q->bind(7, req.received_at).bind(8, m.sent_at).bind(9, p.body);
      q->run();
    }
    if (conv.is_new) {
      // Written once, with its first message and routing, rather than inserted empty and
      // updated a moment later.
      use q(st.insert_conversation);
      q->bind(1, conv.view.id).bind(2, customer_id).bind(3, conv.view.skill);
      q->bind(4, conv.view.priority).bind(5, conv.view.opened_at);
      q->bind(6, conv.view.last_message_at).bind(7, conv.view.message_count);
      q->run();
    } else {
      use q(st.update_conversation);
      q->bind(1, conv.view.id).bind(2, conv.view.skill).bind(3, conv.view.priority);
      q->bind(4, req.received_at).bind(5, conv.view.message_count);
      q->run();
    }
    if (const auto id = email_field(m, "message_id"); !id.empty()) {
      use q(st.insert_email_id);
      q->bind(1, id).bind(2, conv.view.id);
      q->run();
    }

    insert_attachments(m, p.id, req.channel, req.received_at);

    accepted_message a{p.id, conv.view.id, customer_id, {}};
    if (inbound && conv.view.skill) {
      a.skill = *conv.view.skill;
      enqueue(p, conv.view, customer_id);
    }
    return a;
  }

  // The message's files as keep_attachments() left them (store/attachments.hpp): one row
  // each, pending ones due at once for the media fetcher.
  void insert_attachments(const inbound_message& m, const std::string& message_id,
                          const std::string& channel, millis received_at) {
    std::int64_t position = 0;
    for (const auto& att : m.attachments) {
      if (att.id.empty()) continue;
      const bool pending = att.state == "pending";
      use q(st.insert_attachment);
      q->bind(1, att.id).bind(2, message_id).bind(3, position++).bind(4, channel);
      q->bind(5, att.name).bind(6, att.content_type).bind(7, att.size);
      q->bind(8, att.sha256.empty() ? std::optional<std::string>() : att.sha256);
      q->bind(9, att.state);
      q->bind(10, pending ? std::optional<std::string>(att.fetch_kind) : std::nullopt);
      q->bind(11, pending ? std::optional<std::string>(att.fetch_ref) : std::nullopt);
      q->bind(12, pending ? std::optional<millis>(received_at) : std::nullopt);
      q->bind(13, received_at);
      q->run();
    }
  }

  // The customer a message belongs to. Only verified identities say who that is (channel.hpp,
  // identity): the customers owning any of them are one person, the oldest survives and the
  // others are merged into it. A message with no verified identity at all (a mail whose
  // authentication is unknown, a callback request) may join a customer known by the same
  // claim alone, never one a provider proved anything about; one whose authentication failed
  // joins nobody. Claims are stored with the customer, for agents and routes to see.
  // A follow-up from a known customer only reads: its identities are already stored, and a
  // name it gives is kept only when the customer had none (the UPDATE's own condition).
  std::string resolve_customer(const inbound_message& m, const std::string& message_id) {
    std::map<std::string, const identity*> owners;  // customer → the identity it owns
    std::vector<const identity*> unknown;           // verified identities no customer has yet
    bool any_verified = false;
    for (const auto& id : m.identities) {
      if (!id.verified) continue;
      any_verified = true;
      use q(st.find_identity);
      q->bind(1, id.type).bind(2, id.value);
      if (q->step())
        owners.emplace(q->text(0), &id);
      else
        unknown.push_back(&id);
    }
    if (!any_verified && !m.authentication_failed)
      for (const auto& id : m.identities) {
        use q(st.find_claim_only);
        q->bind(1, id.type).bind(2, id.value);
        if (q->step()) {
          owners.emplace(q->text(0), nullptr);
          break;
        }
      }
    std::string customer;
    const bool is_new = owners.empty();
    if (is_new) {
      customer = new_id(req.received_at);
      use q(st.insert_customer);
      q->bind(1, customer).bind(2, m.sender_name).bind(3, req.received_at);
      q->run();
      handed.new_customers.push_back(new_customer_view(customer, m));
    } else {
      std::set<std::string> ids;
      for (const auto& [owner, _] : owners) ids.insert(owner);
      customer = ids.size() == 1 ? *ids.begin() : oldest(ids);
      for (const auto& [other, proof] : owners)
        if (other != customer) merge(other, customer, message_id, *proof);
      if (!m.sender_name.empty()) {
        use q(st.set_customer_name);
        q->bind(1, customer).bind(2, m.sender_name);
        q->run();
        changed_customer(customer, false);
      }
    }
    for (const identity* id : unknown) {
      use q(st.insert_identity);  // OR IGNORE: a message may carry one identity twice
      q->bind(1, id->type).bind(2, id->value).bind(3, customer).bind(4, req.received_at);
      q->run();
      changed_customer(customer, is_new);
    }
    for (const auto& id : m.identities) {
      if (id.verified) continue;
      use q(st.insert_claim);  // OR IGNORE: the customer may have made this claim before
      q->bind(1, customer).bind(2, id.type).bind(3, id.value).bind(4, req.received_at);
      // A spoofed mail's claim leads no later message to the customer it made.
      q->bind(5, m.authentication_failed ? 1 : 0);
      q->run();
      changed_customer(customer, is_new);
    }
    return customer;
  }

  // The last statement changed what a payload shows of `customer`, unless it is one this
  // request created (handed whole, new_customer_view).
  void changed_customer(const std::string& customer, bool is_new) {
    if (!is_new && sqlite3_changes(s.db_) > 0) handed.changed_customers.push_back(customer);
  }

  // A new customer as the publisher's identities query reads it (sqlite_outbox.cpp): verified
  // identities first, then the claims that are not also verified, each by type and value
  // (all created now).
  static customer_view new_customer_view(const std::string& id, const inbound_message& m) {
    customer_view v;
    v.id = id;
    v.name = m.sender_name;
    v.identities = m.identities;
    const auto key = [](const identity& i) { return std::tie(i.type, i.value); };
    std::sort(v.identities.begin(), v.identities.end(), [&](const identity& a, const identity& b) {
      return a.verified != b.verified ? a.verified : key(a) < key(b);
    });
    const auto claims = std::partition_point(v.identities.begin(), v.identities.end(),
                                             [](const identity& i) { return i.verified; });
    const auto verified_too = [&](const identity& c) {  // shown once, as verified
      return std::binary_search(
          v.identities.begin(), claims, c,
          [&](const identity& a, const identity& b) { return key(a) < key(b); });
    };
    std::vector<identity> out;
    out.reserve(v.identities.size());
    for (auto it = v.identities.begin(); it != v.identities.end(); ++it) {
      if (!out.empty() && out.back().verified == it->verified && key(out.back()) == key(*it))
        continue;  // the same identity twice in one message
      if (it >= claims && verified_too(*it)) continue;
      out.push_back(*it);  // copied: the verified ones are searched until the end
    }
    v.identities = std::move(out);
    return v;
  }

  std::string oldest(const std::set<std::string>& ids) {
    std::pair<std::int64_t, std::string> best{INT64_MAX, {}};
    for (const auto& id : ids) {
      use q(st.customer_info);
      q->bind(1, id);
      const std::int64_t created = q->step() ? q->i64(1) : INT64_MAX;
      best = std::min(best, {created, id});
    }
    return best.second;
  }

  std::optional<conversation_view> find_open(const std::string& customer_id) {
    use q(st.open_conversation);
    q->bind(1, customer_id);
    if (!q->step()) return std::nullopt;
    conversation_view v;
    v.id = q->text(0);
    v.status = "open";
    if (!q->is_null(1)) v.skill = q->text(1);
    v.priority = static_cast<int>(q->i64(2));
    v.opened_at = q->i64(3);
    v.last_message_at = q->i64(4);
    v.message_count = q->i64(5);
    return v;
  }

  // Moves everything of `from` to `to`. Two open conversations become one thread, in time order,
  // in the survivor's conversation. `message_id` and `proof` (the verified identity `from`
  // owned that the message carries) are recorded as the merge's cause.
  void merge(const std::string& from, const std::string& to, const std::string& message_id,
             const identity& proof) {
    handed.reset = true;  // threads renumbered, customers joined: the publisher reads again
    const auto from_open = find_open(from);
    const auto to_open = find_open(to);
    if (from_open && to_open) {
      {
        use q(st.mark_conversation_merged);
        q->bind(1, from_open->id).bind(2, to_open->id).bind(3, req.received_at);
        q->run();
      }
      for (stmt* moved :
           {&st.move_messages, &st.move_skill_changes, &st.move_deliveries, &st.move_email_ids}) {
        use q(*moved);
        q->bind(1, from_open->id).bind(2, to_open->id);
        q->run();
      }
      {
        use q(st.resequence);
        q->bind(1, to_open->id);
        q->run();
      }
      {
        use q(st.recount);
        q->bind(1, to_open->id).bind(2, from_open->opened_at).bind(3, from_open->last_message_at);
        q->run();
      }
    }
    {
      use q(st.move_conversations);
      q->bind(1, from).bind(2, to);
      q->run();
    }
    for (stmt* moved : {&st.move_identities, &st.move_claims}) {
      use q(*moved);
      q->bind(1, from).bind(2, to);
      q->run();
    }
    {
      use q(st.drop_claims);
      q->bind(1, from);
      q->run();
    }
    {
      use q(st.mark_merged);
      q->bind(1, from).bind(2, to);
      q->run();
    }
    {
      use q(st.record_merge);
      q->bind(1, from).bind(2, to).bind(3, req.received_at).bind(4, message_id);
      q->bind(5, proof.type).bind(6, proof.value);
      q->run();
    }
    // The identity's type only: its value is a customer's address (the store and GET
    // /v1/customers/{id} have it).
    log::info("store", "merged customer {} into {}: message {} proves both are one by their {}",
              from, to, message_id, proof.type);
  }

  static std::string email_field(const inbound_message& m, std::string_view key) {
    const auto* e = m.extra.if_contains("email");
    const auto* v = e && e->is_object() ? e->get_object().if_contains(key) : nullptr;
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  }

  // A reply that names a stored message (email In-Reply-To / References, Meta reply_to,
  // WhatsApp context) points at that message's conversation.
  std::optional<std::string> referenced_conversation(const inbound_message& m) {
    std::vector<std::string>
        refs;  // most specific first: In-Reply-To, then References newest first
    if (auto irt = email_field(m, "in_reply_to"); !irt.empty()) refs.push_back(std::move(irt));
    if (const auto* e = m.extra.if_contains("email"); e && e->is_object())
      if (const auto* r = e->get_object().if_contains("references"); r && r->is_array())
        for (auto it = r->get_array().rbegin(); it != r->get_array().rend(); ++it)
          if (it->is_string()) refs.emplace_back(it->get_string());
    for (const auto& ref : refs) {
      use q(st.find_email_id);
      q->bind(1, ref);
      if (q->step()) return q->text(0);
    }
    if (const auto* r = m.extra.if_contains("reply_to"); r && r->is_string()) {
      use q(st.find_provider_message);
      q->bind(1, req.channel).bind(2, std::string_view(r->get_string()));
      if (q->step()) return q->text(0);
    }
    return std::nullopt;
  }

  struct conversation_row {
    conversation_view view;
    std::string customer_id;
  };

  // Loads a conversation, following merges to the conversation that absorbed it.
  std::optional<conversation_row> load(std::string id) {
    for (int hops = 0; hops < 16; ++hops) {
      use q(st.load_conversation);
      q->bind(1, id);
      if (!q->step()) return std::nullopt;
      if (!q->is_null(7)) {
        id = q->text(7);
        continue;
      }
      conversation_row r;
      r.view.id = id;
      r.customer_id = q->text(0);
      r.view.status = q->text(1);
      if (!q->is_null(2)) r.view.skill = q->text(2);
      r.view.priority = static_cast<int>(q->i64(3));
      r.view.opened_at = q->i64(4);
      r.view.last_message_at = q->i64(5);
      r.view.message_count = q->i64(6);
      return r;
    }
    return std::nullopt;
  }

  // The conversation a message joins: the one a reply names (even past the reopen window,
  // reopening it if it was closed), else the customer's open conversation unless its last
  // message is older than reopen_after, else a new one (is_new: not yet in the table).
  open_conv conversation_for(const std::string& customer_id, const inbound_message& m) {
    if (const auto ref = referenced_conversation(m))
      if (auto c = load(*ref); c && c->customer_id == customer_id) {
        if (c->view.status == "open") return {std::move(c->view), false};
        if (c->view.status == "closed") {
          if (auto open = find_open(customer_id)) {
            use q(st.close_conversation);
            q->bind(1, open->id).bind(2, req.received_at);
            q->run();
            handed.changed_conversations.push_back(open->id);
          }
          use q(st.reopen_conversation);
          q->bind(1, c->view.id);
          q->run();
          handed.changed_conversations.push_back(c->view.id);
          c->view.status = "open";
          return {std::move(c->view), false};
        }
      }
    if (auto v = find_open(customer_id)) {
      const millis window =
          std::chrono::duration_cast<std::chrono::milliseconds>(s.options().reopen_after).count();
      if (req.received_at - v->last_message_at < window) return {std::move(*v), false};
      use q(st.close_conversation);
      q->bind(1, v->id).bind(2, req.received_at);
      q->run();
      handed.changed_conversations.push_back(v->id);
    }
    open_conv c;
    c.is_new = true;
    c.view.id = new_id(req.received_at);
    c.view.status = "open";
    c.view.opened_at = req.received_at;
    c.view.last_message_at = req.received_at;
    return c;  // one() inserts it with its first message
  }

  // The outbox row names the message and its routing; the publisher assembles the payload
  // (store/outbox.hpp), so the single writer thread neither reads the thread back nor writes
  // the payload, the biggest row of a message, only to delete it on confirm. What the writer
  // knows of the row is handed to the publisher after the commit (store/handoff.hpp).
  void enqueue(const prepared_message& p, const conversation_view& conv,
               const std::string& customer_id) {
    use q(st.insert_outbox);
    q->bind(1, p.id).bind(2, conv.id).bind(3, *conv.skill).bind(4, req.channel);
    q->bind(5, req.channel_type).bind(6, conv.priority).bind(7, req.received_at);
    q->run();
    ++added;
    committed_row r;
    r.row.seq = sqlite3_last_insert_rowid(s.db_);
    r.row.message_id = p.id;
    r.row.conversation_id = conv.id;
    r.row.skill = *conv.skill;
    r.row.channel = req.channel;
    r.row.channel_type = req.channel_type;
    r.row.priority = conv.priority;
    r.row.created_at = req.received_at;
    r.conversation = conv;
    r.customer_id = customer_id;
    r.message = p.body;
    handed.rows.push_back(std::move(r));
  }

  std::int64_t added = 0;
  committed_batch handed;  // what this request wrote, for the publisher (store/handoff.hpp)
};

sqlite_store::sqlite_store(store_options opts) : opts_(std::move(opts)) {}

sqlite_store::~sqlite_store() {
  stop();
  st_.reset();  // finalize statements before closing
  replies_.reset();
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<sqlite_store>> sqlite_store::open(const store_options& opts) {
  std::unique_ptr<sqlite_store> s(new sqlite_store(opts));
  // The state directory is created on first start (systemd's StateDirectory= does it too).
  if (const auto dir = std::filesystem::path(opts.path).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return error{errc::unavailable,
                   fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  }
  {
    SB_TRY(blobs, open_local_blob_store(attachment_directory(opts)));
    s->blobs_ = std::move(*blobs);
  }
  try {
    // The only connection that writes the WAL: a commit's frames in a few writes (wal_vfs.hpp).
    sql::open(s->db_, opts.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
              sql::coalescing_wal_vfs());
    configure_connection(s->db_);
    // What the writer deletes (a confirmed outbox row, an erased customer, a message past its
    // retention) is overwritten with zeros, in its page and in freed pages, so it does not
    // linger in the file after an erasure (docs/operations.md, "Data").
    sql::exec(s->db_, "PRAGMA secure_delete = ON");
    const auto cache_kib = std::max<std::size_t>(opts.cache_bytes / 1024, 1);
    sql::exec(s->db_, fmt::format("PRAGMA cache_size = -{}", cache_kib).c_str());
    if (opts.max_page_count > 0)
      sql::exec(s->db_, fmt::format("PRAGMA max_page_count = {}", opts.max_page_count).c_str());
    migrate(s->db_);
    keep_statement_journal_in_memory(s->db_);
    s->st_ = std::make_unique<statements>(s->db_);
    s->replies_ = std::make_unique<sqlite_replies>(s->db_);
    // Created once: a temp table created or dropped later would change the connection's
    // schema, and SQLite would prepare every statement of the writer again.
    customer_data::create_sets(s->db_);
    sqlite3_wal_hook(s->db_, &sqlite_store::wal_hook, s.get());  // replaces the autocheckpoint
    s->backlog_ = s->outbox_size();
    {
      use q(s->st_->any_forgotten);
      s->forgotten_any_ = q->step() && q->i64(0) != 0;
    }
  } catch (const sql::sqlite_failure& e) {
    return error{errc::unavailable, e.what()};
  }
  return s;
}

result<std::unique_ptr<store_backend>> open_store(const store_options& opts) {
  SB_TRY(s, sqlite_store::open(opts));
  return std::unique_ptr<store_backend>(std::move(*s));
}

result<std::unique_ptr<store_reader>> sqlite_store::open_reader() {
  return open_sqlite_reader(opts_.path);
}

result<std::unique_ptr<delivery_reader>> sqlite_store::open_delivery_reader() {
  return open_sqlite_delivery_reader(opts_.path);
}

result<std::unique_ptr<event_reader>> sqlite_store::open_event_reader() {
  return open_sqlite_event_reader(opts_.path);
}

result<std::unique_ptr<outbox_reader>> sqlite_store::open_outbox_reader() {
  return open_sqlite_outbox_reader(opts_.path, opts_.thread_limit, opts_.max_payload_bytes);
}

void sqlite_store::start() {
  mutex_lock lock(checkpoint_m_);
  if (checkpoint_thread_.joinable()) return;
  auto c = wal_checkpointer::open(opts_.path);
  if (!c) {
    log::warn("store", "no checkpoint thread ({}); the writer checkpoints at {} WAL pages",
              c.error().detail, wal_hard_frames);
    return;
  }
  checkpointer_ = std::move(*c);
  checkpoint_stop_ = false;
  checkpoint_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sb-checkpoint");
    // Background work: the requests waiting on the writer and the HTTP threads come first
    // when the cores are busy. If this thread falls behind, the writer checkpoints itself at
    // wal_hard_frames, so the WAL stays bounded whatever the share it gets.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    checkpoint_loop();
  });
}

void sqlite_store::stop() {
  {
    mutex_lock lock(checkpoint_m_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

void sqlite_store::checkpoint_loop() {
  for (;;) {
    {
      unique_lock lock(checkpoint_m_);
      while (!checkpoint_due_ && !checkpoint_stop_) checkpoint_cv_.wait(lock.native());
      if (checkpoint_stop_) return;
      checkpoint_due_ = false;
    }
    const auto started = std::chrono::steady_clock::now();
    if (const auto copied = checkpointer_->run()) {
      checkpointed_frames_.store(*copied, std::memory_order_relaxed);
      checkpoint_seconds_.observe(
          "", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }
}

void sqlite_store::on_wal_frames(int frames) {
  // At the hard bound the writer checkpoints itself (wal_hook); a checkpoint started here
  // would make it lose that race (SQLITE_BUSY) and the WAL grow past the bound.
  if (frames >= wal_hard_frames) return;
  // Fewer frames than were checkpointed: the WAL restarted from its beginning since.
  const int copied = checkpointed_frames_.load(std::memory_order_relaxed);
  if ((frames >= copied ? frames - copied : frames) < checkpoint_frames) return;
  {
    mutex_lock lock(checkpoint_m_);
    checkpoint_due_ = true;  // no thread (not started): nobody looks
  }
  checkpoint_cv_.notify_one();
}

void sqlite_store::render_metrics(std::string& out) const {
  metrics::gauge(out, "switchboard_store_cache_bytes",
                 "Bytes in the writer's SQLite page cache (at most about store.cache_bytes).",
                 static_cast<double>(cache_used_.load(std::memory_order_relaxed)));
  checkpoint_seconds_.render(out);
}

int sqlite_store::wal_hook(void* self, sqlite3* db, const char* schema, int frames) {
  auto* s = static_cast<sqlite_store*>(self);
  if (frames >= wal_hard_frames) {
    // PASSIVE: copies what no reader still needs; the frames the checkpoint thread already
    // copied are skipped, so this is short unless that thread is far behind.
    const int rc =
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      log::warn("store", "checkpoint in the writer failed: {}", sqlite3_errstr(rc));
  }
  s->on_wal_frames(frames);
  return SQLITE_OK;  // the commit itself succeeded whatever the checkpoint did
}

sqlite_store::commit_result sqlite_store::commit(std::span<ingest_request* const> requests,
                                                 std::span<const std::int64_t> confirmed,
                                                 std::span<const seen_signature> seen,
                                                 std::span<const delivery_update> deliveries,
                                                 std::span<const std::int64_t> events_published) {
  commit_result out;
  out.outcomes.reserve(requests.size());
  commit_split(requests, {confirmed, seen, deliveries, events_published}, out);
  settle_blobs(requests, out.outcomes);
  backlog_.fetch_add(out.outbox_added - out.outbox_removed, std::memory_order_relaxed);
  cache_used_.store(cache_used_bytes(), std::memory_order_relaxed);
  return out;
}

// The whole batch in one transaction, no savepoint per request: a savepoint makes SQLite copy
// every page a request changes into the statement journal before changing it (a fifth of the
// writer's CPU, perf: memcpy under sqlite3BtreeInsert), only to serve a ROLLBACK TO that
// almost never runs. When a request fails, the transaction is rolled back and the batch split
// around it: the requests before it (which went through) commit together, it runs alone (its
// error is then its own, and its half-done writes are rolled back with it), and the rest runs
// the same way. A failed try leaves nothing behind; what it logged (a merge, say) is logged
// again by the next. k failing requests cost at most 2k + 1 transactions; a batch that goes
// through costs one, as on a database server, where a failed statement aborts the
// transaction and savepoints cost a round trip each.
void sqlite_store::commit_split(std::span<ingest_request* const> requests, const riders& with,
                                commit_result& out) {
  if (requests.empty() && with.empty()) return;
  if (out.failed) {
    // A transaction of this batch failed as a whole (disk full, I/O): so would the next.
    out.outcomes.insert(out.outcomes.end(), requests.size(), error{errc::unavailable});
    return;
  }
  std::size_t failed_at = 0;
  error why{errc::internal};
  if (auto part = run_batch(requests, with, failed_at, why)) {
    for (auto& o : part->outcomes) out.outcomes.push_back(std::move(o));
    out.outbox_added += part->outbox_added;
    out.outbox_removed += part->outbox_removed;
    out.handed.append(std::move(part->handed));
    out.failed = part->failed;
    out.settled = out.settled || (!part->failed && !with.empty());
    return;
  }
  if (requests.size() == 1) {
    out.outcomes.push_back(std::move(why));
    commit_split({}, with, out);
    return;
  }
  commit_split(requests.first(failed_at), with, out);
  commit_split(requests.subspan(failed_at, 1), {}, out);
  commit_split(requests.subspan(failed_at + 1), {}, out);
}

std::optional<sqlite_store::commit_result> sqlite_store::run_batch(
    std::span<ingest_request* const> requests, const riders& with, std::size_t& failed_at,
    error& why) {
  commit_result out;
  out.outcomes.reserve(requests.size());
  const auto fail_all = [&](const std::string& reason) {
    log::error("store", "commit failed, {} request(s) answered 503: {}", requests.size(), reason);
    out.outcomes.assign(requests.size(), error{errc::unavailable});
    out.outbox_added = 0;
    out.outbox_removed = 0;
    out.handed = {};
    out.failed = true;
  };
  try {
    use(st_->begin)->run();
  } catch (const sql::sqlite_failure& e) {
    fail_all(e.what());
    return out;
  }
  try {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      ingest_request& r = *requests[i];
      if (r.prepared.size() != r.messages.size() || (r.reply && r.reply->id.empty())) prepare(r);
      store_tx tx{*this, *st_, r};
      try {
        out.outcomes.emplace_back(tx.run());
        out.outbox_added += tx.added;
        out.handed.append(std::move(tx.handed));
      } catch (const sql::sqlite_failure& e) {
        // SQLite rolls the whole transaction back by itself on some errors (disk full, I/O):
        // then every request of the batch is lost, not only this one.
        if (sqlite3_get_autocommit(db_)) throw;
        if (requests.size() > 1)
          log::warn("store",
                    "request on channel {} failed in a batch of {}: {}; the batch "
                    "is split around it",
                    r.channel, requests.size(), e.what());
        else
          log::error("store", "request on channel {} not stored: {}", r.channel, e.what());
        use(st_->rollback)->run();
        failed_at = i;
        why = error{transient(e.code) ? errc::unavailable : errc::internal};
        return std::nullopt;
      }
    }
    for (const std::int64_t seq : with.confirmed) {
      use q(st_->delete_outbox);
      q->bind(1, seq);
      q->run();
      out.outbox_removed += sqlite3_changes(db_);
    }
    if (!with.deliveries.empty()) {
      replies_->record(with.deliveries, out.handed);
      forgotten_any_ = forgotten_any_ || replies_->forgot_keys();
    }
    if (!with.events_published.empty()) replies_->forget_events(with.events_published);
    if (!with.seen.empty()) {
      for (const auto& s : with.seen) store_tx::remember(st_->remember_signature, s.channel, s.use);
      // Those past their time: the start of the log, a few rows.
      use q(st_->forget_signatures);
      q->bind(1, now_ms());
      q->run();
    }
    use(st_->commit)->run();
  } catch (const sql::sqlite_failure& e) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    fail_all(e.what());
  }
  return out;
}

std::vector<seen_signature> sqlite_store::load_signatures(millis now) {
  std::vector<seen_signature> out;
  try {
    {
      use q(st_->forget_signatures);
      q->bind(1, now);
      q->run();
    }
    use q(st_->load_signatures);
    q->bind(1, now);
    while (q->step()) out.push_back({q->text(0), {q->text(1), q->text(2), q->i64(3)}});
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "reading the signatures already used failed: {}", e.what());
  }
  return out;
}

result<void> sqlite_store::delete_unreadable(std::string_view id) {
  return delete_one(db_, st_->delete_unreadable, id, "no kept delivery with that id");
}

void sqlite_store::in_transaction(const std::function<void()>& body) {
  use(st_->begin)->run();
  try {
    body();
    use(st_->commit)->run();
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool sqlite_store::probe_write(millis at) {
  try {
    in_transaction([&] {
      use q(st_->write_probe);
      q->bind(1, at);
      q->run();
    });
    return true;
  } catch (const sql::sqlite_failure&) {
    return false;
  }
}

result<std::string> sqlite_store::close_conversation(std::string_view id, millis at) {
  try {
    std::optional<std::string> status;
    in_transaction([&] {
      {
        use q(st_->load_conversation);
        q->bind(1, id);
        if (!q->step()) return;
        status = q->text(1);
      }
      if (status == "open") {
        use q(st_->close_conversation);
        q->bind(1, id).bind(2, at);
        q->run();
        status = "closed";
      }
    });
    if (!status) return error{errc::not_found, "no conversation with that id"};
    return std::move(*status);
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "closing conversation {} failed: {}", id, e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
}

result<erasure_report> sqlite_store::erase_customer(std::string_view id, millis at) {
  std::optional<erasure_report> report;
  try {
    in_transaction([&] {
      report.reset();
      if (auto survivor = customer_data::survivor(db_, id))
        report = customer_data::erase(db_, *survivor, at);
    });
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "erasing customer {} failed: {}", id, e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
  if (!report) return error{errc::not_found, "no customer with that id"};
  for (const auto& sha : report->blobs) blobs_->remove(sha);
  backlog_.fetch_sub(report->unpublished - report->parked, std::memory_order_relaxed);
  forgotten_any_ = forgotten_any_ || report->keys_kept > 0;
  // secure_delete overwrote what the transaction freed, in the pages it wrote to the WAL; the
  // WAL's older frames still hold the content as it was. A TRUNCATE checkpoint copies the WAL
  // into the database file and cuts the WAL to nothing; it waits for readers still on older
  // frames (theirs are short reads; a backup's is not). Webhooks wait meanwhile, so the wait
  // is bounded: twice a second at most, and the answer says whether it was cleared.
  sqlite3_busy_timeout(db_, 1000);
  for (int attempt = 0; attempt < 2 && !report->wal_cleared; ++attempt) {
    int log_frames = -1;
    int copied = -1;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &copied);
    report->wal_cleared = rc == SQLITE_OK && log_frames == 0;
  }
  sqlite3_busy_timeout(db_, sql::busy_timeout_ms);
  if (report->wal_cleared) checkpointed_frames_ = 0;
  return std::move(*report);
}

result<retention_pass> sqlite_store::retain(const retention_options& r, millis now) {
  try {
    retention_pass pass;
    std::int64_t cursor = retention_cursor_;
    in_transaction([&] {
      cursor = retention_cursor_;
      pass = customer_data::retain(db_, r, now, cursor, backlog_.load(std::memory_order_relaxed));
    });
    retention_cursor_ = cursor;
    for (const auto& sha : pass.blobs) blobs_->remove(sha);
    forgotten_any_ = forgotten_any_ || pass.keys_kept > 0;
    return pass;
  } catch (const sql::sqlite_failure& e) {
    log::warn("store", "a retention pass failed: {}; it is tried again", e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
}

result<std::int64_t> sqlite_store::park(std::span<const outbox_parking> rows, millis at) {
  try {
    std::int64_t moved = 0;
    in_transaction([&] {
      moved = 0;
      for (const auto& row : rows) {
        {
          use q(st_->park_outbox);
          q->bind(1, row.seq)
              .bind(2, at)
              .bind(3, static_cast<std::int64_t>(row.bytes))
              .bind(4, row.reason);
          q->run();
        }
        use q(st_->delete_outbox);
        q->bind(1, row.seq);
        q->run();
        moved += sqlite3_changes(db_);
      }
    });
    backlog_.fetch_sub(moved, std::memory_order_relaxed);
    return moved;
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "parking {} outbox row(s) failed: {}", rows.size(), e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
}

result<std::int64_t> sqlite_store::unpark(std::int64_t seq) {
  try {
    std::int64_t new_seq = 0;
    in_transaction([&] {
      {
        use q(st_->unpark_outbox);
        q->bind(1, seq);
        q->run();
        if (sqlite3_changes(db_) == 0) return;
        new_seq = sqlite3_last_insert_rowid(db_);
      }
      use q(st_->delete_parked);
      q->bind(1, seq);
      q->run();
    });
    if (new_seq == 0) return error{errc::not_found, "no parked message with that seq"};
    backlog_.fetch_add(1, std::memory_order_relaxed);
    return new_seq;
  } catch (const sql::sqlite_failure& e) {
    log::error("store", "publishing parked row {} again failed: {}", seq, e.what());
    return error{transient(e.code) ? errc::unavailable : errc::internal};
  }
}

result<void> sqlite_store::delete_parked(std::int64_t seq) {
  return delete_one(db_, st_->delete_parked, seq, "no parked message with that seq");
}

std::int64_t sqlite_store::outbox_size() {
  use q(st_->count_outbox);
  return q->step() ? q->i64(0) : 0;
}

std::int64_t sqlite_store::cache_used_bytes() {
  int used = 0;
  int highwater = 0;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0);
  return used;
}

wal_checkpointer::~wal_checkpointer() {
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<wal_checkpointer>> wal_checkpointer::open(const std::string& path) {
  std::unique_ptr<wal_checkpointer> c(new wal_checkpointer());
  try {
    sql::open(c->db_, path, SQLITE_OPEN_READWRITE);
    sql::exec(c->db_, "PRAGMA synchronous = FULL");  // the checkpoint fsyncs what it copied
    sqlite3_wal_autocheckpoint(c->db_, 0);
  } catch (const sql::sqlite_failure& e) {
    return error{errc::unavailable, e.what()};
  }
  return c;
}

std::optional<int> wal_checkpointer::run() {
  int log = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc == SQLITE_OK) return copied;
  if (rc == SQLITE_BUSY) return 0;  // another checkpoint ran: nothing known to be copied
  log::warn("store", "checkpoint failed: {}", sqlite3_errmsg(db_));
  return std::nullopt;
}

}  // namespace sb
