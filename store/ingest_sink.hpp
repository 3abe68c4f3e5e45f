// Where the request pipeline hands what it accepted: the seam between the HTTP side and the
// store. The daemon's sink is the group writer (store/writer.hpp), which commits through the
// store backend (store/store.hpp); fuzz_http drives the real pipeline with a sink that stores
// nothing.
#pragma once

#include "core/error.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>

namespace sb {

class ingest_sink {
 public:
  using callback = std::function<void(result<ingest_outcome>)>;

  virtual ~ingest_sink() = default;
  // `done` runs exactly once, when the request's fate is durable (or known to have failed).
  virtual void submit(ingest_request req, callback done) = 0;
  // A signature used by a request that stores nothing, to be refused again after a restart.
  virtual void remember(seen_signature s) = 0;
  // Unpublished messages, for the backlog bound (store.max_backlog).
  virtual std::int64_t backlog() const noexcept = 0;
};

}  // namespace sb
