#include "store/outbox.hpp"

#include "core/log.hpp"
#include "store/handoff.hpp"
#include "store/payload.hpp"
#include "store/sqlite.hpp"

#include <algorithm>
#include <mutex>

namespace sb {

using sql::stmt;
using sql::use;

struct outbox_reader::statements {
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
        thread(db,
               "SELECT body, received_at, id FROM messages WHERE conversation_id = ?1 AND seq <= ?2 "
               "ORDER BY seq DESC LIMIT ?3") {}
  stmt begin, commit, rows, conversation, customer, identities, thread;
};

struct outbox_reader::handed {
  explicit handed(std::size_t thread_limit) : state(thread_limit) {}
  std::mutex m;
  committed_batch inbox;  // guarded by m: taken from the writer thread
  handoff state;          // the publisher thread's
};

// A handed row the store contradicts (a merge committed but not yet handed over).
struct handed_outdated {};

void outbox_reader::take(committed_batch b) {
  std::lock_guard lock(handed_->m);
  handed_->inbox.append(std::move(b));
  // Bounded like the reader's own state (handoff::limits): while the publisher is not
  // reading (a broker outage), commits must not pile up here.
  const handoff::limits l;
  handed_->inbox.bound(l.rows, l.row_bytes, l.rows);
}

std::optional<std::vector<outbox_row>> outbox_reader::fetch_handed(std::int64_t after,
                                                                   std::size_t limit) {
  handoff& state = handed_->state;
  {
    committed_batch b;
    {
      std::lock_guard lock(handed_->m);
      b = std::move(handed_->inbox);
      handed_->inbox = {};
    }
    if (!b.empty()) state.apply(std::move(b));
  }
  const auto run = state.run(after, limit);
  if (run.empty()) return std::nullopt;
  std::vector<outbox_row> rows;
  rows.reserve(run.size());
  bool reading = false;  // one read transaction for whatever the handed rows lack
  const auto read = [&] {
    if (!reading) use(st_->begin)->run();
    reading = true;
  };
  try {
    try {
      for (const committed_row* r : run) {
        const customer_view* customer = state.customer(r->customer_id);
        if (customer == nullptr) {
          read();
          state.remember(read_customer(r->customer_id));
          customer = state.customer(r->customer_id);
        }
        bool older_left_out = false;
        std::vector<std::string> read_back;
        auto thread = state.thread(*r, older_left_out);
        if (!thread) {
          read();
          read_back = read_thread(*r);
          older_left_out =
              r->conversation.message_count > static_cast<std::int64_t>(read_back.size());
          state.remember_thread(*r, read_back);
          thread = std::span<const std::string>(read_back);
        }
        outbox_row row = r->row;
        row.body = build_bounded_payload(r->conversation, *customer, *thread, older_left_out,
                                         max_payload_bytes_);
        rows.push_back(std::move(row));
      }
      if (reading) use(st_->commit)->run();
      handed_rows_ += rows.size();
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    // A run that stopped at a gap (rows past the bound, or not handed): the rest from the
    // store, or the publisher would take the short answer for the end of the outbox.
    if (rows.size() < limit && rows.back().seq < state.max_seq()) {
      auto rest = fetch_stored(rows.back().seq, limit - rows.size());
      rows.insert(rows.end(), std::make_move_iterator(rest.begin()),
                  std::make_move_iterator(rest.end()));
    }
  } catch (const handed_outdated&) {
    state.reset();  // read from the store until the writer hands the next rows
    return std::nullopt;
  } catch (const sql::sqlite_failure& e) {
    log::warn("store", "outbox read failed: {}; will retry", e.what());
    state.reset();
    return std::vector<outbox_row>{};
  }
  return rows;
}

customer_view outbox_reader::read_customer(const std::string& id) {
  customer_view customer;
  customer.id = id;
  {
    use q(st_->customer);
    q->bind(1, id);
    if (!q->step() || q->i64(1) == 0) throw handed_outdated{};  // merged since
    customer.name = q->text(0);
  }
  use q(st_->identities);
  q->bind(1, id);
  while (q->step()) customer.identities.push_back({q->text(0), q->text(1), q->i64(2) != 0});
  return customer;
}

std::vector<std::string> outbox_reader::read_thread(const committed_row& r) {
  std::vector<std::string> thread;
  use q(st_->thread);
  q->bind(1, r.conversation.id).bind(2, r.conversation.message_count);
  q->bind(3, static_cast<std::int64_t>(thread_limit_));
  // Newest first: the first row must be this message, at its position still.
  if (!q->step() || q->text(2) != r.row.message_id) throw handed_outdated{};
  do thread.push_back(q->text(0));
  while (q->step());
  std::reverse(thread.begin(), thread.end());
  return thread;
}

outbox_reader::~outbox_reader() {
  st_.reset();  // finalize statements before closing
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<outbox_reader>> outbox_reader::open(const std::string& path,
                                                           std::size_t thread_limit,
                                                           std::size_t max_payload_bytes) {
  std::unique_ptr<outbox_reader> r(new outbox_reader());
  r->thread_limit_ = thread_limit;
  r->handed_ = std::make_unique<handed>(thread_limit);
  r->max_payload_bytes_ = max_payload_bytes;
  const auto prepare = [&] { r->st_ = std::make_unique<statements>(r->db_); };
  if (auto e = sql::open_reader(r->db_, path, prepare)) return *e;
  return r;
}

std::vector<outbox_row> outbox_reader::fetch(std::int64_t after, std::size_t limit) {
  auto rows = fetch_handed(after, limit);
  if (!rows) rows = fetch_stored(after, limit);
  if (!rows->empty()) handed_->state.given(rows->back().seq);
  return std::move(*rows);
}

std::vector<outbox_row> outbox_reader::fetch_stored(std::int64_t after, std::size_t limit) {
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

// The payload of the message at `position` (its seq) in the row's conversation.
void outbox_reader::assemble(outbox_row& row, std::int64_t position) {
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
