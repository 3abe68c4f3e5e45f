// Reads the config's `channels:` section (docs/configuration.md): each entry's name, type,
// secrets and the options its type declares, and builds the type's adapter from a clean entry.
#pragma once

#include "channels/channel.hpp"
#include "core/config_fwd.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sb {

// A configured channel with its adapter.
struct channel {
  channel_config config;
  const channel_type_info* type = nullptr;
  std::shared_ptr<const adapter> handler;
};

struct channels_section {
  std::vector<channel> channels;  // the entries without errors
  // Every channel named, even one whose entry has other errors, so routes naming it do not
  // pile "unknown channel" errors on top of the real one; and the types of those with a known
  // type, for the routes' channel_type checks.
  std::map<std::string, int, std::less<>> lines;          // name -> line
  std::map<std::string, std::string, std::less<>> types;  // name -> type
};

channels_section parse_channels(conf::reader& rd, const conf::field& f);

// "callback, chat, ..." for error messages.
std::string known_channel_types();

}  // namespace sb
