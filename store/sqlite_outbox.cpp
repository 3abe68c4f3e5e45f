#include "store/outbox.hpp"

#include "core/log.hpp"
#include "store/handoff.hpp"
#include "store/payload.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store.hpp"

#include <algorithm>

namespace sb {

using sql::stmt;
using sql::use;

// The publisher's read-only connection (WAL readers never block the writer).
class sqlite_outbox_reader final : public outbox_reader {
 public:
  sqlite_outbox_reader(std::size_t thread_limit, std::size_t max_payload_bytes)
      : outbox_reader(thread_limit, max_payload_bytes) {}
  ~sqlite_outbox_reader() override;

 private:
  friend result<std::unique_ptr<outbox_reader>> open_sqlite_outbox_reader(
      const std::string& path, std::size_t thread_limit, std::size_t max_payload_bytes);
  struct statements;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> st_;

  std::vector<outbox_row> fetch_stored(std::int64_t after, std::size_t limit) override;
  result<void> begin_read() override;
  result<void> end_read() override;
  void abandon_read() noexcept override;
  result<std::optional<customer_view>> read_customer(const std::string& id) override;
  result<std::optional<std::vector<std::string>>> read_thread(const committed_row& r) override;
  // The payload of the message at `position` (its seq) in the row's conversation.
  void assemble(outbox_row& row, std::int64_t position);
};

struct sqlite_outbox_reader::statements {
  explicit statements(sqlite3* db)
      : begin(db, "BEGIN"),
        commit(db, "COMMIT"),
        // The message's conversation now, not the row's: a merge may have moved it since.
        rows(db,
             "SELECT o.seq, o.message_id, m.conversation_id, o.skill, o.channel, "
             "o.channel_type, o.priority, o.created_at, m.seq "
             "FROM outbox o JOIN messages m ON m.id = o.message_id "
             "WHERE o.seq > ?1 ORDER BY o.seq LIMIT ?2"),
        conversation(db, "SELECT status, opened_at, customer_id FROM conversations WHERE id = ?1"),
        customer(db, "SELECT name, merged_into IS NULL FROM customers WHERE id = ?1"),
        // Verified identities first, then the customer's claims (a claim the customer later
        // proved shows once, verified).
        identities(db,
                   "SELECT type, value, 1, created_at FROM identities WHERE customer_id = ?1 "
                   "UNION ALL SELECT type, value, 0, created_at FROM claims c WHERE "
                   "c.customer_id = ?1 AND NOT EXISTS (SELECT 1 FROM identities i WHERE "
                   "i.customer_id = ?1 AND i.type = c.type AND i.value = c.value) "
                   "ORDER BY 3 DESC, 4, 1, 2"),
        thread(
            db,
            "SELECT body, received_at, id FROM messages WHERE conversation_id = ?1 AND seq <= ?2 "
            "ORDER BY seq DESC LIMIT ?3") {}
  stmt begin, commit, rows, conversation, customer, identities, thread;
};

namespace {

error read_failed(const sql::sqlite_failure& e) {
  log::warn("store", "outbox read failed: {}; will retry", e.what());
  return error{errc::unavailable, e.what()};
}

}  // namespace

result<void> sqlite_outbox_reader::begin_read() {
  try {
    use(st_->begin)->run();
    return {};
  } catch (const sql::sqlite_failure& e) {
    return read_failed(e);
  }
}

result<void> sqlite_outbox_reader::end_read() {
  try {
    use(st_->commit)->run();
    return {};
  } catch (const sql::sqlite_failure& e) {
    abandon_read();
    return read_failed(e);
  }
}

void sqlite_outbox_reader::abandon_read() noexcept {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

result<std::optional<customer_view>> sqlite_outbox_reader::read_customer(const std::string& id) {
  try {
    customer_view customer;
    customer.id = id;
    {
      use q(st_->customer);
      q->bind(1, id);
      if (!q->step() || q->i64(1) == 0) return std::nullopt;  // merged since
      customer.name = q->text(0);
    }
    use q(st_->identities);
    q->bind(1, id);
    while (q->step()) customer.identities.push_back({q->text(0), q->text(1), q->i64(2) != 0});
    return customer;
  } catch (const sql::sqlite_failure& e) {
    return read_failed(e);
  }
}

result<std::optional<std::vector<std::string>>> sqlite_outbox_reader::read_thread(
    const committed_row& r) {
  try {
    std::vector<std::string> thread;
    use q(st_->thread);
    q->bind(1, r.conversation.id).bind(2, r.conversation.message_count);
    q->bind(3, static_cast<std::int64_t>(thread_limit_));
    // Newest first: the first row must be this message, at its position still.
    if (!q->step() || q->text(2) != r.row.message_id) return std::nullopt;
    do thread.push_back(q->text(0));
    while (q->step());
    std::reverse(thread.begin(), thread.end());
    return thread;
  } catch (const sql::sqlite_failure& e) {
    return read_failed(e);
  }
}

sqlite_outbox_reader::~sqlite_outbox_reader() {
  st_.reset();  // finalize statements before closing
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<outbox_reader>> open_sqlite_outbox_reader(const std::string& path,
                                                                 std::size_t thread_limit,
                                                                 std::size_t max_payload_bytes) {
  auto r = std::make_unique<sqlite_outbox_reader>(thread_limit, max_payload_bytes);
  const auto prepare = [&] { r->st_ = std::make_unique<sqlite_outbox_reader::statements>(r->db_); };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return std::unique_ptr<outbox_reader>(std::move(r));
}

std::vector<outbox_row> sqlite_outbox_reader::fetch_stored(std::int64_t after, std::size_t limit) {
  std::vector<outbox_row> rows;
  try {
    use(st_->begin)->run();
    try {
      std::vector<std::int64_t> positions;
      {
        use q(st_->rows);
        q->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
        while (q->step()) {
          outbox_row r;
          r.seq = q->i64(0);
          r.message_id = q->text(1);
          r.conversation_id = q->text(2);
          r.skill = q->text(3);
          r.channel = q->text(4);
          r.channel_type = q->text(5);
          r.priority = static_cast<int>(q->i64(6));
          r.created_at = q->i64(7);
          positions.push_back(q->i64(8));
          rows.push_back(std::move(r));
        }
      }
      for (std::size_t i = 0; i < rows.size(); ++i) assemble(rows[i], positions[i]);
      use(st_->commit)->run();
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const sql::sqlite_failure& e) {
    log::warn("store", "outbox read failed: {}; will retry", e.what());
    rows.clear();
  }
  return rows;
}

void sqlite_outbox_reader::assemble(outbox_row& row, std::int64_t position) {
  conversation_view conv;
  conv.id = row.conversation_id;
  conv.skill = row.skill;
  conv.priority = row.priority;
  conv.message_count = position;
  customer_view customer;
  {
    use q(st_->conversation);
    q->bind(1, conv.id);
    if (q->step()) {
      conv.status = q->text(0);
      conv.opened_at = q->i64(1);
      customer.id = q->text(2);
    }
  }
  {
    use q(st_->customer);
    q->bind(1, customer.id);
    if (q->step()) customer.name = q->text(0);
  }
  {
    use q(st_->identities);
    q->bind(1, customer.id);
    while (q->step()) customer.identities.push_back({q->text(0), q->text(1), q->i64(2) != 0});
  }
  std::vector<std::string> thread;
  {
    use q(st_->thread);
    q->bind(1, conv.id).bind(2, position).bind(3, static_cast<std::int64_t>(thread_limit_));
    while (q->step()) {
      thread.push_back(q->text(0));
      conv.last_message_at = std::max(conv.last_message_at, q->i64(1));
    }
  }
  std::reverse(thread.begin(), thread.end());
  const bool truncated = position > static_cast<std::int64_t>(thread.size());
  row.body = build_bounded_payload(conv, customer, thread, truncated, max_payload_bytes_);
}

}  // namespace sb
