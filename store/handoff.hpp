// What a commit tells the publisher's reader, so that a payload is assembled from what the
// writer already knew instead of read back from the store (four lookups per row before).
//
// The writer hands over, per commit, the outbox rows it wrote with the conversation as of each
// message, the message's JSON, the customers it created (their whole view: it wrote all of
// it) and what it changed that a payload shows: customers whose name, identities or claims
// changed, conversations closed or reopened. A merge moves messages, renumbers a thread and
// joins customers: the batch then says `reset`, and everything handed so far is forgotten.
//
// The outbox stays the truth: a handed row is used only while the rows from the reader's
// cursor on are all handed ones, in seq order with no gap (the outbox's seq is AUTOINCREMENT:
// one commit's rows are consecutive). Anything else (a rewind after a nack, rows from before
// a restart, a row whose conversation changed since, more rows than the bound below) is read
// from the store, as every row was before. Pure: no I/O, no locks.
#pragma once

#include "store/outbox.hpp"
#include "store/payload.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb {

// One outbox row as the writer committed it.
struct committed_row {
  outbox_row row;                  // its body empty: the reader assembles the payload
  conversation_view conversation;  // as of this message: message_count is its position
  std::string customer_id;
  std::string message;  // the message's JSON as stored
};

struct committed_batch {
  std::vector<committed_row> rows;                 // in seq order
  std::vector<customer_view> new_customers;        // created by this commit, as stored
  std::vector<std::string> changed_customers;      // name, identities or claims changed
  std::vector<std::string> changed_conversations;  // closed or reopened
  std::vector<std::string> changed_threads;        // a stored message changed (a reply's status)
  std::size_t message_bytes = 0;                   // of rows' messages (kept by append)
  bool reset = false;  // a merge, or a write the batch does not describe: forget everything

  bool empty() const noexcept {
    return rows.empty() && new_customers.empty() && changed_customers.empty() &&
           changed_conversations.empty() && changed_threads.empty() && !reset;
  }
  // `later` committed after this batch: one batch saying what both say.
  void append(committed_batch&& later);
  // What append() holds at most while nobody applies it (the publisher does not read the
  // outbox during a broker outage): past `max_rows` rows, `max_bytes` of messages or
  // `max_changes` changes it becomes a reset, which drops all, and the store answers.
  void bound(std::size_t max_rows, std::size_t max_bytes, std::size_t max_changes);
};

class handoff {
 public:
  // What the reader holds at most (about 30 MiB in all): beyond it, rows are read from the
  // store as before. Rows wait only while the publisher is behind (a broker outage); the
  // caches serve customers and conversations that write again within seconds.
  struct limits {
    std::size_t rows = 8192;              // handed rows waiting to be read
    std::size_t row_bytes = 12u << 20;    // their messages' bytes
    std::size_t customers = 16384;        // customer views kept
    std::size_t thread_bytes = 8u << 20;  // thread texts kept
  };
  explicit handoff(std::size_t thread_limit) : handoff(thread_limit, limits{}) {}
  handoff(std::size_t thread_limit, limits l) : thread_limit_(thread_limit), limits_(l) {}

  // A commit's batch, in commit order. Rows past the bound are not kept (a gap: read from the
  // store when the cursor gets there).
  void apply(committed_batch&& b);

  // The handed rows with seq after+1, after+2, ... (at most `limit`): empty unless the row
  // after `after` is a handed one not given before. Forgets rows at or below `after` (the
  // cursor is past them). A row is given once: a cursor rewound below it reads the store.
  std::vector<const committed_row*> run(std::int64_t after, std::size_t limit);
  // Rows up to `seq` were given by a read of the store: as for run(), a rewind below them reads
  // the store again.
  void given(std::int64_t seq) noexcept { given_ = std::max(given_, seq); }

  // The customer as last seen (handed, or read and remembered), nullptr when unknown. A
  // customer found is kept among the recent ones. The pointer is valid until the next call of
  // customer(), remember(), apply() or reset().
  const customer_view* customer(const std::string& id);
  void remember(customer_view c);

  // The thread of `r` (stored message JSON texts, oldest first, ending with its message) when
  // it is known without a read: its first message, or the cached thread of its conversation
  // up to the message before it. Either way the conversation's cached thread becomes this one.
  // `older_left_out` is set when messages before the returned ones exist. The span (into the
  // cache, or into `r` for a first message) is valid until the next call of a non-const
  // member, and while `r` lives.
  std::optional<std::span<const std::string>> thread(const committed_row& r, bool& older_left_out);
  // A thread read from the store for `r` (oldest first, ending with its message): cached.
  void remember_thread(const committed_row& r, const std::vector<std::string>& thread);

  // Forget everything (an inconsistency met while reading, or a reset batch).
  void reset();

  std::size_t pending_rows() const noexcept { return rows_.size(); }
  // The highest seq ever handed (kept or not): a run that ends below it stopped at a gap, and
  // the outbox holds more rows than it gave.
  std::int64_t max_seq() const noexcept { return max_seq_; }

 private:
  struct cached_thread {
    std::int64_t position = 0;          // of its last message
    std::vector<std::string> messages;  // at most thread_limit, oldest first
    std::size_t bytes = 0;
  };
  void cache_thread(const std::string& conversation, cached_thread t);
  void trim_threads();  // empties the thread cache when it is over its bound

  const std::size_t thread_limit_;
  const limits limits_;
  std::map<std::int64_t, committed_row> rows_;  // by seq
  std::size_t row_bytes_ = 0;
  std::int64_t max_seq_ = 0;
  std::int64_t given_ = 0;  // the highest seq run() gave
  // Customer views in two generations, at most limits.customers in all: new and recently used
  // ones in young_; when it holds half the limit it becomes old_ and the previous old_ is
  // dropped. The views used within the last half-limit of new ones stay: no cliff where the
  // whole cache empties at once.
  std::unordered_map<std::string, customer_view> young_customers_;
  std::unordered_map<std::string, customer_view> old_customers_;
  void age_customers();
  std::unordered_map<std::string, cached_thread> threads_;
  std::size_t thread_bytes_ = 0;
};

}  // namespace sb
