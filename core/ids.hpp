// Identifiers: UUID version 7 (RFC 9562): 48-bit Unix milliseconds then random bits, so ids
// sort by creation time, which keeps SQLite's primary-key b-trees append-mostly.
#pragma once

#include "core/time.hpp"

#include <string>

namespace sb {

std::string new_id(millis at);
inline std::string new_id() { return new_id(now_ms()); }

}  // namespace sb
