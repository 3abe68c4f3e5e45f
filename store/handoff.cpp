#include "store/handoff.hpp"

#include <algorithm>
#include <iterator>

namespace sb {

namespace {

template <class T>
void move_append(std::vector<T>& to, std::vector<T>& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

void committed_batch::append(committed_batch&& later) {
  if (later.reset) {
    *this = std::move(later);  // what came before is forgotten anyway
    message_bytes = 0;
    for (const auto& r : rows) message_bytes += r.message.size();
    return;
  }
  for (const auto& r : later.rows) message_bytes += r.message.size();
  move_append(rows, later.rows);
  move_append(new_customers, later.new_customers);
  move_append(changed_customers, later.changed_customers);
  move_append(changed_conversations, later.changed_conversations);
  move_append(changed_threads, later.changed_threads);
}

void committed_batch::bound(std::size_t max_rows, std::size_t max_bytes, std::size_t max_changes) {
  if (rows.size() <= max_rows && message_bytes <= max_bytes &&
      changed_customers.size() + changed_conversations.size() + changed_threads.size() <=
          max_changes)
    return;
  *this = {};
  reset = true;
}

void handoff::apply(committed_batch&& b) {
  if (!b.rows.empty()) max_seq_ = std::max(max_seq_, b.rows.back().row.seq);
  if (b.reset) {
    // A merge renumbers threads and joins customers, maybe after some of this very commit's
    // rows were written: none of what it hands over is kept; its rows are read from the store.
    reset();
    return;
  }
  // The customers this commit created, then what it changed: a customer created by one
  // request and changed by a later one of the same commit is forgotten, not kept stale.
  for (auto& c : b.new_customers) remember(std::move(c));
  for (const auto& id : b.changed_customers) {
    young_customers_.erase(id);
    old_customers_.erase(id);
  }
  // A message of the thread changed where it is stored: the cached texts are read again.
  for (const auto& id : b.changed_threads)
    if (const auto it = threads_.find(id); it != threads_.end()) {
      thread_bytes_ -= it->second.bytes;
      threads_.erase(it);
    }
  for (auto& r : b.rows) {
    if (rows_.size() >= limits_.rows || row_bytes_ + r.message.size() > limits_.row_bytes)
      break;  // the rest are read from the store when the cursor reaches them
    row_bytes_ += r.message.size();
    const std::int64_t seq = r.row.seq;
    rows_.insert_or_assign(seq, std::move(r));
  }
  // A handed row shows its conversation as of its message: one closed or reopened since is
  // read from the store, as stored now (this commit's rows too: the change may have come
  // after them).
  for (const auto& id : b.changed_conversations)
    for (auto it = rows_.begin(); it != rows_.end();)
      if (it->second.conversation.id == id) {
        row_bytes_ -= it->second.message.size();
        it = rows_.erase(it);
      } else {
        ++it;
      }
}

std::vector<const committed_row*> handoff::run(std::int64_t after, std::size_t limit) {
  for (auto it = rows_.begin(); it != rows_.end() && it->first <= after;) {
    row_bytes_ -= it->second.message.size();
    it = rows_.erase(it);
  }
  // A rewind (a nack, a return, a full window): rows given once may be confirmed and deleted
  // since, which only the store knows. Until the cursor is past them, the store answers.
  if (after < given_) return {};
  std::vector<const committed_row*> out;
  std::int64_t next = after + 1;
  for (auto it = rows_.begin(); it != rows_.end() && it->first == next && out.size() < limit;
       ++it, ++next)
    out.push_back(&it->second);
  if (!out.empty()) given_ = out.back()->row.seq;
  return out;
}

const customer_view* handoff::customer(const std::string& id) {
  if (const auto it = young_customers_.find(id); it != young_customers_.end()) return &it->second;
  const auto it = old_customers_.find(id);
  if (it == old_customers_.end()) return nullptr;
  // Used again: moved (the node, so the view stays where it is) to the young generation.
  auto node = old_customers_.extract(it);
  const customer_view* view = &node.mapped();
  young_customers_.insert(std::move(node));
  age_customers();
  return view;
}

void handoff::remember(customer_view c) {
  old_customers_.erase(c.id);
  std::string id = c.id;
  young_customers_.insert_or_assign(std::move(id), std::move(c));
  age_customers();
}

void handoff::age_customers() {
  if (young_customers_.size() < std::max<std::size_t>(limits_.customers / 2, 1)) return;
  old_customers_ = std::move(young_customers_);  // the nodes move: pointers stay valid
  young_customers_.clear();
}

std::optional<std::span<const std::string>> handoff::thread(const committed_row& r,
                                                            bool& older_left_out) {
  trim_threads();
  const std::int64_t position = r.conversation.message_count;
  if (position <= 1) {
    older_left_out = false;
    remember_thread(r, {r.message});
    return std::span<const std::string>(&r.message, 1);
  }
  const auto it = threads_.find(r.conversation.id);
  if (it == threads_.end() || it->second.position != position - 1) return std::nullopt;
  cached_thread& t = it->second;
  t.position = position;
  t.messages.push_back(r.message);
  t.bytes += r.message.size();
  thread_bytes_ += r.message.size();
  while (t.messages.size() > thread_limit_) {
    t.bytes -= t.messages.front().size();
    thread_bytes_ -= t.messages.front().size();
    t.messages.erase(t.messages.begin());
  }
  older_left_out = position > static_cast<std::int64_t>(t.messages.size());
  return std::span<const std::string>(t.messages);
}

void handoff::trim_threads() {
  if (thread_bytes_ <= limits_.thread_bytes) return;
  threads_.clear();  // bounded; refilled as messages come
  thread_bytes_ = 0;
}

void handoff::remember_thread(const committed_row& r, const std::vector<std::string>& thread) {
  cached_thread t;
  t.position = r.conversation.message_count;
  t.messages = thread;
  cache_thread(r.conversation.id, std::move(t));
}

void handoff::cache_thread(const std::string& conversation, cached_thread t) {
  t.bytes = 0;
  for (const auto& m : t.messages) t.bytes += m.size();
  if (const auto it = threads_.find(conversation); it != threads_.end()) {
    thread_bytes_ -= it->second.bytes;
    threads_.erase(it);
  }
  if (t.bytes > limits_.thread_bytes) return;
  thread_bytes_ += t.bytes;  // over the bound, trimmed by the next thread() call
  threads_.emplace(conversation, std::move(t));
}

void handoff::reset() {
  rows_.clear();
  row_bytes_ = 0;
  young_customers_.clear();
  old_customers_.clear();
  threads_.clear();
  thread_bytes_ = 0;
}

}  // namespace sb
