#include "channels/settings.hpp"

#include "core/config_reader.hpp"

#include <fmt/core.h>

#include <limits>
#include <utility>

namespace sb {
namespace {

void parse_channel(conf::reader& rd, const conf::field& item, channels_section& out) {
  conf::mapping m(rd.diag(), item);
  if (!m.ok()) return;
  const std::size_t errors_before = rd.diag().count();
  channel_config cc;
  cc.line = item.line;

  if (auto v = m.require("name")) {
    if (auto name = rd.text(*v)) {
      if (!conf::is_safe_name(*name) || conf::is_dot_segment(*name)) {
        rd.error(*v, fmt::format("\"{}\" must be letters, digits, '.', '_' or '-' (it is the "
                                 "URL path /v1/webhooks/<name>)",
                                 *name));
      } else if (auto seen = out.lines.find(*name); seen != out.lines.end()) {
        rd.error(*v, fmt::format("duplicate channel name \"{}\" (first at line {})", *name,
                                 seen->second));
      } else {
        out.lines.emplace(*name, item.line);
        cc.name = std::move(*name);
      }
    }
  }

  const channel_type_info* type = nullptr;
  if (auto v = m.require("type", fmt::format("one of: {}", known_channel_types()))) {
    if (auto t = rd.text(*v)) {
      type = find_channel_type(*t);
      if (type == nullptr)
        rd.error(*v, fmt::format("unknown channel type \"{}\"; known types: {}", *t,
                                 known_channel_types()));
      else
        cc.type = std::move(*t);
    }
  }
  if (!cc.name.empty() && type != nullptr) out.types.emplace(cc.name, cc.type);

  const auto secret = m.take("secret");
  const auto secret_file = m.take("secret_file");
  if (secret && secret_file) {
    rd.error(*secret_file, "give either secret or secret_file, not both");
  } else if (secret) {
    for (auto& [where, text] : rd.string_list(*secret, "the list of secrets is empty"))
      cc.secrets.push_back(std::move(text));
  } else if (secret_file) {
    if (auto path = rd.non_empty_text(*secret_file)) {
      std::string problem;
      if (auto secrets = conf::read_secret_file(*path, problem))
        cc.secrets = std::move(*secrets);
      else
        rd.error(*secret_file, problem);
    }
  } else if (type != nullptr && type->needs_secret) {
    rd.diag().add(
        item.line, fmt::format("{}.secret", item.path),
        fmt::format("channel type {} needs a secret: add secret_file: <path> (or secret: <value>)",
                    type->type));
  }

  if (auto v = m.take("max_body_bytes"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max())) cc.max_body_bytes = *n;
  if (auto v = m.take("tolerance"))
    if (auto d = rd.duration_seconds(*v)) cc.tolerance = *d;

  if (type != nullptr)
    for (const auto key : type->option_keys)
      if (auto v = m.take(key))
        if (auto text = rd.text(*v)) cc.options.emplace(std::string(key), std::move(*text));
  m.finish(type != nullptr);

  // Build the adapter only from a clean entry: its complaints about a half-read config would
  // only repeat the errors above.
  if (type == nullptr || rd.diag().count() != errors_before) return;
  if (type->make == nullptr) {
    rd.diag().add(item.line, item.path, fmt::format("channel type {} has no adapter", type->type));
    return;
  }
  auto made = type->make(cc);
  if (!made) {
    rd.diag().add(item.line, item.path, made.error().detail);
    return;
  }
  channel ch;
  ch.type = type;
  ch.handler = std::shared_ptr<const adapter>(std::move(*made));
  ch.config = std::move(cc);
  out.channels.push_back(std::move(ch));
}

}  // namespace

std::string known_channel_types() {
  std::vector<std::string> names;
  for (const auto& t : channel_types()) names.emplace_back(t.type);
  return conf::join(names);
}

channels_section parse_channels(conf::reader& rd, const conf::field& f) {
  channels_section out;
  auto items = rd.list(f);
  if (!items) return out;
  if (items->empty()) rd.error(f, "add at least one channel");
  for (const auto& item : *items) parse_channel(rd, item, out);
  return out;
}

}  // namespace sb
