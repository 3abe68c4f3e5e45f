// Reads the config's `schedules:` and `routes:` sections (docs/configuration.md), with every
// condition checked against the channels, skills and schedules the file declares.
#pragma once

#include "channels/settings.hpp"
#include "core/config_fwd.hpp"
#include "routing/rules.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sb {

// A skill as routes see it. Named even when its entry has errors, so routes naming it do not
// pile "unknown skill" errors on top of the real one.
struct skill_ref {
  std::string name;
  std::optional<int> max_priority;  // unset when its own value was invalid
};

// An identity list file (routing/identity_list.hpp) named by `f`: nullptr after an error,
// reported on `f` (the file's problem, or each bad line). At most 64 MiB.
std::shared_ptr<const identity_list> read_identity_list(conf::reader& rd, const conf::field& f,
                                                        const std::string& path);

// The skill a default route is suggested with in error messages.
std::string default_skill_hint(const std::vector<skill_ref>& skills);

struct schedules_section {
  std::map<std::string, int, std::less<>> lines;  // every schedule named, even invalid
  std::vector<std::shared_ptr<const schedule>> valid;
};

schedules_section parse_schedules(conf::reader& rd, const conf::field& f);

// What routes may refer to.
struct route_refs {
  const channels_section& channels;
  const std::vector<skill_ref>& skills;
  const schedules_section& schedules;
};

std::vector<route> parse_routes(conf::reader& rd, const conf::field& f, const route_refs& refs);

}  // namespace sb
