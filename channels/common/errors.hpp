// The refusal every adapter writes when what a provider sent cannot be read. One definition
// for all the channels (it was written thirteen times), so that they cannot drift apart.
#pragma once

#include "core/error.hpp"

#include <string>
#include <utility>

namespace sb {

// errc::malformed (400). `detail` reaches the caller and the log: it names the field that
// could not be read, never the field's value.
inline error malformed(std::string detail) { return {errc::malformed, std::move(detail)}; }

}  // namespace sb
