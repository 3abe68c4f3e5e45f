// Reads the config's `broker:`, `replies:` and `skills:` sections (docs/configuration.md). A skill
// is a queue on the broker, so its settings are checked against RabbitMQ's rules here
// (broker/topology.hpp), where the publisher declares it from.
#pragma once

#include "broker/options.hpp"
#include "core/config_fwd.hpp"
#include "replies/options.hpp"
#include "routing/rules.hpp"
#include "routing/settings.hpp"

#include <vector>

namespace sb {

void parse_broker_options(conf::reader& rd, const conf::field& f, broker_options& out);
// The replies queue and its rejected-replies queue are queues on the broker, checked here.
void parse_replies_options(conf::reader& rd, const conf::field& f, replies_options& out);
// The events exchange (broker/event_publisher.hpp); `broker_exchange` is broker.exchange, which
// it must not be (that one is a direct exchange).
void parse_events_options(conf::reader& rd, const conf::field& f, events_options& out,
                          std::string_view broker_exchange);

struct skills_section {
  std::vector<skill_config> skills;  // the entries without errors
  std::vector<skill_ref> named;      // every skill named, for the routes' checks
};

skills_section parse_skills(conf::reader& rd, const conf::field& f);

}  // namespace sb
