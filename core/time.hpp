// Wall-clock time as milliseconds since the Unix epoch, and RFC 3339 text in UTC.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

using millis = std::int64_t;  // milliseconds since 1970-01-01T00:00:00Z

millis now_ms() noexcept;

// "2026-11-22T10:00:00.123Z" (milliseconds shown only when non-zero).
std::string format_time(millis t);

// Accepts RFC 3339 date-times: "2026-11-22T10:00:00Z", fractional seconds, "+02:00" offsets.
std::optional<millis> parse_time(std::string_view s) noexcept;

// "500ms", "10s", "5m", "2h", "7d" (a bare number is refused: the unit must be explicit).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) noexcept;

}  // namespace sb
