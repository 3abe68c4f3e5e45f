// JSON text written directly, for the hot paths that would otherwise build a Boost.JSON value
// only to serialize it (the queue payload's conversation and customer, once per message).
#pragma once

#include <string>
#include <string_view>

namespace sb {

// Appends `s` as a JSON string, quotes included, escaped byte for byte as Boost.JSON's
// serializer escapes it: \" \\ \b \f \n \r \t, other control characters as \u00xx; every
// other byte (UTF-8 included) as it is.
void append_json_string(std::string& out, std::string_view s);

}  // namespace sb
