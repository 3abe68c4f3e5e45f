// Store ingest cost as the store grows: appends messages (group-committed in batches, as the
// writer thread does) to a store holding 0, then 10,000, then 100,000 conversations, and
// prints the cost per message at each size. Run: build/release/bench/store_bench [dir]
// The claim it backs (docs/performance.md): appending a message and building its payload
// costs the same with 100,000 stored conversations as with none (indexed lookups, a thread
// read of at most thread_limit rows, no scan of the conversation or the store).
#include "store/sqlite_store.hpp"

#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string_view>

#include <sys/resource.h>

using namespace sb;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t batch = 64;  // requests per transaction, a typical group-commit size

std::shared_ptr<const routing_table> table() {
  auto t = std::make_shared<routing_table>();
  t->skills.push_back({"general", "switchboard.general", "classic", 0, 1});
  t->routes.push_back({std::nullopt, "general", 0, false, 1});
  return t;
}

ingest_request make(const std::shared_ptr<const routing_table>& t, millis at, std::string pid,
                    std::string visitor) {
  inbound_message m;
  m.provider_id = std::move(pid);
  m.sender_name = "Bench Customer";
  m.identities.push_back({"chat", "bench:" + visitor});
  m.identities.push_back({"email", visitor + "@example.com"});
  m.text = "Hello, I have a question about my invoice number 12345, can you help me please?";
  ingest_request r;
  r.channel = "bench";
  r.channel_type = "chat";
  r.received_at = at;
  r.messages.push_back(std::move(m));
  r.routing = t;
  return r;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct cost {
  double wall = 0;  // seconds, fsync included (varies with the disk and its other users)
  double cpu = 0;   // seconds of CPU: the work the store itself does
};

// Commits `reqs` in batches, each batch also deleting the outbox rows of the one before (as
// the publisher's confirms do in production, so the outbox stays small).
cost commit_all(sqlite_store& s, outbox_reader& outbox, std::vector<ingest_request>& reqs,
                std::size_t batch = ::batch) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  std::vector<std::int64_t> confirmed;
  for (std::size_t i = 0; i < reqs.size(); i += batch) {
    std::vector<ingest_request*> ptrs;
    for (std::size_t j = i; j < std::min(reqs.size(), i + batch); ++j) ptrs.push_back(&reqs[j]);
    auto res = s.commit(ptrs, confirmed);
    if (res.failed) throw std::runtime_error("commit failed");
    confirmed.clear();
    for (const auto& row : outbox.fetch(0, 4 * batch)) confirmed.push_back(row.seq);
  }
  s.commit({}, confirmed);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          cpu_seconds() - c0};
}

}  // namespace

// `store_bench --prefill PATH N`: a store at PATH holding N messages (three per conversation,
// empty outbox), for the end-to-end benchmark's "large store" run (scripts/bench.sh).
int prefill(const std::string& path, std::size_t messages) {
  store_options o;
  o.path = path;
  auto opened = sqlite_store::open(o);
  if (!opened) {
    fmt::print(stderr, "cannot open {}: {}\n", path, opened.error().detail);
    return 1;
  }
  auto reader = open_sqlite_outbox_reader(o.path, o.thread_limit, o.max_payload_bytes);
  if (!reader) return 1;
  const auto t = table();
  millis now = 1'790'000'000'000;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < messages;) {
    std::vector<ingest_request> fill;
    for (; fill.size() < 3000 && done < messages; ++done)
      fill.push_back(make(t, now++, fmt::format("p-{}", done), fmt::format("p{}", done / 3)));
    commit_all(**opened, **reader, fill, 1000);
  }
  fmt::print("prefilled {} messages into {} in {:.0f} s ({:.0f} MB)\n", messages, path,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
             static_cast<double>(fs::file_size(path)) / 1e6);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--prefill")
    return prefill(argv[2], std::stoul(argv[3]));
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "sb-store-bench";
  fs::remove_all(dir);
  fs::create_directories(dir);
  store_options o;
  o.path = (dir / "bench.db").string();
  o.max_backlog = 100'000'000;
  auto opened = sqlite_store::open(o);
  if (!opened) {
    fmt::print(stderr, "cannot open store: {}\n", opened.error().detail);
    return 1;
  }
  auto& s = **opened;
  auto reader = open_sqlite_outbox_reader(o.path, o.thread_limit, o.max_payload_bytes);
  if (!reader) return 1;
  auto& outbox = **reader;
  const auto t = table();
  std::mt19937 rng(42);
  millis now = 1'795'000'000'000;
  std::size_t customers = 0;
  std::size_t seq = 0;

  fmt::print("{:>14} {:>9} | {:>13} {:>13} | {:>13} {:>13} | {:>8}\n", "conversations",
             "messages", "new: wall us", "new: cpu us", "follow: wall", "follow: cpu", "db MB");
  for (const std::size_t target : {std::size_t{0}, std::size_t{10'000}, std::size_t{100'000}}) {
    // Grow the store to `target` conversations (one customer each, three messages each).
    while (customers < target) {
      std::vector<ingest_request> fill;
      for (std::size_t i = 0; i < 1000 && customers < target; ++i, ++customers)
        for (int k = 0; k < 3; ++k)
          fill.push_back(make(t, now++, fmt::format("f-{}", seq++), fmt::format("c{}", customers)));
      commit_all(s, outbox, fill);
    }
    // Measure: 2,000 messages from new customers, then 2,000 follow-ups to random existing
    // customers (to this round's new ones when the store was empty).
    std::vector<ingest_request> fresh, follow;
    for (int i = 0; i < 2000; ++i)
      fresh.push_back(make(t, now++, fmt::format("n-{}", seq++), fmt::format("new{}-{}", target, i)));
    for (int i = 0; i < 2000; ++i) {
      const bool empty = customers == 0;
      const std::size_t c =
          std::uniform_int_distribution<std::size_t>(0, (empty ? 2000 : customers) - 1)(rng);
      const std::string visitor =
          empty ? fmt::format("new{}-{}", target, c) : fmt::format("c{}", c);
      follow.push_back(make(t, now++, fmt::format("u-{}", seq++), visitor));
    }
    const cost a = commit_all(s, outbox, fresh);
    const cost b = commit_all(s, outbox, follow);
    const auto us = [](double secs) { return secs / 2000 * 1e6; };
    fmt::print("{:>14} {:>9} | {:>13.1f} {:>13.1f} | {:>13.1f} {:>13.1f} | {:>8.1f}\n", target,
               seq, us(a.wall), us(a.cpu), us(b.wall), us(b.cpu),
               static_cast<double>(fs::file_size(o.path)) / 1e6);
  }
  fs::remove_all(dir);
  return 0;
}
