#include "core/error.hpp"

#include <array>
#include <ostream>
#include <stdexcept>

namespace sb {
namespace {

constexpr std::array<status_entry, 17> table{{
    {errc::ok, 200, "ok", "ok"},
    {errc::malformed, 400, "malformed", "the request could not be parsed"},
    {errc::bad_signature, 401, "bad_signature", "missing or invalid signature"},
    {errc::unauthorized, 401, "unauthorized", "missing or invalid bearer token"},
    {errc::unknown_channel, 404, "unknown_channel", "no channel with that name"},
    {errc::not_found, 404, "not_found", "no such resource"},
    {errc::method_not_allowed, 405, "method_not_allowed", "method not allowed on this resource"},
    {errc::conflict, 409, "conflict", "the idempotency key was used for another request"},
    {errc::slow_client, 408, "timeout", "the request was not received in time"},
    {errc::too_large, 413, "too_large", "the request body is too large"},
    {errc::unsupported_media_type, 415, "unsupported_media_type", "unsupported content type"},
    {errc::undeliverable, 422, "undeliverable", "no channel can deliver this reply"},
    {errc::window_closed, 422, "window_closed",
     "the provider no longer takes a reply to this customer on this channel"},
    {errc::headers_too_large, 431, "headers_too_large", "the request headers are too large"},
    {errc::rate_limited, 429, "rate_limited", "too many requests"},
    {errc::unavailable, 503, "unavailable", "cannot accept messages right now; retry later"},
    {errc::internal, 500, "internal", "internal error"},
}};

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "switchboard"; }
  std::string message(int ev) const override {
    return std::string(describe(static_cast<errc>(ev)).detail);
  }
};

}  // namespace

std::span<const status_entry> status_table() noexcept { return table; }

const status_entry& describe(errc e) noexcept {
  for (const auto& entry : table)
    if (entry.code == e) return entry;
  return table.back();  // errc::internal
}

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::ostream& operator<<(std::ostream& os, const error& e) {
  os << describe(e.code).name;
  if (!e.detail.empty()) os << ": " << e.detail;
  return os;
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::system_error(make_error_code(e.code), e.detail);
}

}  // namespace sb
