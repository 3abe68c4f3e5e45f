#include "delivery/curl_worker.hpp"

#include <pthread.h>

namespace sb {

void curl_worker::start(const char* name, long max_host_connections, std::function<void()> loop) {
  if (thread_.joinable()) return;
  stopping_ = false;
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, max_host_connections);
  thread_ = std::thread([name, loop = std::move(loop)] {
    pthread_setname_np(pthread_self(), name);  // top -H, perf, gdb show it
    loop();
  });
}

void curl_worker::stop(const std::function<void()>& after) {
  if (!thread_.joinable()) return;
  stopping_ = true;
  curl_multi_wakeup(multi_);
  thread_.join();
  if (after) after();
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
}

std::function<void()> held_ids::committed(std::vector<std::string> ids) {
  return [b = committed_, ids = std::move(ids)]() mutable {
    mutex_lock lock(b->m);
    b->ids.insert(b->ids.end(), std::make_move_iterator(ids.begin()),
                  std::make_move_iterator(ids.end()));
  };
}

void held_ids::collect() {
  std::vector<std::string> ids;
  {
    mutex_lock lock(committed_->m);
    ids.swap(committed_->ids);
  }
  for (const auto& id : ids) held_.erase(id);
}

}  // namespace sb
