#include "channels/common/json_reader.hpp"

#include "channels/normalize.hpp"

#include <fmt/core.h>

#include <utility>

namespace sb {
namespace {

namespace json = boost::json;

// 9999-12-31T23:59:59.999Z: format_time and the store handle nothing later.
constexpr millis latest_time = 253'402'300'799'999;

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

// ---- object_reader ------------------------------------------------------------------------

std::string object_reader::path_of(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string out;
  out.reserve(path_.size() + 1 + key.size());
  out += path_;
  out += '.';
  out += key;
  return out;
}

const json::value* object_reader::get(std::string_view key) const noexcept {
  const json::value* v = obj_->if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

result<std::optional<std::string>> object_reader::string(std::string_view key) const {
  const json::value* v = get(key);
  if (v == nullptr) return std::optional<std::string>{};
  if (const json::string* s = v->if_string()) return std::optional<std::string>{std::string(*s)};
  return malformed(fmt::format("field {} must be a string", path_of(key)));
}

result<std::optional<std::string>> object_reader::id(std::string_view key) const {
  const json::value* v = get(key);
  if (v == nullptr) return std::optional<std::string>{};
  if (const json::string* s = v->if_string()) {
    if (s->empty()) return std::optional<std::string>{};
    if (s->size() > max_id_bytes)
      return malformed(
          fmt::format("field {} must be at most {} bytes", path_of(key), max_id_bytes));
    if (has_control_character(*s))
      return malformed(fmt::format("field {} contains a control character", path_of(key)));
    return std::optional<std::string>{std::string(*s)};
  }
  if (const std::uint64_t* u = v->if_uint64())
    return std::optional<std::string>{std::to_string(*u)};
  if (const std::int64_t* i = v->if_int64(); i != nullptr && *i >= 0)
    return std::optional<std::string>{std::to_string(*i)};
  return malformed(fmt::format("field {} must be a string", path_of(key)));
}

result<std::string> object_reader::required_id(std::string_view key) const {
  SB_TRY(v, id(key));
  if (!*v) return malformed(fmt::format("field {} is required", path_of(key)));
  return std::move(**v);
}

result<std::optional<bool>> object_reader::boolean(std::string_view key) const {
  const json::value* v = get(key);
  if (v == nullptr) return std::optional<bool>{};
  if (const bool* b = v->if_bool()) return std::optional<bool>{*b};
  return malformed(fmt::format("field {} must be true or false", path_of(key)));
}

result<std::optional<millis>> object_reader::epoch(std::string_view key, epoch_unit unit) const {
  const json::value* v = get(key);
  if (v == nullptr) return std::optional<millis>{};
  const auto bad = [&] {
    return malformed(fmt::format("field {} must be a unix time (an integer)", path_of(key)));
  };
  std::int64_t n = 0;
  if (const std::int64_t* i = v->if_int64()) {
    n = *i;
  } else if (const json::string* s = v->if_string()) {
    // At most 18 digits: fits int64 without overflow checks.
    if (!all_digits(*s) || s->size() > 18) return bad();
    for (char c : *s) n = n * 10 + (c - '0');
  } else if (v->is_uint64()) {
    return malformed(fmt::format("field {} is out of range", path_of(key)));
  } else {
    return bad();
  }
  if (n < 0) return bad();
  const bool seconds =
      unit == epoch_unit::seconds || (unit == epoch_unit::guess && n < 100'000'000'000);
  if (seconds) {
    if (n > latest_time / 1000)
      return malformed(fmt::format("field {} is out of range", path_of(key)));
    n *= 1000;
  }
  if (n > latest_time) return malformed(fmt::format("field {} is out of range", path_of(key)));
  return std::optional<millis>{n};
}

result<const json::object*> object_reader::object(std::string_view key) const {
  const json::value* v = get(key);
  if (v == nullptr) return static_cast<const json::object*>(nullptr);
  if (const json::object* o = v->if_object()) return o;
  return malformed(fmt::format("field {} must be an object", path_of(key)));
}

result<const json::object*> object_reader::required_object(std::string_view key) const {
  SB_TRY(o, object(key));
  if (*o == nullptr) return malformed(fmt::format("field {} is required", path_of(key)));
  return *o;
}

result<const json::array*> object_reader::array(std::string_view key) const {
  const json::value* v = get(key);
  if (v == nullptr) return static_cast<const json::array*>(nullptr);
  if (const json::array* a = v->if_array()) return a;
  return malformed(fmt::format("field {} must be an array", path_of(key)));
}

result<object_reader> object_reader::element(const json::array& list, std::string_view key,
                                             std::size_t i) const {
  std::string path = fmt::format("{}[{}]", path_of(key), i);
  if (const json::object* o = list[i].if_object()) return object_reader{*o, std::move(path)};
  return malformed(fmt::format("field {} must be an object", path));
}

}  // namespace sb
