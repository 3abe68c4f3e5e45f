// The Content-Type check of the adapters whose body is text of one media type (JSON, a form
// post), so that every such channel answers a wrong type with the same 415 and the same words.
#pragma once

#include "core/error.hpp"

#include <optional>
#include <string_view>

namespace sb {

// `media_type` (any case), optionally with parameters; a charset, if given, must be UTF-8
// because we do not transcode. errc::unsupported_media_type (415) otherwise: "Content-Type must
// be <media_type>" or "Content-Type charset must be utf-8".
error check_media_type(std::optional<std::string_view> header, std::string_view media_type);

}  // namespace sb
