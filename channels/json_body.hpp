// The JSON request body shared by the JSON webhook formats (chat, callback, telegram, Meta,
// X): the Content-Type check and a depth-bounded, UTF-8-validated parse.
#pragma once

#include "core/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace sb {

// "application/json", optionally with parameters; a charset, if given, must be UTF-8 because
// JSON on the wire is UTF-8 (RFC 8259) and we do not transcode. 415 otherwise.
error check_json_content_type(std::optional<std::string_view> header);

// One JSON object, at most 32 levels deep (this bounds the parser against hostile input),
// valid UTF-8. 400 otherwise.
result<boost::json::object> parse_json_object(std::string_view body);

// Any JSON value (a mail provider's event list, a form field holding JSON), as deep as a body
// may be. 400 "<what> is not valid JSON" otherwise.
result<boost::json::value> parse_json_value(std::string_view text, std::string_view what);

}  // namespace sb
