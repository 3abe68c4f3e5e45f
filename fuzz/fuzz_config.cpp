// The config loader under libFuzzer: the input is the text of a config file, given to
// parse_config as `switchboard --check-config` and a SIGHUP reload give it. Its contract
// (daemon/config.hpp) is checked on every input: either a config or a list of errors, never
// both and never neither, and a loaded config has an adapter for every channel.
// parse_config reads the files a config names (secret_file, api_tokens_file, customer_in
// lists): scripts/fuzz.sh runs this target with stdin from /dev/null, so a path such as
// /dev/stdin cannot block it.
#include "daemon/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const sb::config_load r = sb::parse_config(yaml, "fuzz.yaml");
  if (r.cfg.has_value() == !r.errors.empty()) {
    std::fprintf(stderr, "fuzz: parse_config returned %s a config and %zu error(s)\n",
                 r.cfg ? "both" : "neither", r.errors.size());
    std::abort();
  }
  if (r.cfg) {
    for (const sb::channel& c : r.cfg->channels) {
      if (c.type == nullptr || c.handler == nullptr) {
        std::fprintf(stderr, "fuzz: channel %s was loaded without a type or adapter\n",
                     c.config.name.c_str());
        std::abort();
      }
    }
  }
  if (std::getenv("SB_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "fuzz.yaml: %s, %zu error(s)\n", r.cfg ? "loaded" : "refused",
                 r.errors.size());
    for (const auto& e : r.errors) std::fprintf(stderr, "  %s\n", e.c_str());
  }
  return 0;
}
