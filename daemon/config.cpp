// The config loader: YAML text in, a typed `config` or every problem found out. Each layer
// parses its own section (core/config_reader.hpp names where); this file only assembles them,
// in dependency order: routes refer to channels, skills and schedules.
#include "daemon/config.hpp"

#include "broker/settings.hpp"
#include "core/config_reader.hpp"
#include "routing/settings.hpp"
#include "store/settings.hpp"

#include <fmt/core.h>

#include <cstring>
#include <exception>
#include <limits>

namespace sb {

const channel* config::find_channel(std::string_view name) const noexcept {
  for (const auto& c : channels)
    if (c.config.name == name) return &c;
  return nullptr;
}

namespace {

void load_root(conf::reader& rd, const conf::field& root, config& cfg, routing_table& table) {
  conf::mapping m(rd.diag(), root);
  if (!m.ok()) return;
  if (auto f = m.take("server")) parse_server_config(rd, *f, cfg.server);
  if (auto f = m.take("store")) parse_store_options(rd, *f, cfg.store);
  if (auto f = m.take("retention")) parse_retention_options(rd, *f, cfg.store.retention);
  if (auto f = m.take("attachments")) parse_attachment_options(rd, *f, cfg.store.attachments);
  if (auto f = m.take("broker")) parse_broker_options(rd, *f, cfg.broker);
  if (auto f = m.take("replies")) parse_replies_options(rd, *f, cfg.replies);
  if (auto f = m.take("events")) parse_events_options(rd, *f, cfg.events, cfg.broker.exchange);
  channels_section channels;
  if (auto f = m.require("channels", "add at least one channel under channels:"))
    channels = parse_channels(rd, *f);
  skills_section skills;
  if (auto f = m.require("skills", "add at least one skill, e.g. \"- name: general\""))
    skills = parse_skills(rd, *f);
  schedules_section schedules;
  if (auto f = m.take("schedules")) schedules = parse_schedules(rd, *f);
  if (auto f = m.require("routes", fmt::format("add at least the default route \"- skill: {}\"",
                                               default_skill_hint(skills.named))))
    table.routes = parse_routes(rd, *f, route_refs{channels, skills.named, schedules});
  m.finish();
  cfg.channels = std::move(channels.channels);
  table.skills = std::move(skills.skills);
  table.schedules = std::move(schedules.valid);
}

}  // namespace

config_load parse_config(std::string_view yaml, const std::string& file) {
  conf::diagnostics diag(file);
  conf::reader rd(diag);
  config cfg;
  cfg.file = file;
  routing_table table;
  if (auto root = conf::load_document(yaml, diag)) {
    try {
      load_root(rd, *root, cfg, table);
    } catch (const std::exception& e) {
      // Nothing here should throw; if yaml-cpp or an adapter does, say so rather than abort.
      diag.add(0, "", fmt::format("internal error while loading: {}", e.what()));
    }
  }
  config_load out;
  if (diag.count() == 0) {
    cfg.routing = std::make_shared<const routing_table>(std::move(table));
    cfg.outbound = std::make_shared<const reply_channels>(sending_channels(cfg.channels));
    out.cfg = std::move(cfg);
  }
  out.errors = diag.take();
  return out;
}

config_load load_config(const std::string& path) {
  int err = 0;
  auto text = conf::read_file_prefix(path, std::numeric_limits<std::size_t>::max() - 1, err);
  if (!text) {
    config_load out;
    out.errors.push_back(fmt::format("{}: cannot read the file: {}", path, std::strerror(err)));
    return out;
  }
  return parse_config(*text, path);
}

}  // namespace sb
