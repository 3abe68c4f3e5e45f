#include "broker/settings.hpp"

#include "broker/topology.hpp"
#include "core/config_reader.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace sb {
namespace {

using std::chrono::seconds;

// A skill as its links and the routes see it, kept even when its entry has errors.
struct skill_seen {
  std::string name;
  std::optional<int> max_priority;  // unset when its own value was invalid
  // The links to other skills, checked once every skill is known (they may point forward).
  struct link {
    std::string target;
    conf::field where;
  };
  std::optional<link> escalate_to;
  std::optional<link> overflow_to;
  bool quorum = false;
  bool limited = false;  // has max_length
};

// The skills section: each entry, then the links between skills once all are known.
class skill_parser {
 public:
  explicit skill_parser(conf::reader& rd) : rd_(rd) {}

  skills_section run(const conf::field& f) {
    auto items = rd_.list(f);
    if (!items) return std::move(out_);
    if (items->empty()) rd_.error(f, "add at least one skill, e.g. \"- name: general\"");
    std::map<std::string, std::string, std::less<>> queues;  // queue -> skill, to refuse sharing
    for (const auto& item : *items) load_skill(item, queues);
    check_skill_links();
    for (const auto& s : skills_seen_) out_.named.push_back({s.name, s.max_priority});
    return std::move(out_);
  }

  const skill_seen* find_skill_seen(std::string_view name) const {
    auto it = std::find_if(skills_seen_.begin(), skills_seen_.end(),
                           [&](const skill_seen& s) { return s.name == name; });
    return it == skills_seen_.end() ? nullptr : &*it;
  }

  std::string skill_names() const {
    std::vector<std::string> names;
    for (const auto& s : skills_seen_) names.push_back(s.name);
    return names.empty() ? std::string("(none)") : conf::join(names);
  }

  // escalate_to and overflow_to name configured skills, and neither chain loops: the broker
  // would move a message round a loop for ever (escalation), or the outbox would (overflow).
  void check_skill_links() {
    struct kind {
      std::optional<skill_seen::link> skill_seen::*member;
      std::string_view what;
      std::string_view key;
    };
    const kind kinds[] = {{&skill_seen::escalate_to, "escalation", "escalate_to"},
                          {&skill_seen::overflow_to, "overflow", "overflow_to"}};
    for (const auto& k : kinds) {
      // next[i]: the index of the skill i links to, when that skill exists.
      std::vector<std::optional<std::size_t>> next(skills_seen_.size());
      for (std::size_t i = 0; i < skills_seen_.size(); ++i) {
        const auto& l = skills_seen_[i].*k.member;
        if (!l) continue;
        if (const auto* target = find_skill_seen(l->target)) {
          next[i] = static_cast<std::size_t>(target - skills_seen_.data());
          if (k.member == &skill_seen::escalate_to)
            if (auto problem = topology::dead_letter_problem(
                    skills_seen_[i].name, skills_seen_[i].quorum, l->target, target->limited))
              rd_.error(l->where, *problem);
        } else {
          rd_.error(l->where,
                    fmt::format("unknown skill \"{}\"; skills: {}", l->target, skill_names()));
        }
      }
      // Each skill has at most one link: follow it from every skill; a walk that comes back to
      // its start is a cycle, reported once, at the cycle's first skill in the file.
      for (std::size_t start = 0; start < skills_seen_.size(); ++start) {
        std::vector<std::size_t> path{start};
        bool cycle = false;
        for (auto at = next[start]; at; at = next[*at]) {
          if (*at == start) {
            cycle = true;
            break;
          }
          if (std::find(path.begin(), path.end(), *at) != path.end()) break;  // another's cycle
          path.push_back(*at);
        }
        if (!cycle || *std::min_element(path.begin(), path.end()) != start) continue;
        std::string chain;
        for (const auto i : path) chain += skills_seen_[i].name + " -> ";
        chain += skills_seen_[start].name;
        rd_.error((skills_seen_[start].*k.member)->where,
                  fmt::format("{} cycle {}: a message would go round it for ever; end the chain "
                              "at a skill without {}",
                              k.what, chain, k.key));
      }
    }
  }

  void load_skill(const conf::field& item,
                  std::map<std::string, std::string, std::less<>>& queues) {
    conf::mapping m(rd_.diag(), item);
    if (!m.ok()) return;
    const std::size_t errors_before = rd_.diag().count();
    skill_config sk;
    sk.line = item.line;
    bool named = false;
    if (auto v = m.require("name")) {
      if (auto name = rd_.text(*v)) {
        if (!conf::is_safe_name(*name)) {
          rd_.error(*v, fmt::format("\"{}\" must be letters, digits, '.', '_' or '-' (it is the "
                                    "AMQP routing key)",
                                    *name));
        } else if (auto seen = std::find_if(skills_seen_.begin(), skills_seen_.end(),
                                            [&](const skill_seen& s) { return s.name == *name; });
                   seen != skills_seen_.end()) {
          rd_.error(*v, fmt::format("duplicate skill name \"{}\"", *name));
        } else {
          sk.name = std::move(*name);
          named = true;
        }
      }
    }
    std::optional<conf::field> queue_field = m.take("queue");
    if (queue_field) {
      if (auto q = rd_.text(*queue_field)) {
        if (auto problem = topology::amqp_name_problem(*q))
          rd_.error(*queue_field, *problem);
        else
          sk.queue = std::move(*q);
      }
    } else if (named) {
      sk.queue = topology::default_queue_name(sk.name);
    }
    if (!sk.queue.empty()) {
      if (auto problem = topology::amqp_name_problem(sk.queue); problem && !queue_field) {
        rd_.diag().add(item.line, fmt::format("{}.queue", item.path),
                       fmt::format("the default queue \"{}\" {}; set queue:", sk.queue, *problem));
      } else if (auto other = queues.find(sk.queue); other != queues.end()) {
        rd_.diag().add(
            queue_field ? queue_field->line : item.line, fmt::format("{}.queue", item.path),
            fmt::format("queue \"{}\" is already used by skill {}; each skill needs its own",
                        sk.queue, other->second));
      } else {
        queues.emplace(sk.queue, sk.name);
      }
    }
    std::optional<conf::field> type_field = m.take("queue_type");
    if (type_field)
      if (auto t = rd_.text(*type_field)) {
        if (topology::is_queue_type(*t))
          sk.queue_type = std::move(*t);
        else
          rd_.error(*type_field, fmt::format("must be classic or quorum, found \"{}\"", *t));
      }
    std::optional<int> max_priority = 0;
    if (auto v = m.take("max_priority")) {
      auto n = rd_.integer(*v, 0, 255);
      max_priority = n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
      if (auto problem =
              n ? topology::priority_problem(sk.queue_type, static_cast<int>(*n)) : std::nullopt) {
        rd_.error(*v, *problem);
        max_priority.reset();
      }
    }
    sk.max_priority = max_priority.value_or(0);

    // Escalation and overflow. The names they point to are checked in check_skill_links(),
    // when every skill is known.
    std::optional<conf::field> escalate_after = m.take("escalate_after");
    std::optional<conf::field> escalate_to = m.take("escalate_to");
    if (escalate_after)
      if (auto d = rd_.duration(*escalate_after, seconds{1})) {
        if (auto problem = topology::ttl_problem(*d))
          rd_.error(*escalate_after, *problem);
        else
          sk.escalate_after = *d;
      }
    if (escalate_to)
      if (auto name = rd_.non_empty_text(*escalate_to)) sk.escalate_to = std::move(*name);
    if (escalate_after && !escalate_to)
      rd_.error(*escalate_after,
                "needs escalate_to: the skill whose queue gets the messages nobody took in time");
    if (escalate_to && !escalate_after)
      rd_.error(*escalate_to,
                "needs escalate_after: how long a message may wait before it moves, e.g. 5m");
    std::optional<conf::field> max_length = m.take("max_length");
    std::optional<conf::field> overflow_to = m.take("overflow_to");
    if (max_length)
      if (auto n = rd_.integer(*max_length, 1, std::numeric_limits<std::int64_t>::max()))
        sk.max_length = *n;
    if (overflow_to) {
      if (auto name = rd_.non_empty_text(*overflow_to)) sk.overflow_to = std::move(*name);
      if (!max_length)
        rd_.error(*overflow_to,
                  "needs max_length: a queue without a length limit is never full, so nothing "
                  "would overflow");
    }
    m.finish();
    // Remember the name even when the entry has errors, so routes naming it do not pile up
    // "unknown skill" errors on top of the real one.
    if (named) {
      skill_seen seen{sk.name,
                      max_priority,
                      std::nullopt,
                      std::nullopt,
                      sk.queue_type == "quorum",
                      max_length.has_value()};
      if (sk.escalate_to) seen.escalate_to = skill_seen::link{*sk.escalate_to, *escalate_to};
      if (sk.overflow_to) seen.overflow_to = skill_seen::link{*sk.overflow_to, *overflow_to};
      skills_seen_.push_back(std::move(seen));
    }
    if (rd_.diag().count() == errors_before) out_.skills.push_back(std::move(sk));
  }

 private:
  conf::reader& rd_;
  std::vector<skill_seen> skills_seen_;
  skills_section out_;
};

}  // namespace

void parse_broker_options(conf::reader& rd, const conf::field& f, broker_options& b) {
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("url"))
    if (auto text = rd.non_empty_text(*v)) {
      if (text->rfind("amqp://", 0) == 0 || text->rfind("amqps://", 0) == 0)
        b.url = std::move(*text);
      else
        rd.error(*v, "must start with amqp:// or amqps://");
    }
  if (auto v = m.take("exchange"))
    if (auto text = rd.text(*v)) {
      if (auto problem = topology::amqp_name_problem(*text))
        rd.error(*v, *problem);
      else
        b.exchange = std::move(*text);
    }
  if (auto v = m.take("confirm_window"))
    if (auto n = rd.integer(*v, 1, 65535)) b.confirm_window = static_cast<unsigned>(*n);
  if (auto v = m.take("confirm_window_bytes"))
    if (auto n = rd.integer(*v, 1 << 20, std::int64_t{1} << 34)) b.confirm_window_bytes = *n;
  m.finish();
}

void parse_replies_options(conf::reader& rd, const conf::field& f, replies_options& r) {
  conf::mapping m(rd.diag(), f);
  const auto queue = [&](std::string_view key, std::string& out) {
    if (auto v = m.take(key))
      if (auto text = rd.text(*v)) {
        if (auto problem = topology::amqp_name_problem(*text))
          rd.error(*v, *problem);
        else
          out = std::move(*text);
      }
  };
  queue("queue", r.queue);
  queue("rejected_queue", r.rejected_queue);
  if (auto v = m.take("max_age"))
    if (auto d = rd.duration_seconds(*v)) {
      if (d->count() < 60)
        rd.error(*v,
                 "must be at least 1m: a provider's outage of a few seconds would fail "
                 "replies");
      else
        r.max_age = *d;
    }
  m.finish();
  if (r.queue == r.rejected_queue)
    rd.error(f, fmt::format("queue and rejected_queue are both \"{}\"; a rejected reply would "
                            "be taken again",
                            r.queue));
}

void parse_events_options(conf::reader& rd, const conf::field& f, events_options& e,
                          std::string_view broker_exchange) {
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("exchange"))
    if (auto text = rd.text(*v)) {
      if (auto problem = topology::amqp_name_problem(*text))
        rd.error(*v, *problem);
      else if (text->empty() || *text == broker_exchange)
        rd.error(*v, fmt::format("must name a topic exchange of its own, not \"{}\"", *text));
      else
        e.exchange = std::move(*text);
    }
  m.finish();
}

skills_section parse_skills(conf::reader& rd, const conf::field& f) {
  return skill_parser(rd).run(f);
}

}  // namespace sb
