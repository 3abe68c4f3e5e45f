// What an attempt's outcome means for a reply's delivery row (docs/replies.md, "Retries"):
// sent and failed are final; a retry waits an exponential backoff with jitter, or the
// provider's Retry-After when it asks for longer, and becomes failed once the reply would be
// older than replies.max_age. Pure: the clock and the backoff are parameters.
#pragma once

#include "broker/backoff.hpp"
#include "channels/send.hpp"
#include "store/delivery.hpp"

#include <chrono>

namespace sb {

delivery_update next_step(const delivery_job& job, const send_outcome& outcome, millis now,
                          std::chrono::seconds max_age, backoff& delay);

}  // namespace sb
