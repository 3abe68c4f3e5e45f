// The config file's reading kit: the only code that touches yaml-cpp. Each layer parses its own
// section with it (server: daemon/server_settings.cpp, store: store/settings.cpp, broker and
// skills: broker/settings.cpp, channels: channels/settings.cpp, schedules and routes:
// routing/settings.cpp); daemon/config.cpp assembles them.
//
// It is strict on purpose: an unknown key is far more often a typo (or a feature this version
// lacks) than something safe to ignore, and ops must learn that at `--check-config` time, not
// when a message goes to the wrong queue. Every problem is reported with file, line and dotted
// key path, all of them at once, in file order.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::conf {

// The largest exact unit, so error messages echo what ops would write ("5m", "1500ms").
std::string format_duration(std::chrono::milliseconds d);

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

// Names appear in URLs (/v1/webhooks/<name>) and AMQP routing keys; keep them to a set that
// needs no escaping anywhere.
bool is_safe_name(std::string_view s);

// "." and ".." are path segments that proxies normalise away before the request reaches us.
bool is_dot_segment(std::string_view s);

// Each non-empty line is one secret (several during a key rotation). Trailing whitespace is
// dropped because editors and `echo` add a newline that is never part of the secret.
std::optional<std::vector<std::string>> read_secret_file(const std::string& path,
                                                         std::string& problem);

// The bytes of the file at `path`, up to a little past `max_size` (more than max_size means the
// file is larger); nullopt, with errno's value in `err`, when it cannot be read.
std::optional<std::string> read_file_prefix(const std::string& path, std::size_t max_size,
                                            int& err);

// A whole small file (lists read at load); nullopt and `problem` when unreadable or too large.
std::optional<std::string> read_small_file(const std::string& path, std::size_t max_size,
                                           std::string& problem);

// Every problem, with file, line and dotted key path, sorted into file order at the end so ops
// can fix them top to bottom.
class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  // `line` is 1-based; 0 means the problem is about the file as a whole.
  void add(int line, std::string_view key, std::string_view message);
  std::size_t count() const noexcept { return errors_.size(); }
  std::vector<std::string> take();

 private:
  struct entry {
    int line;
    std::string text;
  };
  std::string file_;
  std::vector<entry> errors_;
};

// A value with the dotted path and line to report it under.
struct field {
  YAML::Node node;
  std::string path;
  int line = 0;
};

std::string child_path(std::string_view parent, std::string_view key);

// The one document of a YAML text as the root field; nullopt, with the problem reported, when
// the text is not one document of YAML or is empty.
std::optional<field> load_document(std::string_view yaml, diagnostics& diag);

// One YAML mapping, read key by key. Every key the code asks for (`take`, `require`) is an
// allowed key; `finish()` reports the others as unknown. Adding a config key is therefore one
// more `take()` call, and the "allowed keys" list in errors can never drift from the code.
class mapping {
 public:
  mapping(diagnostics& diag, const field& f);

  bool ok() const noexcept { return ok_; }

  std::optional<field> take(std::string_view key);
  std::optional<field> require(std::string_view key, std::string_view hint = {});

  // Reports every key nobody asked for. `report = false` when the allowed set is not knowable
  // (a channel of an unknown type): the type error is the useful one.
  void finish(bool report = true);

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
// Strings have `${VAR}` and `${VAR:-default}` expanded from the environment.
class reader {
 public:
  explicit reader(diagnostics& diag) : diag_(diag) {}
  diagnostics& diag() { return diag_; }

  void error(const field& f, std::string_view message) { diag_.add(f.line, f.path, message); }

  std::optional<std::string> text(const field& f);
  std::optional<std::string> non_empty_text(const field& f);
  // Integers are plain decimal scalars: a quoted "5" is a string, and ops who quote a number
  // usually meant something else (a duration, a name).
  std::optional<std::uint64_t> integer(const field& f, std::uint64_t min, std::uint64_t max);
  std::optional<bool> boolean(const field& f);
  std::optional<std::chrono::milliseconds> duration(const field& f,
                                                    std::chrono::milliseconds min);
  // For the fields the rest of the daemon keeps in whole seconds.
  std::optional<std::chrono::seconds> duration_seconds(const field& f);
  std::optional<std::vector<field>> list(const field& f);

  // The entries of a mapping whose keys are names chosen by ops (schedule names, day sets):
  // each as (key, field), with duplicate and non-scalar keys reported.
  std::vector<std::pair<std::string, field>> entries_of(const field& f);

  // A string or a list of strings, each with the field to report it under. Errors reported;
  // `if_empty` is the one for an empty list.
  std::vector<std::pair<field, std::string>> string_list(
      const field& f, std::string_view if_empty = "the list is empty; remove the key instead");

  // string_list with each item checked by `problem_of` (nullopt: fine).
  template <class Check>
  std::vector<std::string> checked_list(const field& f, Check problem_of) {
    std::vector<std::string> out;
    for (auto& [where, text] : string_list(f)) {
      if (std::optional<std::string> problem = problem_of(text))
        error(where, *problem);
      else
        out.push_back(std::move(text));
    }
    return out;
  }

 private:
  diagnostics& diag_;
};

}  // namespace sb::conf
