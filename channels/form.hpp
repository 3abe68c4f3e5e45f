// application/x-www-form-urlencoded bodies (Mailgun routes, Twilio): the decoded fields in the
// order they were sent ('+' is a space, %XX escapes decoded), parsed with Boost.URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct form_field {
  std::string name;
  std::string value;
};

using form = std::vector<form_field>;

// nullopt when the body is not valid urlencoded text (a bad %-escape, say).
std::optional<form> parse_form(std::string_view body);

// The first field with that name, if any.
const std::string* form_value(const form& f, std::string_view name) noexcept;

}  // namespace sb
