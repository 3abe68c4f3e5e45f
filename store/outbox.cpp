#include "store/outbox.hpp"

#include "core/mutex.hpp"
#include "store/handoff.hpp"

#include <algorithm>

namespace sb {

struct outbox_reader::handed {
  explicit handed(std::size_t thread_limit) : state(thread_limit) {}
  mutex m;
  committed_batch inbox SB_GUARDED_BY(m);  // taken from the writer thread
  handoff state;                           // the publisher thread's
};

outbox_reader::outbox_reader(std::size_t thread_limit, std::size_t max_payload_bytes)
    : thread_limit_(thread_limit),
      max_payload_bytes_(max_payload_bytes),
      handed_(std::make_unique<handed>(thread_limit)) {}

outbox_reader::~outbox_reader() = default;

void outbox_reader::take(committed_batch b) {
  mutex_lock lock(handed_->m);
  handed_->inbox.append(std::move(b));
  // Bounded like the reader's own state (handoff::limits): while the publisher is not
  // reading (a broker outage), commits must not pile up here.
  const handoff::limits l;
  handed_->inbox.bound(l.rows, l.row_bytes, l.rows);
}

std::vector<outbox_row> outbox_reader::fetch(std::int64_t after, std::size_t limit) {
  auto rows = fetch_handed(after, limit);
  if (!rows) rows = fetch_stored(after, limit);
  if (!rows->empty()) handed_->state.given(rows->back().seq);
  return std::move(*rows);
}

std::optional<std::vector<outbox_row>> outbox_reader::fetch_handed(std::int64_t after,
                                                                   std::size_t limit) {
  handoff& state = handed_->state;
  {
    committed_batch b;
    {
      mutex_lock lock(handed_->m);
      b = std::move(handed_->inbox);
      handed_->inbox = {};
    }
    if (!b.empty()) state.apply(std::move(b));
  }
  const auto run = state.run(after, limit);
  if (run.empty()) return std::nullopt;
  std::vector<outbox_row> rows;
  rows.reserve(run.size());
  // One read snapshot for whatever the handed rows lack. `outdated`: a read found the store
  // moved on (a merge committed but not handed over yet).
  enum class outcome { done, outdated, failed } how = outcome::done;
  bool reading = false;
  const auto read = [&]() -> bool {
    if (!reading && !begin_read()) {
      how = outcome::failed;
      return false;
    }
    reading = true;
    return true;
  };
  for (const committed_row* r : run) {
    const customer_view* customer = state.customer(r->customer_id);
    if (customer == nullptr) {
      if (!read()) break;
      auto got = read_customer(r->customer_id);
      if (!got || !*got) {
        how = got ? outcome::outdated : outcome::failed;
        break;
      }
      state.remember(std::move(**got));
      customer = state.customer(r->customer_id);
    }
    bool older_left_out = false;
    std::vector<std::string> read_back;
    auto thread = state.thread(*r, older_left_out);
    if (!thread) {
      if (!read()) break;
      auto got = read_thread(*r);
      if (!got || !*got) {
        how = got ? outcome::outdated : outcome::failed;
        break;
      }
      read_back = std::move(**got);
      older_left_out = r->conversation.message_count > static_cast<std::int64_t>(read_back.size());
      state.remember_thread(*r, read_back);
      thread = std::span<const std::string>(read_back);
    }
    outbox_row row = r->row;
    row.body = build_bounded_payload(r->conversation, *customer, *thread, older_left_out,
                                     max_payload_bytes_);
    rows.push_back(std::move(row));
  }
  if (reading) {
    if (how != outcome::done)
      abandon_read();
    else if (!end_read())
      how = outcome::failed;
  }
  if (how != outcome::done) {
    state.reset();  // read from the store until the writer hands the next rows
    if (how == outcome::outdated) return std::nullopt;
    return std::vector<outbox_row>{};  // the backend logged why; the publisher tries again
  }
  handed_rows_ += rows.size();
  // A run that stopped at a gap (rows past the bound, or not handed): the rest from the
  // store, or the publisher would take the short answer for the end of the outbox.
  if (rows.size() < limit && rows.back().seq < state.max_seq()) {
    auto rest = fetch_stored(rows.back().seq, limit - rows.size());
    rows.insert(rows.end(), std::make_move_iterator(rest.begin()),
                std::make_move_iterator(rest.end()));
  }
  return rows;
}

}  // namespace sb
