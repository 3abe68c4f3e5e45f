// Reads the config's `store:` section (docs/configuration.md) into store_options.
#pragma once

#include "core/config_fwd.hpp"
#include "store/options.hpp"

namespace sb {

void parse_store_options(conf::reader& rd, const conf::field& f, store_options& out);
// The top-level `retention:` section.
void parse_retention_options(conf::reader& rd, const conf::field& f, retention_options& out);

// The top-level `attachments:` section.
void parse_attachment_options(conf::reader& rd, const conf::field& f, attachment_options& out);

}  // namespace sb
