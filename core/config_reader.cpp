#include "core/config_reader.hpp"

#include "core/time.hpp"

#include <fmt/core.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>

namespace sb::conf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view duration_examples = "500ms, 10s, 5m, 2h or 7d";

// yaml-cpp marks are 0-based; an empty value's mark points past it, so callers prefer the line
// of the key a value belongs to.
int line_of(const YAML::Node& n, int fallback = 0) {
  const auto m = n.Mark();
  return m.line >= 0 ? m.line + 1 : fallback;
}

std::string describe_node(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return fmt::format("\"{}\"", n.Scalar());
    default:
      return "nothing";
  }
}

// Edit distance, for "did you mean" on unknown keys; keys are short, so the quadratic cost is nil.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Environment expansion: `${VAR}` and `${VAR:-default}` (default also when VAR is empty, as in
// sh). `$${` writes a literal `${`; any other `$` is literal, so secrets holding `$` survive.

std::optional<std::string> expand_env(std::string_view in, std::string& problem) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (in.compare(i, 2, "${") != 0) {
      out += in[i++];
      continue;
    }
    const std::size_t close = in.find('}', i + 2);
    if (close == std::string_view::npos) {
      problem = "unterminated \"${\" (write \"$${\" for a literal \"${\")";
      return std::nullopt;
    }
    const std::string_view inner = in.substr(i + 2, close - i - 2);
    const std::size_t sep = inner.find(":-");
    const std::string_view name = inner.substr(0, sep);
    const bool name_ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                  (c >= '0' && c <= '9') || c == '_';
                         });
    if (!name_ok) {
      problem = fmt::format(
          "\"${{{}}}\" is not a variable reference; use ${{NAME}} or "
          "${{NAME:-default}}, or \"$${{\" for a literal \"${{\"",
          inner);
      return std::nullopt;
    }
    const char* env = std::getenv(std::string(name).c_str());
    if (sep != std::string_view::npos) {
      out += (env != nullptr && *env != '\0') ? std::string_view(env) : inner.substr(sep + 2);
    } else if (env != nullptr) {
      out += env;
    } else {
      problem = fmt::format(
          "environment variable {0} is not set (write ${{{0}:-default}} to give a default)", name);
      return std::nullopt;
    }
    i = close + 1;
  }
  return out;
}

// The 1-based line where a second YAML document starts, if the text has one. Throws
// YAML::Exception on a syntax error in the first two documents.
std::optional<int> second_document_line(std::string_view yaml) {
  struct ignore_events : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark& m) override { start = m; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
    YAML::Mark start;
  };
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  ignore_events events;
  if (!parser.HandleNextDocument(events)) return std::nullopt;
  if (!parser.HandleNextDocument(events)) return std::nullopt;
  return events.start.line + 1;
}

std::string duration_problem(const std::string& s) {
  if (s.empty())
    return fmt::format("expected a duration such as {}, found an empty string", duration_examples);
  if (s[0] == '-') return fmt::format("must not be negative, found \"{}\"", s);
  const auto digits = s.find_first_not_of("0123456789");
  if (digits == std::string::npos)
    return fmt::format("\"{}\" has no unit; write it explicitly, e.g. {}s or {}ms", s, s, s);
  // A known unit after the digits: only the size can be wrong.
  if (digits > 0 && parse_duration("1" + s.substr(digits)))
    return fmt::format("\"{}\" is too large", s);
  return fmt::format("expected a duration such as {}, found \"{}\"", duration_examples, s);
}

}  // namespace

std::string format_duration(milliseconds d) {
  constexpr std::pair<std::int64_t, std::string_view> units[] = {
      {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
  for (const auto& [factor, unit] : units)
    if (d.count() != 0 && d.count() % factor == 0)
      return fmt::format("{}{}", d.count() / factor, unit);
  return fmt::format("{}ms", d.count());
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool is_safe_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool is_dot_segment(std::string_view s) { return s == "." || s == ".."; }

std::optional<std::vector<std::string>> read_secret_file(const std::string& path,
                                                         std::string& problem) {
  // A secrets file is a few lines; refuse a wrong path.
  const auto data = read_small_file(path, 1 << 20, problem);
  if (!data) return std::nullopt;
  std::vector<std::string> secrets;
  std::size_t pos = 0;
  while (pos <= data->size()) {
    auto end = data->find('\n', pos);
    if (end == std::string::npos) end = data->size();
    std::string line = data->substr(pos, end - pos);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' ||
                             line.back() == '\v' || line.back() == '\f'))
      line.pop_back();
    if (!line.empty()) secrets.push_back(std::move(line));
    pos = end + 1;
  }
  if (secrets.empty()) {
    problem = fmt::format("\"{}\" holds no secret (one per line expected)", path);
    return std::nullopt;
  }
  return secrets;
}

std::optional<std::string> read_file_prefix(const std::string& path, std::size_t max_size,
                                            int& err) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    err = errno;
    return std::nullopt;
  }
  std::string data;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= max_size)
    data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  err = errno;
  std::fclose(f);
  if (failed) return std::nullopt;
  return data;
}

std::optional<std::string> read_small_file(const std::string& path, std::size_t max_size,
                                           std::string& problem) {
  int err = 0;
  auto data = read_file_prefix(path, max_size, err);
  if (!data) {
    problem = fmt::format("cannot read \"{}\": {}", path, std::strerror(err));
    return std::nullopt;
  }
  if (data->size() > max_size) {
    problem = fmt::format("\"{}\" is larger than {} bytes; is it the right file?", path, max_size);
    return std::nullopt;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics.

void diagnostics::add(int line, std::string_view key, std::string_view message) {
  std::string text = file_;
  if (line > 0) text += fmt::format(":{}", line);
  text += ": ";
  if (!key.empty()) text += fmt::format("{}: ", key);
  text += message;
  errors_.push_back({line, std::move(text)});
}

std::vector<std::string> diagnostics::take() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  std::vector<std::string> out;
  out.reserve(errors_.size());
  for (auto& e : errors_) out.push_back(std::move(e.text));
  return out;
}

std::string child_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

std::optional<field> load_document(std::string_view yaml, diagnostics& diag) {
  YAML::Node doc;
  try {
    // Not YAML::LoadAll: yaml-cpp 0.7 (Debian 12) loops for ever, allocating, on inputs as
    // small as "," (jbeder/yaml-cpp#1040; found by fuzz_config). Count the documents with
    // the event parser, which stops, then load the one there is.
    if (const auto second = second_document_line(yaml)) {
      diag.add(*second, "", "only one YAML document is allowed (remove \"---\")");
      return std::nullopt;
    }
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    diag.add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
             fmt::format("YAML syntax error: {} (column {})", e.msg, e.mark.column + 1));
    return std::nullopt;
  }
  if (doc.IsNull()) {
    diag.add(1, "", "the file is empty; expected a mapping with channels, skills and routes");
    return std::nullopt;
  }
  return field{doc, "", 1};
}

// ---------------------------------------------------------------------------------------------
// Mappings.

mapping::mapping(diagnostics& diag, const field& f) : diag_(diag), path_(f.path), line_(f.line) {
  if (!f.node.IsMap()) {
    diag_.add(
        line_, path_,
        fmt::format("expected a mapping (key: value lines), found {}", describe_node(f.node)));
    return;
  }
  ok_ = true;
  for (auto it = f.node.begin(); it != f.node.end(); ++it) {
    const int key_line = line_of(it->first, line_);
    if (!it->first.IsScalar()) {
      diag_.add(key_line, path_, "keys must be plain words");
      continue;
    }
    const std::string& key = it->first.Scalar();
    const auto dup = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const entry& e) { return e.key == key; });
    if (dup != entries_.end()) {
      diag_.add(key_line, child_path(path_, key),
                fmt::format("duplicate key (first given at line {})", dup->line));
      continue;
    }
    entries_.push_back({key, it->second, key_line});
  }
}

std::optional<field> mapping::take(std::string_view key) {
  allowed_.emplace_back(key);
  for (auto& e : entries_) {
    if (e.key != key) continue;
    e.used = true;
    return field{e.value, child_path(path_, key), e.line};
  }
  return std::nullopt;
}

std::optional<field> mapping::require(std::string_view key, std::string_view hint) {
  auto f = take(key);
  if (!f && ok_)
    diag_.add(line_, child_path(path_, key),
              hint.empty() ? std::string("missing (required)")
                           : fmt::format("missing (required); {}", hint));
  return f;
}

void mapping::finish(bool report) {
  if (!report) return;
  for (const auto& e : entries_) {
    if (e.used) continue;
    std::string message = "unknown key";
    for (const auto& a : allowed_)
      if (edit_distance(a, e.key) <= 2) {
        message += fmt::format("; did you mean \"{}\"?", a);
        break;
      }
    message += fmt::format(" (allowed here: {})", join(allowed_));
    diag_.add(e.line, child_path(path_, e.key), message);
  }
}

// ---------------------------------------------------------------------------------------------
// Typed reads.

std::optional<std::string> reader::text(const field& f) {
  if (!f.node.IsScalar()) {
    error(f, f.node.IsNull() ? std::string("has no value (remove the key to use the default)")
                             : fmt::format("expected a string, found {}", describe_node(f.node)));
    return std::nullopt;
  }
  std::string problem;
  auto out = expand_env(f.node.Scalar(), problem);
  if (!out) error(f, problem);
  return out;
}

std::optional<std::string> reader::non_empty_text(const field& f) {
  auto s = text(f);
  if (s && s->empty()) {
    error(f, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::uint64_t> reader::integer(const field& f, std::uint64_t min, std::uint64_t max) {
  if (!f.node.IsScalar()) {
    error(f, f.node.IsNull() ? std::string("has no value (remove the key to use the default)")
                             : fmt::format("expected an integer, found {}", describe_node(f.node)));
    return std::nullopt;
  }
  const std::string& s = f.node.Scalar();
  if (f.node.Tag() != "?" && f.node.Tag() != "tag:yaml.org,2002:int") {
    error(f, fmt::format("expected an integer, found the string \"{}\" (remove the quotes)", s));
    return std::nullopt;
  }
  if (!s.empty() && s[0] == '-' && s.size() > 1 &&
      std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    error(f, fmt::format("must not be negative, found {}", s));
    return std::nullopt;
  }
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec == std::errc::result_out_of_range) {
    error(f, fmt::format("{} is too large (at most {})", s, max));
    return std::nullopt;
  }
  if (ec != std::errc{} || p != s.data() + s.size()) {
    error(f, fmt::format("expected a whole number, found \"{}\"", s));
    return std::nullopt;
  }
  if (n < min || n > max) {
    error(f, max == std::numeric_limits<std::uint64_t>::max() ||
                     max == std::numeric_limits<std::size_t>::max()
                 ? fmt::format("must be at least {}, found {}", min, n)
                 : fmt::format("must be between {} and {}, found {}", min, max, n));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> reader::boolean(const field& f) {
  if (f.node.IsScalar() && f.node.Tag() == "?") {
    const std::string& s = f.node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  error(f, fmt::format("expected true or false, found {}", describe_node(f.node)));
  return std::nullopt;
}

std::optional<milliseconds> reader::duration(const field& f, milliseconds min) {
  auto s = text(f);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    error(f, duration_problem(*s));
    return std::nullopt;
  }
  if (*d < min) {
    error(f, fmt::format("must be at least {}, found \"{}\"", format_duration(min), *s));
    return std::nullopt;
  }
  return d;
}

std::optional<seconds> reader::duration_seconds(const field& f) {
  auto d = duration(f, seconds{1});
  if (!d) return std::nullopt;
  if (d->count() % 1000 != 0) {
    error(f, "must be a whole number of seconds");
    return std::nullopt;
  }
  return std::chrono::duration_cast<seconds>(*d);
}

std::optional<std::vector<field>> reader::list(const field& f) {
  if (!f.node.IsSequence()) {
    error(f, fmt::format("expected a list (\"- \" items), found {}", describe_node(f.node)));
    return std::nullopt;
  }
  std::vector<field> out;
  std::size_t i = 0;
  for (const auto& item : f.node) {
    out.push_back({item, fmt::format("{}[{}]", f.path, i), line_of(item, f.line)});
    ++i;
  }
  return out;
}

std::vector<std::pair<std::string, field>> reader::entries_of(const field& f) {
  std::vector<std::pair<std::string, field>> out;
  if (!f.node.IsMap()) {
    error(f, fmt::format("expected a mapping (key: value lines), found {}", describe_node(f.node)));
    return out;
  }
  std::map<std::string, int, std::less<>> seen;
  for (auto it = f.node.begin(); it != f.node.end(); ++it) {
    const int key_line = line_of(it->first, f.line);
    if (!it->first.IsScalar()) {
      diag_.add(key_line, f.path, "keys must be plain words");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (auto [at, fresh] = seen.emplace(key, key_line); !fresh) {
      diag_.add(key_line, child_path(f.path, key),
                fmt::format("duplicate key (first given at line {})", at->second));
      continue;
    }
    out.emplace_back(key, field{it->second, child_path(f.path, key), key_line});
  }
  return out;
}

std::vector<std::pair<field, std::string>> reader::string_list(const field& f,
                                                               std::string_view if_empty) {
  std::vector<std::pair<field, std::string>> out;
  if (f.node.IsSequence()) {
    auto items = list(f);
    if (!items) return out;
    if (items->empty()) error(f, if_empty);
    for (const auto& item : *items)
      if (auto t = non_empty_text(item)) out.emplace_back(item, std::move(*t));
    return out;
  }
  if (f.node.IsMap()) {
    error(f, "expected a string or a list of strings, found a mapping");
    return out;
  }
  if (auto t = non_empty_text(f)) out.emplace_back(f, std::move(*t));
  return out;
}

}  // namespace sb::conf
