// The `replies:` section of the config (replies/settings.cpp parses it): where agents' tools
// publish replies and how long one may wait for its delivery (docs/replies.md).
#pragma once

#include <chrono>
#include <string>

namespace sb {

struct replies_options {
  std::string queue = "switchboard.replies";  // the durable queue the daemon consumes
  // Where a reply that can never be taken goes, with the reason in its x-reason header.
  std::string rejected_queue = "switchboard.replies.rejected";
  std::chrono::seconds max_age{24 * 3600};  // an undelivered reply is failed after this
};

}  // namespace sb
