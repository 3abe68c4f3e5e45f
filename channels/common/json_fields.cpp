#include "channels/common/json_fields.hpp"

#include "channels/common/errors.hpp"

#include <fmt/core.h>

namespace sb::json_fields {

const boost::json::value* field(const boost::json::object& obj, std::string_view key) {
  const boost::json::value* v = obj.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

result<std::optional<std::string>> optional_string(const boost::json::object& obj,
                                                   std::string_view key, std::string_view path,
                                                   empty_string empty) {
  const boost::json::value* v = field(obj, key);
  if (v == nullptr) return std::optional<std::string>{};
  if (const boost::json::string* s = v->if_string()) {
    if (s->empty() && empty == empty_string::absent) return std::optional<std::string>{};
    return std::optional<std::string>{std::string(*s)};
  }
  return malformed(fmt::format("field {} must be a string", path));
}

}  // namespace sb::json_fields
