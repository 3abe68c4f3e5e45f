// What the delivery engine (engine.hpp) and the media fetcher (media_fetcher.hpp) share: a
// thread of their own around a libcurl multi handle, and the work items (by id) whose outcome
// is handed to the group writer and not committed yet, which are not started again meanwhile.
#pragma once

#include "core/mutex.hpp"
#include "delivery/http_transfer.hpp"

#include <curl/curl.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sb {

class curl_worker {
 public:
  ~curl_worker() { stop({}); }
  // Runs `loop` on a new thread named `name`, with a new multi handle (multi()); the loop runs
  // until stopping().
  void start(const char* name, long max_host_connections, std::function<void()> loop);
  // Wakes the loop (curl_multi_poll returns), joins it, runs `after` (a last hand-over) and
  // frees the multi handle. Nothing when not started.
  void stop(const std::function<void()>& after);
  bool stopping() const noexcept { return stopping_.load(); }
  CURLM* multi() const noexcept { return multi_; }

 private:
  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

// The requests in flight on a worker's multi handle, each with the work item it is for (an
// Item with a std::unique_ptr<http_transfer> `transfer`). The worker thread's alone.
template <class Item>
class requests_in_flight {
 public:
  explicit requests_in_flight(const curl_worker& w) : worker_(w) {}
  // Starts item->transfer; false (the item left with the caller) when libcurl cannot.
  bool add(std::unique_ptr<Item>& item) {
    CURL* e = item->transfer ? item->transfer->handle() : nullptr;
    if (e == nullptr || curl_multi_add_handle(worker_.multi(), e) != CURLM_OK) return false;
    items_.emplace(e, std::move(item));
    return true;
  }
  // Each finished request, taken off the handle: on_done(std::unique_ptr<Item>, CURLcode).
  template <class OnDone>
  void each_done(OnDone on_done) {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(worker_.multi(), &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      const auto it = items_.find(m->easy_handle);
      if (it == items_.end()) continue;
      const CURLcode result = m->data.result;  // `m` is not valid once the handle is removed
      std::unique_ptr<Item> item = std::move(it->second);
      items_.erase(it);
      curl_multi_remove_handle(worker_.multi(), item->transfer->handle());
      on_done(std::move(item), result);
    }
  }
  // Abandons them all (at the stop); returns how many there were.
  std::size_t abandon() {
    for (auto& [easy, item] : items_) curl_multi_remove_handle(worker_.multi(), easy);
    const std::size_t n = items_.size();
    items_.clear();
    return n;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  const curl_worker& worker_;
  std::map<CURL*, std::unique_ptr<Item>> items_;
};

// Ids held from the moment their work starts until the writer commits its outcome. All calls
// but the callback that committed() returns are the worker thread's.
class held_ids {
 public:
  bool contains(const std::string& id) const { return held_.contains(id); }
  void hold(const std::string& id) { held_.insert(id); }
  std::size_t size() const noexcept { return held_.size(); }
  // Hands `updates` to `record` (the writer) with the callback that, once they are committed,
  // lets their ids (id_of(update)) go at the next collect().
  template <class Update, class IdOf, class Record>
  void hand_over(std::vector<Update>& updates, IdOf id_of, const Record& record) {
    if (updates.empty()) return;
    std::vector<std::string> ids;
    for (const auto& u : updates) ids.push_back(id_of(u));
    record(std::move(updates), committed(std::move(ids)));
    updates.clear();
  }
  // Lets go the ids whose outcomes the writer committed: they may be read as due again.
  void collect();

 private:
  struct box {
    mutex m;
    std::vector<std::string> ids SB_GUARDED_BY(m);
  };
  std::function<void()> committed(std::vector<std::string> ids);
  std::set<std::string> held_;
  std::shared_ptr<box> committed_ = std::make_shared<box>();
};

}  // namespace sb
