// Identity lists: parsed once at config load, looked up per message.
#include "routing/identity_list.hpp"

#include "channels/normalize.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace sb {

namespace {

constexpr std::array<std::string_view, 9> identity_types = {
    "email",    "phone", "whatsapp", "whatsapp_bsuid", "messenger", "instagram",
    "telegram", "x",     "chat"};

constexpr std::size_t max_errors = 20;  // a wrong file would otherwise flood the log

// A line's white space (its \n is already gone).
std::string_view trim(std::string_view s) { return ascii_trim(s, " \t\r\v\f"); }

std::string key(std::string_view type, std::string_view value) {
  std::string k(type);
  k += ':';
  k += value;
  return k;
}

// Channels record emails normalized and phones in E.164; accept the spacing people type
// ("+371 2000 0000", "+1 (555) 010-0000") and store what channels record.
std::optional<std::string> normalize(std::string_view type, std::string_view value,
                                     std::string& problem) {
  if (type == "email") {
    // As channels write them (channels/normalize.hpp): "Ann@BÜCHER.example" and
    // "ann@xn--bcher-kva.example" are one entry.
    if (auto address = normalize_email(value)) return address;
    problem = fmt::format("\"{}\" is not an email address", value);
    return std::nullopt;
  }
  if (type == "phone" || type == "whatsapp") {
    std::string digits;
    for (char c : value) {
      if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') continue;
      digits += c;
    }
    const bool e164 =
        digits.size() >= 3 && digits.size() <= 16 && digits[0] == '+' &&
        std::all_of(digits.begin() + 1, digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (type == "phone" && !e164) {
      problem = fmt::format("\"{}\" is not an E.164 number (+ and country code, e.g. +37120000000)",
                            value);
      return std::nullopt;
    }
    // WhatsApp ids are the number without '+'.
    if (type == "whatsapp" && !digits.empty() && digits[0] == '+') digits.erase(0, 1);
    return digits;
  }
  return std::string(value);
}

}  // namespace

bool is_identity_type(std::string_view type) noexcept {
  return std::find(identity_types.begin(), identity_types.end(), type) != identity_types.end();
}

std::string known_identity_types() {
  std::string out;
  for (const auto t : identity_types) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

bool identity_list::contains(const identity& id) const {
  if (entries.contains(key(id.type, id.value))) return true;
  if (domains.empty() || id.type != "email") return false;
  const auto at = id.value.rfind('@');
  return at != std::string::npos && domains.contains(id.value.substr(at + 1));
}

bool identity_list::contains_any(const std::vector<identity>& ids) const {
  return std::any_of(ids.begin(), ids.end(), [&](const identity& id) { return contains(id); });
}

identity_list_parse parse_identity_list(std::string_view text, std::string file) {
  identity_list_parse out;
  identity_list list;
  list.file = std::move(file);
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    std::string problem;
    if (colon == std::string_view::npos) {
      problem = fmt::format("\"{}\" is not \"type:value\" (e.g. email:jane@example.com)", line);
    } else {
      const std::string type = ascii_lowered(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (!is_identity_type(type) && type != "email_domain") {
        problem = fmt::format("unknown identity type \"{}\"; known types: {}, email_domain", type,
                              known_identity_types());
      } else if (value.empty()) {
        problem = fmt::format("\"{}\" has no value after the colon", line);
      } else if (type == "email_domain") {
        // Written the way an address's domain is (lower case, Unicode): normalised as one.
        const auto address = normalize_email("x@" + std::string(value));
        if (address) {
          list.domains.insert(address->substr(2));
          continue;
        }
        problem = fmt::format("\"{}\" is not an e-mail domain", value);
      } else if (auto v = normalize(type, value, problem)) {
        list.entries.insert(key(type, *v));
        continue;
      }
    }
    if (out.errors.size() < max_errors)
      out.errors.push_back(fmt::format("line {}: {}", line_no, problem));
  }
  if (out.errors.empty()) out.list = std::move(list);
  return out;
}

}  // namespace sb
