// Identifiers: UUID version 7 (RFC 9562): 48-bit Unix milliseconds then random bits, so ids
// sort by creation time, which keeps SQLite's primary-key b-trees append-mostly.
#pragma once

#include "core/time.hpp"

#include <string>
#include <string_view>

namespace sb {

std::string new_id(millis at);
inline std::string new_id() { return new_id(now_ms()); }

// True for an id as new_id() writes it (lower-case hex, version 7, variant 10xx): what ids
// from outside (a path, a reply) must look like before they are looked up.
bool is_id(std::string_view id) noexcept;

}  // namespace sb
