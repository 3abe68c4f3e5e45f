#include "channels/settings.hpp"

#include "core/config_reader.hpp"

#include <boost/url/parse.hpp>

#include <fmt/core.h>

#include <limits>
#include <utility>

namespace sb {
namespace {

// "https://..." with a host: where a reply is POSTed or the provider's API is.
bool is_http_url(std::string_view text, bool smtp) {
  const auto u = boost::urls::parse_absolute_uri(text);
  if (!u || !u->has_authority() || u->encoded_host().empty() || u->has_userinfo()) return false;
  const auto scheme = u->scheme_id();
  if (smtp) return u->scheme() == "smtp" || u->scheme() == "smtps";
  return scheme == boost::urls::scheme::http || scheme == boost::urls::scheme::https;
}

// A channel's `outbound:` section: the keys its type declares (channel_type_info), a secret
// one given itself or as `<key>_file`. A type without outbound keys cannot send replies.
void parse_outbound(conf::reader& rd, const conf::field& f, const channel_type_info& type,
                    channel_config& cc) {
  if (type.outbound_keys.empty()) {
    rd.error(f, fmt::format("channel type {} cannot send replies (docs/replies.md); remove "
                            "outbound",
                            type.type));
    return;
  }
  conf::mapping m(rd.diag(), f);
  if (!m.ok()) return;
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& key : type.outbound_keys) {
    const auto value = m.take(key.name);
    const std::string file_key = fmt::format("{}_file", key.name);
    const auto file = key.secret ? m.take(file_key) : std::nullopt;
    if (value && file) {
      rd.error(*file, fmt::format("give either {} or {}, not both", key.name, file_key));
      continue;
    }
    if (file) {
      if (auto path = rd.non_empty_text(*file)) {
        std::string problem;
        if (auto secrets = conf::read_secret_file(*path, problem))
          out.emplace(std::string(key.name), std::move(secrets->front()));
        else
          rd.error(*file, problem);
      }
      continue;
    }
    if (!value) {
      if (key.required)
        rd.diag().add(f.line, fmt::format("{}.{}", f.path, key.name),
                      fmt::format("channel type {} sends replies with {}: add it{}", type.type,
                                  key.name, key.secret ? fmt::format(" (or {})", file_key) : ""));
      continue;
    }
    auto text = rd.non_empty_text(*value);
    if (!text) continue;
    if (key.name == "api_base" || key.name == "url" || key.name == "smtp_url") {
      if (!is_http_url(*text, key.name == "smtp_url")) {
        rd.error(*value, key.name == "smtp_url"
                             ? "must be an smtp:// or smtps:// URL with a host (credentials go "
                               "in username and password)"
                             : "must be an http:// or https:// URL with a host, without "
                               "credentials");
        continue;
      }
    } else if (key.name == "human_agent" && *text != "true" && *text != "false") {
      rd.error(*value, "must be true or false");
      continue;
    } else if (key.name == "starttls" && *text != "required" && *text != "optional") {
      // Anything else read as "optional" would let a typo send the login in clear.
      rd.error(*value, "must be required or optional");
      continue;
    }
    out.emplace(std::string(key.name), std::move(*text));
  }
  m.finish(true);
  cc.outbound = std::move(out);
}

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
  if (auto v = m.take("outbound"); v && type != nullptr) parse_outbound(rd, *v, *type, cc);
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
