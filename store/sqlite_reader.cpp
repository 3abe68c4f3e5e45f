#include "store/reader.hpp"

#include "core/log.hpp"
#include "core/mutex.hpp"
#include "core/time.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_customer_data.hpp"
#include "store/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <memory>

namespace sb {

using sql::stmt;
using sql::use;

// One read-only connection (WAL readers never block the writer) under a mutex.
class sqlite_reader final : public store_reader {
 public:
  ~sqlite_reader() override;
  std::optional<std::string> conversation(std::string_view id) override;
  std::optional<std::string> customer(std::string_view id) override;
  result<std::string> customer_export(std::string_view id, millis now) override;
  std::optional<std::string> customer_id_by_identity(std::string_view type,
                                                     std::string_view value) override;
  std::optional<kept_row> kept(std::string_view id) override;
  std::string kept_list(std::string_view status, std::string_view channel,
                        std::size_t limit) override;
  std::int64_t kept_pending() override;
  std::string parked_list(std::size_t limit) override;
  std::int64_t parked() override;
  std::optional<std::int64_t> oldest_outbox_millis() override;
  std::optional<attachment_record> attachment(std::string_view id) override;

 private:
  friend result<std::unique_ptr<store_reader>> open_sqlite_reader(const std::string& path);
  struct statements;
  mutex m_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_ SB_PT_GUARDED_BY(m_);
};

struct sqlite_reader::statements {
  explicit statements(sqlite3* db)
      : conversation(db,
                     "SELECT id, status, skill, priority, opened_at, last_message_at, "
                     "message_count, closed_at, customer_id, merged_into "
                     "FROM conversations WHERE id = ?1"),
        messages(db, "SELECT body FROM messages WHERE conversation_id = ?1 ORDER BY seq"),
        customer(db, "SELECT id, name, created_at, merged_into FROM customers WHERE id = ?1"),
        identities(db,
                   "SELECT type, value, 1, created_at FROM identities WHERE customer_id = ?1 "
                   "UNION ALL SELECT type, value, 0, created_at FROM claims c WHERE "
                   "c.customer_id = ?1 AND NOT EXISTS (SELECT 1 FROM identities i WHERE "
                   "i.customer_id = ?1 AND i.type = c.type AND i.value = c.value) "
                   "ORDER BY 3 DESC, 4, 1, 2"),
        merged(db,
               "SELECT merged_id, merged_at, message_id, identity_type, identity_value "
               "FROM customer_merges WHERE survivor_id = ?1 ORDER BY merged_at, rowid"),
        conversations(db,
                      "SELECT id, status, skill, priority, opened_at, last_message_at, "
                      "message_count, closed_at FROM conversations "
                      "WHERE customer_id = ?1 AND status != 'merged' ORDER BY opened_at"),
        identity(db, "SELECT customer_id FROM identities WHERE type = ?1 AND value = ?2"),
        skill_changes(db,
                      "SELECT changed_at, skill, previous_skill, message_id, reason "
                      "FROM skill_changes WHERE conversation_id = ?1 ORDER BY changed_at, rowid"),
        oldest_outbox(db, "SELECT created_at FROM outbox ORDER BY seq LIMIT 1"),
        kept(db,
             "SELECT id, channel, channel_type, received_at, content_type, body, events, "
             "event_count, status, replayed_at FROM unreadable WHERE id = ?1"),
        kept_list(db,
                  "SELECT id, channel, channel_type, received_at, length(body), events, "
                  "event_count, status, replayed_at FROM unreadable "
                  "WHERE (?1 = 'all' OR status = ?1) AND (?2 = '' OR channel = ?2) "
                  "ORDER BY received_at DESC, id DESC LIMIT ?3"),
        kept_pending(db, "SELECT count(*) FROM unreadable WHERE status = 'pending'"),
        parked_list(db,
                    "SELECT seq, message_id, conversation_id, skill, channel, channel_type, "
                    "priority, created_at, parked_at, bytes, reason FROM outbox_parked "
                    "ORDER BY seq LIMIT ?1"),
        parked_count(db, "SELECT count(*) FROM outbox_parked"),
        attachment(db,
                   "SELECT id, message_id, name, content_type, size, sha256, state, attempts, "
                   "last_error FROM attachments WHERE id = ?1") {}
  stmt conversation, messages, customer, identities, merged, conversations, identity;
  stmt skill_changes, oldest_outbox, kept, kept_list, kept_pending, parked_list, parked_count;
  stmt attachment;
};

namespace {

boost::json::value time_or_null(sql::stmt& q, int col) {
  if (q.is_null(col)) return nullptr;
  return boost::json::value(format_time(q.i64(col)));
}

// Columns: id, status, skill, priority, opened_at, last_message_at, message_count, closed_at.
boost::json::object conversation_json(sql::stmt& q, int first) {
  boost::json::object c;
  c["id"] = q.text(first);
  c["status"] = q.text(first + 1);
  c["skill"] =
      q.is_null(first + 2) ? boost::json::value(nullptr) : boost::json::value(q.text(first + 2));
  c["priority"] = q.i64(first + 3);
  c["opened_at"] = format_time(q.i64(first + 4));
  c["last_message_at"] = format_time(q.i64(first + 5));
  c["message_count"] = q.i64(first + 6);
  c["closed_at"] = time_or_null(q, first + 7);
  return c;
}

}  // namespace

sqlite_reader::~sqlite_reader() {
  st_.reset();
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<store_reader>> open_sqlite_reader(const std::string& path) {
  std::unique_ptr<sqlite_reader> r(new sqlite_reader());
  const auto prepare = [&] { r->st_ = std::make_unique<sqlite_reader::statements>(r->db_); };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return std::unique_ptr<store_reader>(std::move(r));
}

std::optional<std::string> sqlite_reader::conversation(std::string_view id_in) {
  mutex_lock lock(m_);
  std::string id(id_in);
  boost::json::object conv;
  std::string customer_id;
  for (int hops = 0;; ++hops) {
    if (hops == 16) return std::nullopt;
    use q(st_->conversation);
    q->bind(1, id);
    if (!q->step()) return std::nullopt;
    if (!q->is_null(9)) {  // merged into another conversation: answer as that one
      id = q->text(9);
      continue;
    }
    customer_id = q->text(8);
    conv = conversation_json(*q, 0);
    break;
  }
  boost::json::array history;
  {
    use q(st_->skill_changes);
    q->bind(1, id);
    while (q->step())
      history.push_back({{"at", format_time(q->i64(0))},
                         {"skill", q->text(1)},
                         {"previous_skill", q->is_null(2) ? boost::json::value(nullptr)
                                                          : boost::json::value(q->text(2))},
                         {"message_id", q->text(3)},
                         {"reason", q->text(4)}});
  }
  conv["skill_history"] = std::move(history);
  boost::json::object cu{{"id", customer_id}};
  {
    use q(st_->customer);
    q->bind(1, customer_id);
    if (q->step())
      cu["name"] =
          q->text(1).empty() ? boost::json::value(nullptr) : boost::json::value(q->text(1));
  }
  boost::json::array ids;
  {
    use q(st_->identities);
    q->bind(1, customer_id);
    while (q->step())
      ids.push_back({{"type", q->text(0)}, {"value", q->text(1)}, {"verified", q->i64(2) != 0}});
  }
  cu["identities"] = std::move(ids);

  std::string out = R"({"conversation":)";
  out += boost::json::serialize(conv);
  out += R"(,"customer":)";
  out += boost::json::serialize(cu);
  out += R"(,"thread":[)";
  {
    use q(st_->messages);
    q->bind(1, id);
    bool first = true;
    while (q->step()) {
      if (!first) out += ',';
      first = false;
      out += q->text(0);
    }
  }
  out += "]}";
  return out;
}

std::optional<std::string> sqlite_reader::customer(std::string_view id_in) {
  mutex_lock lock(m_);
  std::string id(id_in);
  boost::json::object cu;
  for (int hops = 0;; ++hops) {
    if (hops == 16) return std::nullopt;
    use q(st_->customer);
    q->bind(1, id);
    if (!q->step()) return std::nullopt;
    if (!q->is_null(3)) {  // merged into an older customer: answer as the survivor
      id = q->text(3);
      continue;
    }
    cu["id"] = q->text(0);
    cu["name"] = q->text(1).empty() ? boost::json::value(nullptr) : boost::json::value(q->text(1));
    cu["created_at"] = format_time(q->i64(2));
    break;
  }
  boost::json::array ids;
  {
    use q(st_->identities);
    q->bind(1, id);
    while (q->step())
      ids.push_back({{"type", q->text(0)}, {"value", q->text(1)}, {"verified", q->i64(2) != 0}});
  }
  cu["identities"] = std::move(ids);
  // What this customer absorbed, and why: the message that proved two customers one person
  // and the verified identity it shared with the one merged (null for merges made before
  // merges recorded their cause).
  boost::json::array merged;
  boost::json::array merges;
  {
    use q(st_->merged);
    q->bind(1, id);
    while (q->step()) {
      merged.push_back(boost::json::string(q->text(0)));
      boost::json::object m{{"merged_id", q->text(0)}, {"at", format_time(q->i64(1))}};
      m["message_id"] =
          q->is_null(2) ? boost::json::value(nullptr) : boost::json::value(q->text(2));
      m["identity"] = q->is_null(3) ? boost::json::value(nullptr)
                                    : boost::json::value(boost::json::object{
                                          {"type", q->text(3)}, {"value", q->text(4)}});
      merges.push_back(std::move(m));
    }
  }
  cu["merged_ids"] = std::move(merged);
  cu["merges"] = std::move(merges);
  boost::json::array convs;
  {
    use q(st_->conversations);
    q->bind(1, id);
    while (q->step()) convs.push_back(conversation_json(*q, 0));
  }
  cu["conversations"] = std::move(convs);
  return boost::json::serialize(cu);
}

result<std::string> sqlite_reader::customer_export(std::string_view id, millis now) {
  mutex_lock lock(m_);
  // One snapshot: the rows of a customer agree with each other even while the writer goes on.
  try {
    sql::exec(db_, "BEGIN");
    std::optional<std::string> out;
    if (auto survivor = customer_data::survivor(db_, id))
      out = customer_data::export_json(db_, *survivor, now);
    sql::exec(db_, "COMMIT");
    if (!out) return error{errc::not_found, "no customer with that id"};
    return std::move(*out);
  } catch (const sql::sqlite_failure& e) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    log::error("store", "exporting customer {} failed: {}", id, e.what());
    return error{errc::unavailable, "the store could not be read; try again"};
  }
}

std::optional<std::string> sqlite_reader::customer_id_by_identity(std::string_view type,
                                                                  std::string_view value) {
  mutex_lock lock(m_);
  use q(st_->identity);
  q->bind(1, type).bind(2, value);
  if (!q->step()) return std::nullopt;
  return q->text(0);
}

std::optional<std::int64_t> sqlite_reader::oldest_outbox_millis() {
  mutex_lock lock(m_);
  use q(st_->oldest_outbox);
  if (!q->step()) return std::nullopt;
  return q->i64(0);
}

std::optional<kept_row> sqlite_reader::kept(std::string_view id) {
  mutex_lock lock(m_);
  use q(st_->kept);
  q->bind(1, id);
  if (!q->step()) return std::nullopt;
  kept_row r;
  r.id = q->text(0);
  r.channel = q->text(1);
  r.channel_type = q->text(2);
  r.received_at = q->i64(3);
  r.content_type = q->text(4);
  r.body = q->blob(5);
  r.events_json = q->text(6);
  r.event_count = q->i64(7);
  r.status = q->text(8);
  if (!q->is_null(9)) r.replayed_at = q->i64(9);
  return r;
}

std::string sqlite_reader::kept_list(std::string_view status, std::string_view channel,
                                     std::size_t limit) {
  mutex_lock lock(m_);
  boost::json::array list;
  use q(st_->kept_list);
  q->bind(1, status).bind(2, channel).bind(3, static_cast<std::int64_t>(limit));
  while (q->step()) {
    // The listing names each event by its path and reason; GET /v1/unreadable/{id} has the
    // events' JSON and the body.
    boost::json::array events;
    boost::system::error_code ec;
    const boost::json::value stored = boost::json::parse(q->text(5), ec);
    if (!ec && stored.is_array())
      for (const auto& e : stored.get_array())
        if (e.is_object())
          events.push_back(
              {{"path", e.get_object().contains("path") ? e.at("path") : nullptr},
               {"reason", e.get_object().contains("reason") ? e.at("reason") : nullptr}});
    list.push_back({{"id", q->text(0)},
                    {"channel", q->text(1)},
                    {"channel_type", q->text(2)},
                    {"received_at", format_time(q->i64(3))},
                    {"status", q->text(7)},
                    {"replayed_at", time_or_null(*q, 8)},
                    {"event_count", q->i64(6)},
                    {"body_bytes", q->i64(4)},
                    {"events", std::move(events)}});
  }
  return boost::json::serialize(boost::json::object{{"unreadable", std::move(list)}});
}

std::string sqlite_reader::parked_list(std::size_t limit) {
  mutex_lock lock(m_);
  boost::json::array list;
  use q(st_->parked_list);
  q->bind(1, static_cast<std::int64_t>(limit));
  while (q->step())
    list.push_back({{"seq", q->i64(0)},
                    {"message_id", q->text(1)},
                    {"conversation_id", q->text(2)},
                    {"skill", q->text(3)},
                    {"channel", q->text(4)},
                    {"channel_type", q->text(5)},
                    {"priority", q->i64(6)},
                    {"created_at", format_time(q->i64(7))},
                    {"parked_at", format_time(q->i64(8))},
                    {"bytes", q->i64(9)},
                    {"reason", q->text(10)}});
  return boost::json::serialize(boost::json::object{{"parked", std::move(list)}});
}

std::int64_t sqlite_reader::parked() {
  mutex_lock lock(m_);
  use q(st_->parked_count);
  return q->step() ? q->i64(0) : 0;
}

std::int64_t sqlite_reader::kept_pending() {
  mutex_lock lock(m_);
  use q(st_->kept_pending);
  return q->step() ? q->i64(0) : 0;
}

std::optional<attachment_record> sqlite_reader::attachment(std::string_view id) {
  mutex_lock lock(m_);
  use q(st_->attachment);
  q->bind(1, id);
  if (!q->step()) return std::nullopt;
  attachment_record a;
  a.id = q->text(0);
  a.message_id = q->text(1);
  a.name = q->text(2);
  a.content_type = q->text(3);
  if (!q->is_null(4)) a.size = q->i64(4);
  if (!q->is_null(5)) a.sha256 = q->text(5);
  a.state = q->text(6);
  a.attempts = q->i64(7);
  if (!q->is_null(8)) a.last_error = q->text(8);
  return a;
}

}  // namespace sb
