// Two readers of a provider's JSON object for the adapters that name each field by the path
// they build themselves (chat, callback, telegram; the Meta types and X use object_reader,
// json_reader.hpp). Absent and null are the same: senders serialize missing optionals either
// way. A refusal names the field by `path`, never its value.
#pragma once

#include "core/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sb::json_fields {

// The value of `key`; nullptr when absent or null.
const boost::json::value* field(const boost::json::object& obj, std::string_view key);

enum class empty_string { absent, kept };

// The string at `key`; nullopt when absent or null (or empty, unless `empty` says kept).
// errc::malformed "field <path> must be a string" when it is something else.
result<std::optional<std::string>> optional_string(const boost::json::object& obj,
                                                   std::string_view key, std::string_view path,
                                                   empty_string empty = empty_string::absent);

}  // namespace sb::json_fields
