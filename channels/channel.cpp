#include "channels/channel.hpp"

#include "core/ascii.hpp"

namespace sb {

std::optional<std::string_view> request_view::header(std::string_view name) const noexcept {
  for (const auto& h : headers)
    if (ascii_iequals(h.name, name)) return h.value;
  return std::nullopt;
}

result<http_answer> adapter::handshake(const request_view&) const {
  return error{errc::method_not_allowed, "this channel type has no GET handshake; use POST"};
}

error adapter::check_head(const request_view&) const { return {}; }

result<parse_result> adapter::parse_verified(const request_view&) const {
  return error{errc::not_found, "this channel type keeps no unreadable deliveries"};
}

}  // namespace sb
