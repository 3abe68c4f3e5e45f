// One error enum for the whole daemon, its std::error_category, and the one table that maps
// each code to an HTTP status and a machine-readable name. Callers see `detail` only when it
// describes their own input; internal causes (SQLite text, broker replies) go to the log.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace sb {

enum class errc {
  ok = 0,
  malformed,               // 400 body or query cannot be parsed / required field missing
  bad_signature,           // 401 missing, wrong, expired or replayed signature
  unauthorized,            // 401 missing or wrong bearer token (read API)
  unknown_channel,         // 404 no channel with that name
  not_found,               // 404 no such route or resource
  method_not_allowed,      // 405
  conflict,                // 409 an idempotency key already used for something else
  slow_client,             // 408 read timeout
  too_large,               // 413 body over the channel's limit
  unsupported_media_type,  // 415 wrong Content-Type
  undeliverable,           // 422 a reply no channel of the customer's can deliver
  window_closed,           // 422 a reply outside the provider's window for it
  headers_too_large,       // 431
  rate_limited,            // 429
  unavailable,             // 503 cannot commit now (store or backlog); retry later
  internal,                // 500 a bug; never for transient conditions
};

const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

struct status_entry {
  errc code;
  unsigned http_status;
  std::string_view name;    // the JSON "error" field
  std::string_view detail;  // generic human sentence when no specific detail is safe to show
};

// The single table: errc -> HTTP status, error name, generic detail.
std::span<const status_entry> status_table() noexcept;
const status_entry& describe(errc e) noexcept;

// An error value on the data path (no exceptions there). `detail` is safe to show to the caller.
struct error {
  error() = default;
  error(errc c, std::string d = {}) : code(c), detail(std::move(d)) {}
  errc code = errc::ok;
  std::string detail;
};

// "bad_signature: timestamp outside the tolerance" (tests and logs).
std::ostream& operator<<(std::ostream& os, const error& e);

template <class T>
using result = boost::system::result<T, error>;

// `SB_TRY(name, expr);` declares `auto name = expr;`, a result<T>, and returns its error from the
// enclosing function (which returns an error or a result<U>) when it holds one; after it, name
// holds a value. C++ has no `?` operator; this is the one macro that stands in for it. It is two
// statements: write it as a statement of its own, never as the body of an if or a loop.
#define SB_TRY(name, expr) \
  auto name = (expr);      \
  if (!name) return name.error()

// Required by boost::system::result<T, error>::value() when it holds an error.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace sb

template <>
struct std::is_error_code_enum<sb::errc> : std::true_type {};
