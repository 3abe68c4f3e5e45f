// What a layer's settings header names of core/config_reader.hpp, without pulling yaml-cpp
// into everything that includes it.
#pragma once

namespace sb::conf {
class reader;
struct field;
}  // namespace sb::conf
