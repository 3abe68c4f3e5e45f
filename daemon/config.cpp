// The config loader: YAML text in, a typed `config` or every problem found out. This is the only
// file that touches YAML nodes. It is strict on purpose: an unknown key is far more often a typo
// (or a feature this version lacks) than something safe to ignore, and ops must learn that at
// `--check-config` time, not when a message goes to the wrong queue.
#include "daemon/config.hpp"

#include "broker/topology.hpp"
#include "channels/channel.hpp"
#include "routing/identity_list.hpp"
#include "routing/language.hpp"
#include "routing/schedule.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <re2/re2.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace sb {

const channel* config::find_channel(std::string_view name) const noexcept {
  for (const auto& c : channels)
    if (c.config.name == name) return &c;
  return nullptr;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) noexcept {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t n = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n); ec != std::errc{})
    return std::nullopt;  // more digits than 64 bits hold
  const std::string_view unit = s.substr(digits);
  constexpr std::pair<std::string_view, std::int64_t> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};
  std::int64_t factor = 0;
  for (const auto& [name, f] : units)
    if (unit == name) factor = f;
  if (factor == 0) return std::nullopt;  // includes the bare number: the unit must be explicit
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  if (n > static_cast<std::uint64_t>(max / factor)) return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(n) * factor};
}

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view duration_examples = "500ms, 10s, 5m, 2h or 7d";

// The largest exact unit, so error messages echo what ops would write.
std::string format_duration(milliseconds d) {
  constexpr std::pair<std::int64_t, std::string_view> units[] = {
      {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
  for (const auto& [factor, unit] : units)
    if (d.count() != 0 && d.count() % factor == 0)
      return fmt::format("{}{}", d.count() / factor, unit);
  return fmt::format("{}ms", d.count());
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: every problem, with file, line and dotted key path, sorted into file order at the
// end so ops can fix them top to bottom.

class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  // `line` is 1-based; 0 means the problem is about the file as a whole.
  void add(int line, std::string_view key, std::string_view message) {
    std::string text = file_;
    if (line > 0) text += fmt::format(":{}", line);
    text += ": ";
    if (!key.empty()) text += fmt::format("{}: ", key);
    text += message;
    errors_.push_back({line, std::move(text)});
  }

  std::size_t count() const noexcept { return errors_.size(); }

  std::vector<std::string> take() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const auto& a, const auto& b) { return a.line < b.line; });
    std::vector<std::string> out;
    out.reserve(errors_.size());
    for (auto& e : errors_) out.push_back(std::move(e.text));
    return out;
  }

 private:
  struct entry {
    int line;
    std::string text;
  };
  std::string file_;
  std::vector<entry> errors_;
};

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

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Reading nodes. A `field` is a value with the dotted path and line to report it under.

struct field {
  YAML::Node node;
  std::string path;
  int line = 0;
};

std::string child_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

// One YAML mapping, read key by key. Every key the code asks for (`take`, `require`) is an
// allowed key; `finish()` reports the others as unknown. Adding a config key is therefore one
// more `take()` call, and the "allowed keys" list in errors can never drift from the code.
class mapping {
 public:
  mapping(diagnostics& diag, const field& f) : diag_(diag), path_(f.path), line_(f.line) {
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

  bool ok() const noexcept { return ok_; }
  const std::string& path() const noexcept { return path_; }
  int line() const noexcept { return line_; }

  std::optional<field> take(std::string_view key) {
    allowed_.emplace_back(key);
    for (auto& e : entries_) {
      if (e.key != key) continue;
      e.used = true;
      return field{e.value, child_path(path_, key), e.line};
    }
    return std::nullopt;
  }

  std::optional<field> require(std::string_view key, std::string_view hint = {}) {
    auto f = take(key);
    if (!f && ok_)
      diag_.add(line_, child_path(path_, key),
                hint.empty() ? std::string("missing (required)")
                             : fmt::format("missing (required); {}", hint));
    return f;
  }

  bool has(std::string_view key) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const entry& e) { return e.key == key; });
  }

  // Reports every key nobody asked for. `report = false` when the allowed set is not knowable
  // (a channel of an unknown type): the type error is the useful one.
  void finish(bool report = true) {
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

 private:
  struct entry {
    std::string key;
    YAML::Node value;
    int line;
    bool used = false;
  };
  diagnostics& diag_;
  std::string path_;
  int line_;
  bool ok_ = false;
  std::vector<entry> entries_;
  std::vector<std::string> allowed_;
};

// Typed reads: each reports its own error and returns nullopt, so callers just skip the field.
class reader {
 public:
  explicit reader(diagnostics& diag) : diag_(diag) {}
  diagnostics& diag() { return diag_; }

  void error(const field& f, std::string_view message) { diag_.add(f.line, f.path, message); }

  std::optional<std::string> text(const field& f) {
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

  std::optional<std::string> non_empty_text(const field& f) {
    auto s = text(f);
    if (s && s->empty()) {
      error(f, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  // Integers are plain decimal scalars: a quoted "5" is a string, and ops who quote a number
  // usually meant something else (a duration, a name).
  std::optional<std::uint64_t> integer(const field& f, std::uint64_t min, std::uint64_t max) {
    if (!f.node.IsScalar()) {
      error(f, f.node.IsNull()
                   ? std::string("has no value (remove the key to use the default)")
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

  std::optional<bool> boolean(const field& f) {
    if (f.node.IsScalar() && f.node.Tag() == "?") {
      const std::string& s = f.node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    error(f, fmt::format("expected true or false, found {}", describe_node(f.node)));
    return std::nullopt;
  }

  std::optional<milliseconds> duration(const field& f, milliseconds min) {
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

  // For the fields the rest of the daemon keeps in whole seconds.
  std::optional<seconds> duration_seconds(const field& f) {
    auto d = duration(f, seconds{1});
    if (!d) return std::nullopt;
    if (d->count() % 1000 != 0) {
      error(f, "must be a whole number of seconds");
      return std::nullopt;
    }
    return std::chrono::duration_cast<seconds>(*d);
  }

  std::optional<std::vector<field>> list(const field& f) {
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

 private:
  static std::string duration_problem(const std::string& s) {
    if (s.empty())
      return fmt::format("expected a duration such as {}, found an empty string",
                         duration_examples);
    if (s[0] == '-') return fmt::format("must not be negative, found \"{}\"", s);
    const auto digits = s.find_first_not_of("0123456789");
    if (digits == std::string::npos)
      return fmt::format("\"{}\" has no unit; write it explicitly, e.g. {}s or {}ms", s, s, s);
    // A known unit after the digits: only the size can be wrong.
    if (digits > 0 && parse_duration("1" + s.substr(digits)))
      return fmt::format("\"{}\" is too large", s);
    return fmt::format("expected a duration such as {}, found \"{}\"", duration_examples, s);
  }

  diagnostics& diag_;
};

// ---------------------------------------------------------------------------------------------
// Validation helpers.

// Names appear in URLs (/v1/webhooks/<name>) and AMQP routing keys; keep them to a set that
// needs no escaping anywhere.
bool is_safe_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// "." and ".." are path segments that proxies normalise away before the request reaches us.
bool is_dot_segment(std::string_view s) { return s == "." || s == ".."; }

bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < 1 || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

// "host:port": a dotted IPv4 address or a bracketed IPv6 one. Host names are refused: the
// server binds one address and must not depend on a resolver at startup.
std::optional<std::string> parse_listen(std::string_view s, server_config& out) {
  std::string host;
  std::string_view port;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return "expected [IPv6]:port, e.g. [::1]:8080";
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      return fmt::format("\"{}\" is not an IPv6 address", host);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return "expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080";
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return "write IPv6 addresses in brackets, e.g. [::1]:8080";
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1)
      return fmt::format(
          "\"{}\" is not an IPv4 address (host names are not resolved; "
          "use e.g. 127.0.0.1 or 0.0.0.0)",
          host);
  }
  std::uint16_t p = 0;
  if (!parse_port(port, p))
    return fmt::format("port \"{}\" must be a number between 1 and 65535", port);
  out.host = std::move(host);
  out.port = p;
  return std::nullopt;
}

// Each non-empty line is one secret (several during a key rotation). Trailing whitespace is
// dropped because editors and `echo` add a newline that is never part of the secret.
// Read API tokens guard every customer's thread: at least this long.
constexpr std::size_t min_api_token_chars = 16;

std::optional<std::vector<std::string>> read_secret_file(const std::string& path,
                                                         std::string& problem) {
  constexpr std::size_t max_size = 1 << 20;  // a secrets file is a few lines; refuse a wrong path
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    problem = fmt::format("cannot read \"{}\": {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string data;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= max_size)
    data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    problem = fmt::format("cannot read \"{}\": {}", path, std::strerror(err));
    return std::nullopt;
  }
  if (data.size() > max_size) {
    problem = fmt::format("\"{}\" is larger than {} bytes; is it the right file?", path, max_size);
    return std::nullopt;
  }
  std::vector<std::string> secrets;
  std::size_t pos = 0;
  while (pos <= data.size()) {
    auto end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string line = data.substr(pos, end - pos);
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

// A whole small file (lists read at load); nullopt and `problem` when unreadable or too large.
std::optional<std::string> read_small_file(const std::string& path, std::size_t max_size,
                                           std::string& problem) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    problem = fmt::format("cannot read \"{}\": {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string data;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= max_size)
    data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    problem = fmt::format("cannot read \"{}\": {}", path, std::strerror(err));
    return std::nullopt;
  }
  if (data.size() > max_size) {
    problem = fmt::format("\"{}\" is larger than {} bytes; is it the right file?", path, max_size);
    return std::nullopt;
  }
  return data;
}

std::string known_channel_types() {
  std::vector<std::string> names;
  for (const auto& t : channel_types()) names.emplace_back(t.type);
  return join(names);
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

// ---------------------------------------------------------------------------------------------
// The loader: one section at a time, in dependency order (routes refer to channels and skills).

class loader {
 public:
  explicit loader(const std::string& file) : diag_(file), rd_(diag_) { cfg_.file = file; }

  config_load run(std::string_view yaml) {
    YAML::Node doc;
    try {
      // Not YAML::LoadAll: yaml-cpp 0.7 (Debian 12) loops for ever, allocating, on inputs as
      // small as "," (jbeder/yaml-cpp#1040; found by fuzz_config). Count the documents with
      // the event parser, which stops, then load the one there is.
      if (const auto second = second_document_line(yaml)) {
        diag_.add(*second, "", "only one YAML document is allowed (remove \"---\")");
        return finish();
      }
      doc = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      diag_.add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                fmt::format("YAML syntax error: {} (column {})", e.msg, e.mark.column + 1));
      return finish();
    }
    std::vector<YAML::Node> docs{doc};
    if (docs.empty() || docs[0].IsNull()) {
      diag_.add(1, "", "the file is empty; expected a mapping with channels, skills and routes");
      return finish();
    }
    try {
      load_root(field{docs[0], "", 1});
    } catch (const std::exception& e) {
      // Nothing here should throw; if yaml-cpp or an adapter does, say so rather than abort.
      diag_.add(0, "", fmt::format("internal error while loading: {}", e.what()));
    }
    return finish();
  }

 private:
  struct skill_seen {
    std::string name;
    std::optional<int> max_priority;  // unset when its own value was invalid
    // The links to other skills, checked once every skill is known (they may point forward).
    struct link {
      std::string target;
      field where;
    };
    std::optional<link> escalate_to;
    std::optional<link> overflow_to;
    bool quorum = false;
    bool limited = false;  // has max_length
  };

  config_load finish() {
    config_load out;
    if (diag_.count() == 0) {
      cfg_.routing = std::make_shared<const routing_table>(std::move(table_));
      out.cfg = std::move(cfg_);
    }
    out.errors = diag_.take();
    return out;
  }

  void load_root(const field& root) {
    mapping m(diag_, root);
    if (!m.ok()) return;
    if (auto f = m.take("server")) load_server(*f);
    if (auto f = m.take("store")) load_store(*f);
    if (auto f = m.take("broker")) load_broker(*f);
    if (auto f = m.require("channels", "add at least one channel under channels:"))
      load_channels(*f);
    if (auto f = m.require("skills", "add at least one skill, e.g. \"- name: general\""))
      load_skills(*f);
    if (auto f = m.take("schedules")) load_schedules(*f);
    if (auto f = m.require("routes", fmt::format("add at least the default route \"- skill: {}\"",
                                                 default_skill_hint())))
      load_routes(*f);
    m.finish();
  }

  void load_server(const field& f) {
    mapping m(diag_, f);
    auto& s = cfg_.server;
    if (auto v = m.take("listen"))
      if (auto text = rd_.text(*v))
        if (auto problem = parse_listen(*text, s)) rd_.error(*v, *problem);
    if (auto v = m.take("threads"))
      if (auto n = rd_.integer(*v, 0, 1024)) s.threads = static_cast<unsigned>(*n);
    if (auto v = m.take("max_body_bytes"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max()))
        s.max_body_bytes = *n;
    if (auto v = m.take("max_header_bytes"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max()))
        s.max_header_bytes = *n;
    if (auto v = m.take("max_connections"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max()))
        s.max_connections = *n;
    if (auto v = m.take("read_timeout"))
      if (auto d = rd_.duration(*v, milliseconds{1})) s.read_timeout = *d;
    if (auto v = m.take("api_tokens_file"))
      if (auto text = rd_.non_empty_text(*v)) {
        // One token a line, like a secret file; read at load so a reload picks up changes.
        std::string problem;
        if (auto tokens = read_secret_file(*text, problem)) {
          // A short token can be guessed over the network; the token itself is never echoed.
          for (std::size_t i = 0; i < tokens->size(); ++i)
            if ((*tokens)[i].size() < min_api_token_chars)
              rd_.error(*v, fmt::format("\"{}\": token {} of {} is too short ({} characters; "
                                        "at least {}: openssl rand -hex 32 makes one)",
                                        *text, i + 1, tokens->size(), (*tokens)[i].size(),
                                        min_api_token_chars));
          s.api_tokens = secret_set(*tokens);
        } else {
          rd_.error(*v, problem);
        }
        s.api_tokens_file = std::move(*text);
      }
    if (auto v = m.take("rate_limit")) load_rate_limit(*v, s.rate_limit);
    m.finish();
  }

  void load_rate_limit(const field& f, rate_limit_config& r) {
    mapping m(diag_, f);
    if (!m.ok()) return;
    const auto rate = [&](const char* key, std::uint32_t& out) {
      if (auto v = m.take(key))
        if (auto n = rd_.integer(*v, 0, 1'000'000)) out = static_cast<std::uint32_t>(*n);
    };
    rate("per_client", r.per_client);
    rate("per_client_burst", r.per_client_burst);
    rate("per_channel", r.per_channel);
    rate("per_channel_burst", r.per_channel_burst);
    rate("refused_per_client", r.refused_per_client);
    rate("refused_per_client_burst", r.refused_per_client_burst);
    rate("reads_per_client", r.reads_per_client);
    rate("reads_per_client_burst", r.reads_per_client_burst);
    if (auto v = m.take("trust_forwarded_for"))
      if (auto b = rd_.boolean(*v)) r.trust_forwarded_for = *b;
    m.finish();
  }

  void load_store(const field& f) {
    mapping m(diag_, f);
    auto& s = cfg_.store;
    if (auto v = m.take("path"))
      if (auto text = rd_.non_empty_text(*v)) s.path = std::move(*text);
    if (auto v = m.take("reopen_after"))
      if (auto d = rd_.duration_seconds(*v)) s.reopen_after = *d;
    if (auto v = m.take("thread_limit"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.thread_limit = *n;
    if (auto v = m.take("max_payload_bytes"))
      if (auto n = rd_.integer(*v, 64 << 10, 128 << 20)) s.max_payload_bytes = *n;
    if (auto v = m.take("max_backlog"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.max_backlog = *n;
    if (auto v = m.take("cache_bytes"))
      if (auto n = rd_.integer(*v, 1 << 20, 1 << 30)) s.cache_bytes = *n;
    if (auto v = m.take("max_page_count"))
      if (auto n = rd_.integer(*v, 0, std::numeric_limits<std::int64_t>::max()))
        s.max_page_count = *n;
    m.finish();
  }

  void load_broker(const field& f) {
    mapping m(diag_, f);
    auto& b = cfg_.broker;
    if (auto v = m.take("url"))
      if (auto text = rd_.non_empty_text(*v)) {
        if (text->rfind("amqp://", 0) == 0 || text->rfind("amqps://", 0) == 0)
          b.url = std::move(*text);
        else
          rd_.error(*v, "must start with amqp:// or amqps://");
      }
    if (auto v = m.take("exchange"))
      if (auto text = rd_.text(*v)) {
        if (auto problem = topology::amqp_name_problem(*text))
          rd_.error(*v, *problem);
        else
          b.exchange = std::move(*text);
      }
    if (auto v = m.take("confirm_window"))
      if (auto n = rd_.integer(*v, 1, 65535)) b.confirm_window = static_cast<unsigned>(*n);
    if (auto v = m.take("confirm_window_bytes"))
      if (auto n = rd_.integer(*v, 1 << 20, std::int64_t{1} << 34)) b.confirm_window_bytes = *n;
    m.finish();
  }

  // --- channels

  void load_channels(const field& f) {
    auto items = rd_.list(f);
    if (!items) return;
    if (items->empty()) rd_.error(f, "add at least one channel");
    for (const auto& item : *items) load_channel(item);
  }

  void load_channel(const field& item) {
    mapping m(diag_, item);
    if (!m.ok()) return;
    const std::size_t errors_before = diag_.count();
    channel_config cc;
    cc.line = item.line;

    if (auto v = m.require("name")) {
      if (auto name = rd_.text(*v)) {
        if (!is_safe_name(*name) || is_dot_segment(*name)) {
          rd_.error(*v, fmt::format("\"{}\" must be letters, digits, '.', '_' or '-' (it is the "
                                    "URL path /v1/webhooks/<name>)",
                                    *name));
        } else if (auto seen = channel_lines_.find(*name); seen != channel_lines_.end()) {
          rd_.error(*v, fmt::format("duplicate channel name \"{}\" (first at line {})", *name,
                                    seen->second));
        } else {
          channel_lines_.emplace(*name, item.line);
          cc.name = std::move(*name);
        }
      }
    }

    const channel_type_info* type = nullptr;
    if (auto v = m.require("type", fmt::format("one of: {}", known_channel_types()))) {
      if (auto t = rd_.text(*v)) {
        type = find_channel_type(*t);
        if (type == nullptr)
          rd_.error(*v, fmt::format("unknown channel type \"{}\"; known types: {}", *t,
                                    known_channel_types()));
        else
          cc.type = std::move(*t);
      }
    }
    if (!cc.name.empty() && type != nullptr) channel_types_.emplace(cc.name, cc.type);

    const auto secret = m.take("secret");
    const auto secret_file = m.take("secret_file");
    if (secret && secret_file) {
      rd_.error(*secret_file, "give either secret or secret_file, not both");
    } else if (secret) {
      read_inline_secrets(*secret, cc.secrets);
    } else if (secret_file) {
      if (auto path = rd_.non_empty_text(*secret_file)) {
        std::string problem;
        if (auto secrets = read_secret_file(*path, problem))
          cc.secrets = std::move(*secrets);
        else
          rd_.error(*secret_file, problem);
      }
    } else if (type != nullptr && type->needs_secret) {
      diag_.add(item.line, fmt::format("{}.secret", item.path),
                fmt::format(
                    "channel type {} needs a secret: add secret_file: <path> (or secret: <value>)",
                    type->type));
    }

    if (auto v = m.take("max_body_bytes"))
      if (auto n = rd_.integer(*v, 1, std::numeric_limits<std::size_t>::max()))
        cc.max_body_bytes = *n;
    if (auto v = m.take("tolerance"))
      if (auto d = rd_.duration_seconds(*v)) cc.tolerance = *d;

    if (type != nullptr)
      for (const auto key : type->option_keys)
        if (auto v = m.take(key))
          if (auto text = rd_.text(*v)) cc.options.emplace(std::string(key), std::move(*text));
    m.finish(type != nullptr);

    // Build the adapter only from a clean entry: its complaints about a half-read config would
    // only repeat the errors above.
    if (type == nullptr || diag_.count() != errors_before) return;
    if (type->make == nullptr) {
      diag_.add(item.line, item.path, fmt::format("channel type {} has no adapter", type->type));
      return;
    }
    auto made = type->make(cc);
    if (!made) {
      diag_.add(item.line, item.path, made.error().detail);
      return;
    }
    channel ch;
    ch.type = type;
    ch.handler = std::shared_ptr<const adapter>(std::move(*made));
    ch.config = std::move(cc);
    cfg_.channels.push_back(std::move(ch));
  }

  void read_inline_secrets(const field& f, std::vector<std::string>& out) {
    if (f.node.IsSequence()) {
      auto items = rd_.list(f);
      if (!items) return;
      if (items->empty()) rd_.error(f, "the list of secrets is empty");
      for (const auto& item : *items)
        if (auto s = rd_.non_empty_text(item)) out.push_back(std::move(*s));
      return;
    }
    if (f.node.IsMap()) {
      rd_.error(f, "expected a string or a list of strings, found a mapping");
      return;
    }
    if (auto s = rd_.non_empty_text(f)) out.push_back(std::move(*s));
  }

  // --- skills

  void load_skills(const field& f) {
    auto items = rd_.list(f);
    if (!items) return;
    if (items->empty()) rd_.error(f, "add at least one skill, e.g. \"- name: general\"");
    std::map<std::string, std::string, std::less<>> queues;  // queue -> skill, to refuse sharing
    for (const auto& item : *items) load_skill(item, queues);
    check_skill_links();
  }

  const skill_seen* find_skill_seen(std::string_view name) const {
    auto it = std::find_if(skills_seen_.begin(), skills_seen_.end(),
                           [&](const skill_seen& s) { return s.name == name; });
    return it == skills_seen_.end() ? nullptr : &*it;
  }

  std::string skill_names() const {
    std::vector<std::string> names;
    for (const auto& s : skills_seen_) names.push_back(s.name);
    return names.empty() ? std::string("(none)") : join(names);
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
          // A classic queue dead-letters at most once: a full target (reject-publish) makes the
          // broker drop the escalated message. Quorum queues dead-letter at least once.
          if (k.member == &skill_seen::escalate_to && target->limited && !skills_seen_[i].quorum)
            rd_.error(l->where,
                      fmt::format("skill \"{}\" has max_length: when its queue is full RabbitMQ "
                                  "drops messages dead-lettered from a classic queue. Remove "
                                  "max_length from \"{}\", or make skill \"{}\" queue_type: "
                                  "quorum (at-least-once dead-lettering)",
                                  l->target, l->target, skills_seen_[i].name));
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

  void load_skill(const field& item, std::map<std::string, std::string, std::less<>>& queues) {
    mapping m(diag_, item);
    if (!m.ok()) return;
    const std::size_t errors_before = diag_.count();
    skill_config sk;
    sk.line = item.line;
    bool named = false;
    if (auto v = m.require("name")) {
      if (auto name = rd_.text(*v)) {
        if (!is_safe_name(*name)) {
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
    std::optional<field> queue_field = m.take("queue");
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
        diag_.add(item.line, fmt::format("{}.queue", item.path),
                  fmt::format("the default queue \"{}\" {}; set queue:", sk.queue, *problem));
      } else if (auto other = queues.find(sk.queue); other != queues.end()) {
        diag_.add(queue_field ? queue_field->line : item.line, fmt::format("{}.queue", item.path),
                  fmt::format("queue \"{}\" is already used by skill {}; each skill needs its own",
                              sk.queue, other->second));
      } else {
        queues.emplace(sk.queue, sk.name);
      }
    }
    std::optional<field> type_field = m.take("queue_type");
    if (type_field)
      if (auto t = rd_.text(*type_field)) {
        if (*t == "classic" || *t == "quorum")
          sk.queue_type = std::move(*t);
        else
          rd_.error(*type_field, fmt::format("must be classic or quorum, found \"{}\"", *t));
      }
    std::optional<int> max_priority = 0;
    if (auto v = m.take("max_priority")) {
      auto n = rd_.integer(*v, 0, 255);
      max_priority = n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
      if (n && *n > 0 && sk.queue_type == "quorum") {
        rd_.error(*v,
                  "quorum queues have no priorities on RabbitMQ 3.x; remove max_priority or "
                  "use queue_type: classic");
        max_priority.reset();
      }
    }
    sk.max_priority = max_priority.value_or(0);

    // Escalation and overflow. The names they point to are checked in check_skill_links(),
    // when every skill is known.
    std::optional<field> escalate_after = m.take("escalate_after");
    std::optional<field> escalate_to = m.take("escalate_to");
    if (escalate_after)
      if (auto d = rd_.duration(*escalate_after, seconds{1})) {
        // x-message-ttl is milliseconds in 32 bits (RabbitMQ refuses more): about 49 days.
        if (d->count() > std::numeric_limits<std::uint32_t>::max())
          rd_.error(*escalate_after, "must be at most 49d (RabbitMQ's x-message-ttl limit)");
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
    std::optional<field> max_length = m.take("max_length");
    std::optional<field> overflow_to = m.take("overflow_to");
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
      skill_seen seen{sk.name, max_priority, std::nullopt, std::nullopt,
                      sk.queue_type == "quorum", max_length.has_value()};
      if (sk.escalate_to) seen.escalate_to = skill_seen::link{*sk.escalate_to, *escalate_to};
      if (sk.overflow_to) seen.overflow_to = skill_seen::link{*sk.overflow_to, *overflow_to};
      skills_seen_.push_back(std::move(seen));
    }
    if (diag_.count() == errors_before) table_.skills.push_back(std::move(sk));
  }

  std::string default_skill_hint() const {
    for (const auto& s : skills_seen_)
      if (s.name == "general") return s.name;
    return skills_seen_.empty() ? "general" : skills_seen_.front().name;
  }

  // --- routes

  void load_routes(const field& f) {
    auto items = rd_.list(f);
    if (!items) return;
    if (items->empty()) {
      rd_.error(
          f, fmt::format("add at least the default route \"- skill: {}\"", default_skill_hint()));
      return;
    }
    std::optional<field> first_default;
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
                            default_skill_hint()));
  }

  // Returns whether the route has a `when`.
  bool load_route(const field& item) {
    mapping m(diag_, item);
    if (!m.ok()) return false;  // not a route at all: its own error says so
    const std::size_t errors_before = diag_.count();
    route r;
    r.line = item.line;
    bool has_when = false;
    if (auto v = m.take("when")) {
      has_when = true;
      r.when = load_condition(*v);
    }
    const skill_seen* skill = nullptr;
    if (auto v = m.require("skill")) {
      if (auto name = rd_.text(*v)) {
        auto it = std::find_if(skills_seen_.begin(), skills_seen_.end(),
                               [&](const skill_seen& s) { return s.name == *name; });
        if (it == skills_seen_.end()) {
          std::vector<std::string> names;
          for (const auto& s : skills_seen_) names.push_back(s.name);
          rd_.error(*v, fmt::format("unknown skill \"{}\"; skills: {}", *name,
                                    names.empty() ? std::string("(none)") : join(names)));
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
    if (diag_.count() == errors_before) table_.routes.push_back(std::move(r));
    return has_when;
  }

  // --- schedules

  // The entries of a mapping whose keys are names chosen by ops (schedule names, day sets):
  // each as (key, field), with duplicate and non-scalar keys reported.
  std::vector<std::pair<std::string, field>> entries_of(const field& f) {
    std::vector<std::pair<std::string, field>> out;
    if (!f.node.IsMap()) {
      rd_.error(
          f, fmt::format("expected a mapping (key: value lines), found {}", describe_node(f.node)));
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

  void load_schedules(const field& f) {
    for (auto& [name, item] : entries_of(f)) {
      if (!is_safe_name(name)) {
        rd_.error(item, fmt::format("\"{}\" must be letters, digits, '.', '_' or '-'", name));
        continue;
      }
      // Known even when invalid, so routes naming it do not add "unknown schedule" errors.
      schedule_lines_.emplace(name, item.line);
      if (auto sc = load_schedule(name, item)) {
        schedules_.emplace(name, sc);
        table_.schedules.push_back(std::move(sc));
      }
    }
  }

  std::shared_ptr<const schedule> load_schedule(const std::string& name, const field& item) {
    mapping m(diag_, item);
    if (!m.ok()) return nullptr;
    const std::size_t errors_before = diag_.count();
    auto sc = std::make_shared<schedule>();
    sc->name = name;
    sc->line = item.line;
    if (auto v = m.require("timezone", "an IANA name such as Europe/Riga"))
      if (auto tz = rd_.non_empty_text(*v)) {
        std::string problem;
        sc->zone = find_time_zone(*tz, problem);
        if (sc->zone == nullptr) rd_.error(*v, problem);
        sc->timezone = std::move(*tz);
      }
    if (auto v = m.require("hours", "e.g. hours: {mon-fri: \"09:00-18:00\"}")) {
      std::array<int, 7> day_line{};  // where each day was given, to refuse a second mention
      const auto days = entries_of(*v);
      if (days.empty() && v->node.IsMap())
        rd_.error(*v, "give at least one day, e.g. mon-fri: \"09:00-18:00\"");
      for (const auto& [key, ranges] : days) {
        std::string problem;
        const auto which = parse_days(key, problem);
        if (!which) {
          rd_.error(ranges, problem);
          continue;
        }
        bool clash = false;
        for (const int d : *which)
          if (day_line[static_cast<std::size_t>(d)] != 0) {
            rd_.error(ranges, fmt::format("{} is already given at line {}", day_name(d),
                                          day_line[static_cast<std::size_t>(d)]));
            clash = true;
            break;
          }
        if (clash) continue;
        for (const int d : *which) day_line[static_cast<std::size_t>(d)] = ranges.line;
        for (const auto& text : string_list(ranges)) {
          if (auto r = parse_time_range(text.second, problem))
            for (const int d : *which) sc->days[static_cast<std::size_t>(d)].push_back(*r);
          else
            rd_.error(text.first, problem);
        }
      }
    }
    if (auto v = m.take("closed")) {
      if (auto items = rd_.list(*v))
        for (const auto& item_field : *items)
          if (auto text = rd_.text(item_field)) {
            std::string problem;
            if (auto d = parse_local_date(*text, problem))
              sc->closed.push_back(*d);
            else
              rd_.error(item_field, problem);
          }
      std::sort(sc->closed.begin(), sc->closed.end());
    }
    m.finish();
    if (diag_.count() != errors_before) return nullptr;
    return sc;
  }

  // A string or a list of strings, each with the field to report it under. Errors reported.
  std::vector<std::pair<field, std::string>> string_list(const field& f) {
    std::vector<std::pair<field, std::string>> out;
    if (f.node.IsSequence()) {
      auto items = rd_.list(f);
      if (!items) return out;
      if (items->empty()) rd_.error(f, "the list is empty; remove the key instead");
      for (const auto& item : *items)
        if (auto t = rd_.non_empty_text(item)) out.emplace_back(item, std::move(*t));
      return out;
    }
    if (f.node.IsMap()) {
      rd_.error(f, "expected a string or a list of strings, found a mapping");
      return out;
    }
    if (auto t = rd_.non_empty_text(f)) out.emplace_back(f, std::move(*t));
    return out;
  }

  // string_list with each item checked by `problem_of` (nullopt: fine).
  template <class Check>
  std::vector<std::string> checked_list(const field& f, Check problem_of) {
    std::vector<std::string> out;
    for (auto& [where, text] : string_list(f)) {
      if (std::optional<std::string> problem = problem_of(text))
        rd_.error(where, *problem);
      else
        out.push_back(std::move(text));
    }
    return out;
  }

  std::shared_ptr<const re2::RE2> load_regex(const field& f) {
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

  std::shared_ptr<const schedule> schedule_named(const field& f) {
    auto name = rd_.non_empty_text(f);
    if (!name) return nullptr;
    if (auto it = schedules_.find(*name); it != schedules_.end()) return it->second;
    if (!schedule_lines_.contains(*name)) {
      std::vector<std::string> names;
      for (const auto& [n, line] : schedule_lines_) names.push_back(n);
      rd_.error(f, fmt::format("unknown schedule \"{}\"; {}", *name,
                               names.empty() ? std::string("add it under schedules:")
                                             : "schedules: " + join(names)));
    }
    return nullptr;
  }

  // Read once per file, however many routes name it.
  std::shared_ptr<const identity_list> customer_list(const field& f) {
    auto path = rd_.non_empty_text(f);
    if (!path) return nullptr;
    if (auto it = customer_lists_.find(*path); it != customer_lists_.end()) {
      if (!it->second) rd_.error(f, fmt::format("\"{}\" could not be loaded (see above)", *path));
      return it->second;
    }
    constexpr std::size_t max_size = 64 << 20;
    std::string problem;
    std::shared_ptr<const identity_list> out;
    if (auto text = read_small_file(*path, max_size, problem)) {
      auto parsed = parse_identity_list(*text, *path);
      for (const auto& e : parsed.errors) rd_.error(f, fmt::format("{}: {}", *path, e));
      if (parsed.list) out = std::make_shared<const identity_list>(std::move(*parsed.list));
    } else {
      rd_.error(f, problem);
    }
    customer_lists_.emplace(*path, out);
    return out;
  }

  std::optional<route_condition> load_condition(const field& f) {
    mapping m(diag_, f);
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
        if (!channel_lines_.contains(*name))
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
          if (auto it = channel_types_.find(*channel_name);
              it != channel_types_.end() && it->second != *t)
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
          checked_list(*v, [](const std::string&) { return std::optional<std::string>(); });
    if (auto v = take("text_matches")) c.text_matches = load_regex(*v);
    if (auto v = take("subject_matches")) c.subject_matches = load_regex(*v);
    if (auto v = take("ivr_digits"))
      c.ivr_digits = checked_list(*v, [](const std::string& d) -> std::optional<std::string> {
        if (std::all_of(d.begin(), d.end(),
                        [](char ch) { return (ch >= '0' && ch <= '9') || ch == '*' || ch == '#'; }))
          return std::nullopt;
        return fmt::format("\"{}\" holds keys a phone has not; use 0-9, * and #", d);
      });
    if (auto v = take("language"))
      c.language = checked_list(*v, [](const std::string& code) -> std::optional<std::string> {
        if (code.size() == 2 && normalize_language_tag(code) == code) return std::nullopt;
        return fmt::format("\"{}\" is not a lower-case ISO 639-1 code such as lv, lt, en", code);
      });
    if (auto v = take("identity_type"))
      c.identity_type = checked_list(*v, [](const std::string& t) -> std::optional<std::string> {
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

  diagnostics diag_;
  reader rd_;
  config cfg_;
  routing_table table_;
  std::map<std::string, int, std::less<>> channel_lines_;          // name -> line
  std::map<std::string, std::string, std::less<>> channel_types_;  // name -> type
  std::vector<skill_seen> skills_seen_;
  std::map<std::string, int, std::less<>> schedule_lines_;  // every schedule named, even invalid
  std::map<std::string, std::shared_ptr<const schedule>, std::less<>> schedules_;  // valid ones
  std::map<std::string, std::shared_ptr<const identity_list>, std::less<>> customer_lists_;
};

}  // namespace

config_load parse_config(std::string_view yaml, const std::string& file) {
  return loader(file).run(yaml);
}

config_load load_config(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    config_load out;
    out.errors.push_back(fmt::format("{}: cannot read the file: {}", path, std::strerror(errno)));
    return out;
  }
  std::string text;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    config_load out;
    out.errors.push_back(fmt::format("{}: cannot read the file: {}", path, std::strerror(err)));
    return out;
  }
  return parse_config(text, path);
}

}  // namespace sb
