#include "store/sqlite_replies.hpp"

#include "channels/crypto.hpp"
#include "core/log.hpp"
#include "store/payload.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store.hpp"

#include <fmt/core.h>

namespace sb {

using sql::stmt;
using sql::use;

namespace {

// The customer's message columns the reply is addressed from (see `addressed`).
#define SB_ADDRESSED_COLUMNS                                         \
  "m.id, m.conversation_id, m.channel, m.direction, m.received_at, " \
  "coalesce(json_extract(m.body, '$.from.type'), ''), "              \
  "coalesce(json_extract(m.body, '$.from.value'), ''), "             \
  "coalesce(json_extract(m.body, '$.subject'), ''), "                \
  "coalesce(json_extract(m.body, '$.visibility'), 'private')"

// A message of the customer's, as a reply is addressed from it.
struct addressed {
  std::string id;
  std::string conversation_id;
  std::string channel;
  std::string direction;
  millis received_at = 0;
  std::string from_type;
  std::string from_value;
  std::string subject;
  std::string visibility;
};

addressed read_addressed(stmt& q) {
  return {q.text(0), q.text(1), q.text(2), q.text(3), q.i64(4),
          q.text(5), q.text(6), q.text(7), q.text(8)};
}

}  // namespace

struct sqlite_replies::statements {
  explicit statements(sqlite3* db)
      : find_key(db,
                 "SELECT k.fingerprint, k.message_id, d.conversation_id, d.channel, d.status "
                 "FROM reply_keys k JOIN deliveries d ON d.message_id = k.message_id "
                 "WHERE k.key = ?1"),
        load_conversation(db, "SELECT customer_id, merged_into FROM conversations WHERE id = ?1"),
        message(db, "SELECT " SB_ADDRESSED_COLUMNS " FROM messages m WHERE m.id = ?1"),
        // The customer's messages, newest first, on one channel or on any (?2 NULL).
        latest_inbound(db, "SELECT " SB_ADDRESSED_COLUMNS
                           " FROM messages m JOIN conversations c "
                           "ON c.id = m.conversation_id WHERE c.customer_id = ?1 AND "
                           "m.direction = 'inbound' AND (?2 IS NULL OR m.channel = ?2) "
                           "ORDER BY m.received_at DESC, m.seq DESC"),
        bump_conversation(db,
                          "UPDATE conversations SET message_count = message_count + 1, "
                          "last_message_at = max(last_message_at, ?2) WHERE id = ?1 "
                          "RETURNING message_count"),
        insert_message(db,
                       "INSERT INTO messages (id, conversation_id, seq, channel, provider_id, "
                       "direction, received_at, sent_at, body) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, 'outbound', ?6, NULL, ?7)"),
        insert_delivery(db,
                        "INSERT INTO deliveries (message_id, conversation_id, channel, "
                        "channel_type, answers, status, created_at, updated_at, "
                        "next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6, ?6)"),
        insert_key(db,
                   "INSERT INTO reply_keys (key, fingerprint, message_id, created_at) "
                   "VALUES (?1, ?2, ?3, ?4)"),
        delivery_status(db,
                        "SELECT status, conversation_id, channel, attempts, provider_message_id, "
                        "channel_type FROM deliveries WHERE message_id = ?1"),
        forget_key(db,
                   "INSERT OR IGNORE INTO forgotten_keys (channel, key_sha256, forgotten_at) "
                   "VALUES (?1, ?2, ?3)"),
        remember_mail_id(db,
                         "INSERT OR IGNORE INTO email_ids (message_id, conversation_id) "
                         "VALUES (?1, ?2)"),
        insert_event(db,
                     "INSERT INTO events (id, routing_key, body, created_at) "
                     "VALUES (?1, ?2, ?3, ?4)"),
        delete_event(db, "DELETE FROM events WHERE seq = ?1"),
        savepoint(db, "SAVEPOINT delivery_update"),
        release(db, "RELEASE delivery_update"),
        rollback_to(db, "ROLLBACK TO delivery_update"),
        retry_later(db,
                    "UPDATE deliveries SET attempts = attempts + ?2, next_attempt_at = ?3, "
                    "updated_at = ?4, reason = ?5 WHERE message_id = ?1 AND status = 'queued'"),
        // OR IGNORE: a provider id another delivery of the channel holds already (a provider
        // that reuses ids) must not fail the whole batch; the status is then not moved.
        move_status(db,
                    "UPDATE OR IGNORE deliveries SET status = ?2, updated_at = ?3, "
                    "attempts = attempts + ?4, provider_message_id = coalesce(nullif(?5, ''), "
                    "provider_message_id), reason = CASE WHEN ?2 = 'failed' THEN ?6 ELSE "
                    "reason END WHERE message_id = ?1"),
        // The reply's JSON as the thread shows it: its status, when it was sent, why it failed.
        message_status(db,
                       "UPDATE messages SET body = CASE ?2 "
                       "WHEN 'sent' THEN json_set(body, '$.status', ?2, '$.sent_at', ?3) "
                       "WHEN 'failed' THEN json_set(body, '$.status', ?2, '$.failure_reason', ?4) "
                       "ELSE json_set(body, '$.status', ?2) END, "
                       "sent_at = CASE ?2 WHEN 'sent' THEN ?5 ELSE sent_at END WHERE id = ?1"),
        // By the provider's id; or by the reply's own id, which is the provider id of the
        // types that name it themselves (the chat backend): a report that comes before the
        // send's answer is recorded still finds its reply.
        by_provider_id(db,
                       "SELECT message_id FROM deliveries WHERE channel = ?1 AND "
                       "provider_message_id = ?2 UNION ALL SELECT message_id FROM deliveries "
                       "WHERE message_id = ?2 AND channel = ?1 LIMIT 1"),
        // The private replies on channel ?3 to the sender (?1, ?2) of the message each answers,
        // sent by ?4 and not read yet: found through the customer's conversations (the
        // identities table holds verified identities only, which these are), then held to the
        // identity the reply went to, so a merged customer's other account is not moved.
        by_watermark(db,
                     "SELECT d.message_id FROM identities i "
                     "JOIN conversations c ON c.customer_id = i.customer_id "
                     "JOIN deliveries d ON d.conversation_id = c.id "
                     "AND d.status IN ('sent', 'delivered') "
                     "JOIN messages m ON m.id = d.message_id "
                     "JOIN messages a ON a.id = d.answers "
                     "WHERE i.type = ?1 AND i.value = ?2 AND d.channel = ?3 AND m.sent_at <= ?4 "
                     "AND json_extract(m.body, '$.visibility') = 'private' "
                     "AND json_extract(a.body, '$.from.type') = ?1 "
                     "AND json_extract(a.body, '$.from.value') = ?2") {}
  stmt find_key, load_conversation, message, latest_inbound, bump_conversation;
  stmt insert_message, insert_delivery, insert_key;
  stmt delivery_status, forget_key, remember_mail_id, insert_event, delete_event, savepoint,
      release, rollback_to, retry_later, move_status, message_status, by_provider_id, by_watermark;
};

#undef SB_ADDRESSED_COLUMNS

sqlite_replies::sqlite_replies(sqlite3* db) : db_(db), st_(std::make_unique<statements>(db)) {}
sqlite_replies::~sqlite_replies() = default;

result<reply_receipt> sqlite_replies::commit(const ingest_request& req) {
  const reply_request& rr = *req.reply;
  const reply& r = rr.content;
  statements& st = *st_;

  // The key seen before: the same reply is answered as it was; another one is refused.
  {
    use q(st.find_key);
    q->bind(1, rr.key);
    if (q->step()) {
      if (q->text(0) != rr.fingerprint)
        return error{errc::conflict,
                     "this idempotency key was used for another reply; use a new key for a "
                     "new reply"};
      return reply_receipt{q->text(1), q->text(2), q->text(3), q->text(4), true};
    }
  }

  // The conversation, following merges to the one that absorbed it.
  std::string conversation = r.conversation_id;
  std::string customer;
  for (int hops = 0;; ++hops) {
    use q(st.load_conversation);
    q->bind(1, conversation);
    if (hops == 16 || !q->step()) return error{errc::not_found, "no conversation with that id"};
    if (q->is_null(1)) {
      customer = q->text(0);
      break;
    }
    conversation = q->text(1);
  }

  static const reply_channels none;
  const reply_channels& sending = rr.channels ? *rr.channels : none;
  const auto sends = [&](const std::string& channel) { return sending.contains(channel); };
  // The customer's latest message on `channel`, or on any channel that sends replies.
  const auto latest = [&](const std::optional<std::string>& channel) -> std::optional<addressed> {
    use q(st.latest_inbound);
    q->bind(1, customer).bind(2, channel);
    while (q->step()) {
      addressed a = read_addressed(*q);
      if (sends(a.channel)) return a;
    }
    return std::nullopt;
  };

  std::optional<std::string> channel = r.channel;
  std::optional<addressed> answers;
  if (r.in_reply_to) {
    use q(st.message);
    q->bind(1, *r.in_reply_to);
    if (q->step()) answers = read_addressed(*q);
    if (!answers || answers->conversation_id != conversation || answers->direction != "inbound")
      return error{errc::malformed, "in_reply_to names no customer's message of this conversation"};
    if (channel && *channel != answers->channel)
      return error{errc::malformed,
                   fmt::format("in_reply_to names a message of channel {}, not of channel {}",
                               answers->channel, *channel)};
    channel = answers->channel;
  }
  if (channel && !sends(*channel))
    return error{errc::undeliverable,
                 fmt::format("channel {} sends no replies (no such channel, or no outbound: "
                             "section)",
                             *channel)};
  const std::optional<addressed> last = latest(channel);
  if (!last) {
    if (channel)
      return error{errc::undeliverable,
                   fmt::format("the customer has written nothing on channel {}", *channel)};
    std::string names;
    for (const auto& [name, _] : sending) names += (names.empty() ? "" : ", ") + name;
    return error{errc::undeliverable,
                 names.empty() ? std::string("no channel sends replies: add an outbound: "
                                             "section to a channel (docs/replies.md)")
                               : fmt::format("the customer has written on no channel that "
                                             "sends replies ({})",
                                             names)};
  }
  if (!answers) answers = last;
  const reply_channel& ch = sending.find(answers->channel)->second;
  // The provider's window runs from the customer's latest message on the channel.
  if (error e =
          check_window(answers->channel, ch, last->from_type, last->received_at, req.received_at);
      e.code != errc::ok)
    return e;

  // Everything checked: the writes.
  std::int64_t seq = 0;
  {
    use q(st.bump_conversation);
    q->bind(1, conversation).bind(2, req.received_at);
    if (q->step()) seq = q->i64(0);
  }
  const std::string provider_id = "reply:" + rr.key;
  const std::string body = reply_message_json(
      r, {rr.id, answers->channel, ch.type, req.received_at, provider_id},
      {answers->id, answers->from_value, answers->subject, answers->visibility}, "queued");
  {
    use q(st.insert_message);
    q->bind(1, rr.id).bind(2, conversation).bind(3, seq).bind(4, answers->channel);
    q->bind(5, provider_id).bind(6, req.received_at).bind(7, body);
    q->run();
  }
  {
    use q(st.insert_delivery);
    q->bind(1, rr.id).bind(2, conversation).bind(3, answers->channel).bind(4, ch.type);
    q->bind(5, answers->id).bind(6, req.received_at);
    q->run();
  }
  {
    use q(st.insert_key);
    q->bind(1, rr.key).bind(2, rr.fingerprint).bind(3, rr.id).bind(4, req.received_at);
    q->run();
  }
  return reply_receipt{rr.id, conversation, answers->channel, "queued", false};
}

void sqlite_replies::record(std::span<const delivery_update> updates, committed_batch& handed) {
  for (const delivery_update& u : updates) {
    // An update is its writes together (the status, the thread's JSON, the event) or none of
    // them: a savepoint each. Updates are few beside the webhooks a batch carries, which go
    // without (sqlite_store.cpp, commit_split).
    use(st_->savepoint)->run();
    try {
      const std::size_t threads = handed.changed_threads.size();
      try {
        record_one(u, handed);
      } catch (const sql::sqlite_failure&) {
        handed.changed_threads.resize(threads);
        throw;
      }
      use(st_->release)->run();
    } catch (const sql::sqlite_failure& e) {
      // The transaction itself is gone (disk full, I/O): the batch fails and the updates are
      // kept for the next one. Otherwise this update alone is undone and dropped, so that it
      // cannot fail every later commit (webhooks included) for ever.
      if (sqlite3_get_autocommit(db_)) throw;
      use(st_->rollback_to)->run();
      use(st_->release)->run();
      log::error("delivery", "recording {} for reply {} failed, the update is dropped: {}",
                 u.status, u.message_id, e.what());
    }
  }
}

void sqlite_replies::record_one(const delivery_update& u, committed_batch& handed) {
  statements& st = *st_;
  std::string status;
  std::string conversation;
  status_event event;
  std::string channel_type;
  {
    use q(st.delivery_status);
    q->bind(1, u.message_id);
    if (!q->step()) {
      // Erased since (the customer's erasure) while the attempt was under way: the provider
      // took it all the same. Its id is kept as a hash, as the erasure keeps those of the
      // replies sent before, so that the provider's echo of it (Messenger, Instagram) is not
      // stored as a new message of a new customer.
      if (!u.channel.empty() && !u.provider_message_id.empty()) {
        use k(st.forget_key);
        k->bind(1, u.channel).bind(2, sha256_hex(u.provider_message_id)).bind(3, u.at);
        k->run();
        forgot_ = forgot_ || sqlite3_changes(db_) > 0;
      }
      return;
    }
    status = q->text(0);
    conversation = q->text(1);
    event.channel = q->text(2);
    event.attempts = q->i64(3);
    event.provider_message_id = q->is_null(4) ? std::string() : q->text(4);
    channel_type = q->text(5);
  }
  const int attempted = u.attempted ? 1 : 0;
  // An attempt's outcome is about a queued reply: one recorded sent (or failed) by an earlier
  // attempt stays so, whatever a late duplicate attempt came to.
  if (u.attempted && status != "queued") return;
  if (u.status == "queued") {
    use q(st.retry_later);
    q->bind(1, u.message_id).bind(2, attempted).bind(3, u.next_attempt_at).bind(4, u.at);
    q->bind(5, u.reason);
    q->run();
    return;
  }
  if (!status_moves_forward(status, u.status)) return;
  {
    use q(st.move_status);
    q->bind(1, u.message_id).bind(2, u.status).bind(3, u.at).bind(4, attempted);
    q->bind(5, u.provider_message_id).bind(6, u.reason);
    q->run();
  }
  bool kept_id = !u.provider_message_id.empty();
  if (sqlite3_changes(db_) == 0) {
    // Ignored: another reply of the channel holds that provider id (a provider that reuses
    // ids). The status still moves, without the id, or the reply would be sent again.
    log::warn("delivery", "reply {}: provider id {} is another reply's already; kept without it",
              u.message_id, u.provider_message_id);
    use q(st.move_status);
    q->bind(1, u.message_id).bind(2, u.status).bind(3, u.at).bind(4, attempted);
    q->bind(5, std::string_view()).bind(6, u.reason);
    q->run();
    kept_id = false;
  }
  // A mail whose Message-ID is its provider id (Mailgun's h:Message-Id, SMTP): the customer's
  // answer names it in In-Reply-To, which leads to this conversation as the customer's own
  // mails' ids do, even after reopen_after.
  if (u.status == "sent" && kept_id && (channel_type == "mailgun" || channel_type == "mime")) {
    use q(st.remember_mail_id);
    q->bind(1, u.provider_message_id).bind(2, conversation);
    q->run();
  }
  // The event for agents' tools, in this transaction: published once committed.
  event.message_id = u.message_id;
  event.conversation_id = conversation;
  event.status = u.status;
  event.previous_status = status;
  if (kept_id) event.provider_message_id = u.provider_message_id;
  event.reason = u.status == "failed" ? u.reason : std::string();
  event.attempts += attempted;
  event.at = u.at;
  {
    const event_row row = make_status_event(event);
    use q(st.insert_event);
    q->bind(1, row.id).bind(2, row.routing_key).bind(3, row.body).bind(4, row.created_at);
    q->run();
  }
  {
    use q(st.message_status);
    q->bind(1, u.message_id).bind(2, u.status).bind(3, format_time(u.at)).bind(4, u.reason);
    q->bind(5, u.at);
    q->run();
  }
  handed.changed_threads.push_back(conversation);
}

void sqlite_replies::apply_statuses(std::string_view channel,
                                    std::span<const delivery_status> statuses, millis received_at,
                                    committed_batch& handed) {
  std::vector<delivery_update> updates;
  for (const delivery_status& s : statuses) {
    if (s.watermark_for && s.at) {
      use q(st_->by_watermark);
      q->bind(1, s.watermark_for->type).bind(2, s.watermark_for->value).bind(3, channel);
      q->bind(4, *s.at + s.slack);
      while (q->step()) {
        delivery_update u;
        u.message_id = q->text(0);
        u.status = s.status;
        u.at = *s.at;
        u.attempted = false;
        updates.push_back(std::move(u));
      }
      continue;
    }
    use q(st_->by_provider_id);
    q->bind(1, channel).bind(2, s.provider_id);
    if (!q->step()) continue;  // a message sent from elsewhere (the provider's own console)
    delivery_update u;
    u.message_id = q->text(0);
    u.status = s.status;
    u.at = s.at.value_or(received_at);
    u.reason = s.reason;
    u.attempted = false;
    updates.push_back(std::move(u));
  }
  record(updates, handed);
}

void sqlite_replies::forget_events(std::span<const std::int64_t> seqs) {
  for (const std::int64_t seq : seqs) {
    use q(st_->delete_event);
    q->bind(1, seq);
    q->run();
  }
}

// The event publisher's reader: a read-only connection of its own (its thread's alone).
class sqlite_event_reader final : public event_reader {
 public:
  ~sqlite_event_reader() override {
    st_.reset();
    if (db_) sqlite3_close_v2(db_);
  }

  std::vector<event_row> fetch(std::int64_t after, std::size_t limit) override {
    std::vector<event_row> out;
    try {
      use q(st_->fetch);
      q->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
      while (q->step()) out.push_back({q->i64(0), q->text(1), q->text(2), q->text(3), q->i64(4)});
    } catch (const sql::sqlite_failure& e) {
      log::error("events", "reading the events to publish failed: {}", e.what());
      out.clear();
    }
    return out;
  }

  std::int64_t backlog() override {
    try {
      use q(st_->backlog);
      if (q->step()) return q->i64(0);
    } catch (const sql::sqlite_failure& e) {
      log::warn("events", "counting the events to publish failed: {}", e.what());
    }
    return 0;
  }

 private:
  friend result<std::unique_ptr<event_reader>> open_sqlite_event_reader(const std::string& path);
  struct statements {
    explicit statements(sqlite3* db)
        : fetch(db,
                "SELECT seq, id, routing_key, body, created_at FROM events WHERE seq > ?1 "
                "ORDER BY seq LIMIT ?2"),
          backlog(db, "SELECT count(*) FROM events") {}
    stmt fetch, backlog;
  };
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
};

result<std::unique_ptr<event_reader>> open_sqlite_event_reader(const std::string& path) {
  std::unique_ptr<sqlite_event_reader> r(new sqlite_event_reader());
  const auto prepare = [&] { r->st_ = std::make_unique<sqlite_event_reader::statements>(r->db_); };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return std::unique_ptr<event_reader>(std::move(r));
}

// The delivery engine's reader: a read-only connection of its own (its thread's alone).
class sqlite_delivery_reader final : public delivery_reader {
 public:
  ~sqlite_delivery_reader() override {
    st_.reset();
    if (db_) sqlite3_close_v2(db_);
  }

  std::vector<delivery_job> due(millis now, std::size_t limit) override {
    std::vector<delivery_job> out;
    try {
      use q(st_->due);
      q->bind(1, now).bind(2, static_cast<std::int64_t>(limit));
      while (q->step())
        out.push_back({q->text(0), q->text(1), q->text(2), q->text(3), q->text(4), q->text(5),
                       q->i64(6), q->i64(7)});
    } catch (const sql::sqlite_failure& e) {
      log::error("delivery", "reading the deliveries due failed: {}", e.what());
      out.clear();
    }
    return out;
  }

  backlog_info backlog() override {
    try {
      use q(st_->backlog);
      if (q->step()) return {q->i64(0), q->is_null(1) ? 0 : q->i64(1)};
    } catch (const sql::sqlite_failure& e) {
      log::warn("delivery", "counting the deliveries queued failed: {}", e.what());
    }
    return {};
  }

 private:
  friend result<std::unique_ptr<delivery_reader>> open_sqlite_delivery_reader(
      const std::string& path);
  struct statements {
    explicit statements(sqlite3* db)
        : due(db,
              "SELECT d.message_id, d.conversation_id, d.channel, d.channel_type, m.body, "
              "a.body, d.attempts, d.created_at FROM deliveries d "
              "JOIN messages m ON m.id = d.message_id JOIN messages a ON a.id = d.answers "
              "WHERE d.status = 'queued' AND d.next_attempt_at <= ?1 "
              "ORDER BY d.next_attempt_at LIMIT ?2"),
          backlog(db, "SELECT count(*), min(created_at) FROM deliveries WHERE status = 'queued'") {}
    stmt due, backlog;
  };
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;
};

result<std::unique_ptr<delivery_reader>> open_sqlite_delivery_reader(const std::string& path) {
  std::unique_ptr<sqlite_delivery_reader> r(new sqlite_delivery_reader());
  const auto prepare = [&] {
    r->st_ = std::make_unique<sqlite_delivery_reader::statements>(r->db_);
  };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return std::unique_ptr<delivery_reader>(std::move(r));
}

}  // namespace sb
