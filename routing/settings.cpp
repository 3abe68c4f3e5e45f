#include "routing/settings.hpp"

#include "core/config_reader.hpp"
#include "routing/identity_list.hpp"
#include "routing/language.hpp"
#include "routing/schedule.hpp"

#include <fmt/core.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <iterator>

namespace sb {
namespace {

std::shared_ptr<const schedule> parse_schedule(conf::reader& rd, const std::string& name,
                                               const conf::field& item) {
  conf::mapping m(rd.diag(), item);
  if (!m.ok()) return nullptr;
  const std::size_t errors_before = rd.diag().count();
  auto sc = std::make_shared<schedule>();
  sc->name = name;
  sc->line = item.line;
  if (auto v = m.require("timezone", "an IANA name such as Europe/Riga"))
    if (auto tz = rd.non_empty_text(*v)) {
      std::string problem;
      sc->zone = find_time_zone(*tz, problem);
      if (sc->zone == nullptr) rd.error(*v, problem);
      sc->timezone = std::move(*tz);
    }
  if (auto v = m.require("hours", "e.g. hours: {mon-fri: \"09:00-18:00\"}")) {
    std::array<int, 7> day_line{};  // where each day was given, to refuse a second mention
    const auto days = rd.entries_of(*v);
    if (days.empty() && v->node.IsMap())
      rd.error(*v, "give at least one day, e.g. mon-fri: \"09:00-18:00\"");
    for (const auto& [key, ranges] : days) {
      std::string problem;
      const auto which = parse_days(key, problem);
      if (!which) {
        rd.error(ranges, problem);
        continue;
      }
      bool clash = false;
      for (const int d : *which)
        if (day_line[static_cast<std::size_t>(d)] != 0) {
          rd.error(ranges, fmt::format("{} is already given at line {}", day_name(d),
                                       day_line[static_cast<std::size_t>(d)]));
          clash = true;
          break;
        }
      if (clash) continue;
      for (const int d : *which) day_line[static_cast<std::size_t>(d)] = ranges.line;
      for (const auto& text : rd.string_list(ranges)) {
        if (auto r = parse_time_range(text.second, problem))
          for (const int d : *which) sc->days[static_cast<std::size_t>(d)].push_back(*r);
        else
          rd.error(text.first, problem);
      }
    }
  }
  if (auto v = m.take("closed")) {
    if (auto items = rd.list(*v))
      for (const auto& item_field : *items)
        if (auto text = rd.text(item_field)) {
          std::string problem;
          if (auto d = parse_local_date(*text, problem))
            sc->closed.push_back(*d);
          else
            rd.error(item_field, problem);
        }
    std::sort(sc->closed.begin(), sc->closed.end());
  }
  m.finish();
  if (rd.diag().count() != errors_before) return nullptr;
  return sc;
}

// One pass over routes: holds what they refer to, and reads each customer list once.
class route_parser {
 public:
  route_parser(conf::reader& rd, const route_refs& refs) : rd_(rd), refs_(refs) {}

  std::vector<route> run(const conf::field& f) {
    auto items = rd_.list(f);
    if (!items) return {};
    if (items->empty()) {
      rd_.error(f, fmt::format("add at least the default route \"- skill: {}\"",
                               default_skill_hint(refs_.skills)));
      return {};
    }
    std::optional<conf::field> first_default;
    bool last_has_when = false;
    for (const auto& item : *items) {
      if (first_default) {
        rd_.error(item, fmt::format("can never match: {} (line {}) has no \"when\" and takes "
                                    "every message; move this route above it",
                                    first_default->path, first_default->line));
      }
      last_has_when = load_route(item);
      if (!last_has_when && !first_default && item.node.IsMap()) first_default = item;
    }
    if (last_has_when)
      rd_.error(items->back(),
                fmt::format("the last route must have no \"when\", so that no message is left "
                            "without a skill; add \"- skill: {}\" at the end of routes",
                            default_skill_hint(refs_.skills)));
    return std::move(routes_);
  }

  // Returns whether the route has a `when`.
  bool load_route(const conf::field& item) {
    conf::mapping m(rd_.diag(), item);
    if (!m.ok()) return false;  // not a route at all: its own error says so
    const std::size_t errors_before = rd_.diag().count();
    route r;
    r.line = item.line;
    bool has_when = false;
    if (auto v = m.take("when")) {
      has_when = true;
      r.when = load_condition(*v);
    }
    const skill_ref* skill = nullptr;
    if (auto v = m.require("skill")) {
      if (auto name = rd_.text(*v)) {
        auto it = std::find_if(refs_.skills.begin(), refs_.skills.end(),
                               [&](const skill_ref& s) { return s.name == *name; });
        if (it == refs_.skills.end()) {
          std::vector<std::string> names;
          for (const auto& s : refs_.skills) names.push_back(s.name);
          rd_.error(*v, fmt::format("unknown skill \"{}\"; skills: {}", *name,
                                    names.empty() ? std::string("(none)") : conf::join(names)));
        } else {
          skill = &*it;
          r.skill = std::move(*name);
        }
      }
    }
    if (auto v = m.take("priority")) {
      if (auto n = rd_.integer(*v, 0, 255)) {
        r.priority = static_cast<int>(*n);
        if (skill != nullptr && skill->max_priority && r.priority > *skill->max_priority) {
          rd_.error(*v, *skill->max_priority == 0
                            ? fmt::format("skill {} has no max_priority, so its queue has no "
                                          "priorities; set max_priority on the skill or drop "
                                          "priority here",
                                          skill->name)
                            : fmt::format("{} is above skill {}'s max_priority {}", r.priority,
                                          skill->name, *skill->max_priority));
        }
      }
    }
    if (auto v = m.take("reroute"))
      if (auto b = rd_.boolean(*v)) r.reroute = *b;
    m.finish();
    if (rd_.diag().count() == errors_before) routes_.push_back(std::move(r));
    return has_when;
  }

  std::shared_ptr<const re2::RE2> load_regex(const conf::field& f) {
    auto pattern = rd_.text(f);
    if (!pattern) return nullptr;
    if (pattern->empty()) {
      rd_.error(f, "an empty pattern matches every message; remove the condition instead");
      return nullptr;
    }
    re2::RE2::Options opts;
    opts.set_log_errors(false);  // the error goes into our message, not to stderr
    auto re = std::make_shared<const re2::RE2>(*pattern, opts);
    if (!re->ok()) {
      rd_.error(f, fmt::format("invalid regular expression \"{}\": {}", *pattern, re->error()));
      return nullptr;
    }
    return re;
  }

  std::shared_ptr<const schedule> schedule_named(const conf::field& f) {
    auto name = rd_.non_empty_text(f);
    if (!name) return nullptr;
    for (const auto& sc : refs_.schedules.valid)
      if (sc->name == *name) return sc;
    if (!refs_.schedules.lines.contains(*name)) {
      std::vector<std::string> names;
      for (const auto& [n, line] : refs_.schedules.lines) names.push_back(n);
      rd_.error(f, fmt::format("unknown schedule \"{}\"; {}", *name,
                               names.empty() ? std::string("add it under schedules:")
                                             : "schedules: " + conf::join(names)));
    }
    return nullptr;
  }

  // Read once per file, however many routes name it.
  std::shared_ptr<const identity_list> customer_list(const conf::field& f) {
    auto path = rd_.non_empty_text(f);
    if (!path) return nullptr;
    if (auto it = customer_lists_.find(*path); it != customer_lists_.end()) {
      if (!it->second) rd_.error(f, fmt::format("\"{}\" could not be loaded (see above)", *path));
      return it->second;
    }
    auto out = read_identity_list(rd_, f, *path);
    customer_lists_.emplace(*path, out);
    return out;
  }

  std::optional<route_condition> load_condition(const conf::field& f) {
    conf::mapping m(rd_.diag(), f);
    if (!m.ok()) return std::nullopt;
    route_condition c;
    bool any = false;
    const auto take = [&](std::string_view key) {
      auto v = m.take(key);
      any = any || v.has_value();
      return v;
    };
    std::optional<std::string> channel_name;
    if (auto v = take("channel"))
      if (auto name = rd_.text(*v)) {
        if (!refs_.channels.lines.contains(*name))
          rd_.error(*v, fmt::format("no channel named \"{}\" is configured", *name));
        else
          channel_name = *name;
        c.channel = std::move(*name);
      }
    if (auto v = take("channel_type"))
      if (auto t = rd_.text(*v)) {
        if (find_channel_type(*t) == nullptr) {
          rd_.error(*v, fmt::format("unknown channel type \"{}\"; known types: {}", *t,
                                    known_channel_types()));
        } else if (channel_name) {
          // Both conditions must hold; a channel of another type makes the route dead.
          if (auto it = refs_.channels.types.find(*channel_name);
              it != refs_.channels.types.end() && it->second != *t)
            rd_.error(*v, fmt::format("can never match: channel {} has type {}", *channel_name,
                                      it->second));
        }
        c.channel_type = std::move(*t);
      }
    if (auto v = take("channel_kind"))
      if (auto k = rd_.text(*v)) {
        constexpr std::string_view kinds[] = {"email", "chat", "phone", "social"};
        if (std::find(std::begin(kinds), std::end(kinds), *k) == std::end(kinds))
          rd_.error(*v, fmt::format("must be email, chat, phone or social, found \"{}\"", *k));
        c.channel_kind = std::move(*k);
      }
    if (auto v = take("recipient"))
      c.recipient =
          rd_.checked_list(*v, [](const std::string&) { return std::optional<std::string>(); });
    if (auto v = take("text_matches")) c.text_matches = load_regex(*v);
    if (auto v = take("subject_matches")) c.subject_matches = load_regex(*v);
    if (auto v = take("ivr_digits"))
      c.ivr_digits = rd_.checked_list(*v, [](const std::string& d) -> std::optional<std::string> {
        if (std::all_of(d.begin(), d.end(),
                        [](char ch) { return (ch >= '0' && ch <= '9') || ch == '*' || ch == '#'; }))
          return std::nullopt;
        return fmt::format("\"{}\" holds keys a phone has not; use 0-9, * and #", d);
      });
    if (auto v = take("language"))
      c.language = rd_.checked_list(*v, [](const std::string& code) -> std::optional<std::string> {
        if (code.size() == 2 && normalize_language_tag(code) == code) return std::nullopt;
        return fmt::format("\"{}\" is not a lower-case ISO 639-1 code such as lv, lt, en", code);
      });
    if (auto v = take("identity_type"))
      c.identity_type =
          rd_.checked_list(*v, [](const std::string& t) -> std::optional<std::string> {
            if (is_identity_type(t)) return std::nullopt;
            return fmt::format("unknown identity type \"{}\"; known types: {}", t,
                               known_identity_types());
          });
    if (auto v = take("customer_in")) c.customer_in = customer_list(*v);
    if (auto v = take("during")) c.during = schedule_named(*v);
    if (auto v = take("outside")) c.outside = schedule_named(*v);
    if (auto v = take("first_message"))
      if (auto b = rd_.boolean(*v)) c.first_message = *b;
    if (auto v = take("auto_reply"))
      if (auto b = rd_.boolean(*v)) c.auto_reply = *b;
    if (!any) rd_.error(f, "has no condition; remove \"when\" for a route that matches everything");
    m.finish();
    return c;
  }

 private:
  conf::reader& rd_;
  const route_refs& refs_;
  std::vector<route> routes_;
  std::map<std::string, std::shared_ptr<const identity_list>, std::less<>> customer_lists_;
};

}  // namespace

std::shared_ptr<const identity_list> read_identity_list(conf::reader& rd, const conf::field& f,
                                                        const std::string& path) {
  constexpr std::size_t max_size = 64 << 20;
  std::string problem;
  std::shared_ptr<const identity_list> out;
  if (auto text = conf::read_small_file(path, max_size, problem)) {
    auto parsed = parse_identity_list(*text, path);
    for (const auto& e : parsed.errors) rd.error(f, fmt::format("{}: {}", path, e));
    if (parsed.list) out = std::make_shared<const identity_list>(std::move(*parsed.list));
  } else {
    rd.error(f, problem);
  }
  return out;
}

std::string default_skill_hint(const std::vector<skill_ref>& skills) {
  for (const auto& s : skills)
    if (s.name == "general") return s.name;
  return skills.empty() ? "general" : skills.front().name;
}

schedules_section parse_schedules(conf::reader& rd, const conf::field& f) {
  schedules_section out;
  for (auto& [name, item] : rd.entries_of(f)) {
    if (!conf::is_safe_name(name)) {
      rd.error(item, fmt::format("\"{}\" must be letters, digits, '.', '_' or '-'", name));
      continue;
    }
    // Known even when invalid, so routes naming it do not add "unknown schedule" errors.
    out.lines.emplace(name, item.line);
    if (auto sc = parse_schedule(rd, name, item)) {
      out.valid.push_back(std::move(sc));
    }
  }
  return out;
}

std::vector<route> parse_routes(conf::reader& rd, const conf::field& f, const route_refs& refs) {
  return route_parser(rd, refs).run(f);
}

}  // namespace sb
