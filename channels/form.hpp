// application/x-www-form-urlencoded bodies (Mailgun routes, Twilio): the decoded fields in the
// order they were sent ('+' is a space, %XX escapes decoded), parsed with Boost.URL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

struct form_field {
  std::string name;
  std::string value;
};

// The fields of a form, in the order they were sent, read-only, with an index of their names
// sorted once when the form is made: a lookup costs O(log n) comparisons whatever the number of
// fields (Twilio looks up some 200 names, and a body of 4 MiB holds hundreds of thousands of
// fields), and no choice of names can make it slower, as colliding hashes could.
class form {
 public:
  form() = default;
  explicit form(std::vector<form_field> fields);

  using const_iterator = std::vector<form_field>::const_iterator;
  const_iterator begin() const noexcept { return fields_.begin(); }
  const_iterator end() const noexcept { return fields_.end(); }
  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const form_field& operator[](std::size_t i) const { return fields_[i]; }

  // The value of the first field with that name, if any.
  const std::string* first(std::string_view name) const noexcept;

 private:
  std::vector<form_field> fields_;
  std::vector<std::uint32_t> by_name_;  // positions in fields_, by name, then by position
};

// nullopt when the body is not valid urlencoded text (a bad %-escape, say).
std::optional<form> parse_form(std::string_view body);

// The first field with that name, if any.
const std::string* form_value(const form& f, std::string_view name) noexcept;

// Fields as an application/x-www-form-urlencoded body (the send APIs of Twilio and Mailgun):
// unreserved characters kept, a space as '+', the rest %XX-escaped.
std::string form_encode(const std::vector<std::pair<std::string_view, std::string_view>>& fields);

}  // namespace sb
