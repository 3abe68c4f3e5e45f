// The typed, immutable configuration, assembled from each layer's section (daemon/config.cpp).
// Everything else reads these structs. A reload builds a new `config` and swaps the shared_ptr.
#pragma once

#include "broker/options.hpp"
#include "channels/settings.hpp"
#include "core/time.hpp"
#include "daemon/server_settings.hpp"
#include "replies/channels.hpp"
#include "replies/options.hpp"
#include "routing/rules.hpp"
#include "store/options.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct config {
  std::string file;
  server_config server;
  store_options store;
  broker_options broker;
  replies_options replies;
  events_options events;
  // The channels that send agents' replies (an `outbound:` section), for the store to check a
  // reply against under the config it arrived with.
  std::shared_ptr<const reply_channels> outbound;
  std::vector<channel> channels;
  std::shared_ptr<const routing_table> routing;

  const channel* find_channel(std::string_view name) const noexcept;
};

// Every problem found, each "file:line: key: message"; empty means `cfg` is set.
struct config_load {
  std::optional<config> cfg;
  std::vector<std::string> errors;
};

config_load load_config(const std::string& path);
// `file` names the source in error messages.
config_load parse_config(std::string_view yaml, const std::string& file);

}  // namespace sb
