// Reading the providers' own JSON payloads (Meta's webhooks, X's Account Activity events) with
// every refusal naming the field by its full path ("entry[0].messaging[2].sender.id"), so the
// operator learns exactly what the provider sent that we could not read (the reason of an event
// kept unreadable, or a 400 when the envelope itself cannot be read).
//
// Used by channels/meta/ (and the Meta types) and channels/x/; any JSON provider may use it.
#pragma once

#include "channels/channel.hpp"
#include "channels/common/errors.hpp"
#include "channels/common/limits.hpp"
#include "channels/unreadable.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

enum class epoch_unit {
  seconds,
  milliseconds,
  // Meta documents milliseconds for Messenger but its dashboard test events send seconds:
  // values below 10^11 (1973 in milliseconds, year 5138 in seconds) are read as seconds.
  guess,
};

// The fields of one object of the payload. `path` names the object itself ("" for the body).
// Absent and null are the same: providers serialize missing optionals either way.
class object_reader {
 public:
  object_reader(const boost::json::object& obj, std::string path)
      : obj_(&obj), path_(std::move(path)) {}

  const boost::json::object& object() const noexcept { return *obj_; }
  const std::string& path() const noexcept { return path_; }
  // "entry[0]" + "id" → "entry[0].id"
  std::string path_of(std::string_view key) const;

  // nullptr when absent or null.
  const boost::json::value* get(std::string_view key) const noexcept;

  result<std::optional<std::string>> string(std::string_view key) const;
  // An identifier: a non-empty string of at most max_id_bytes without control characters (ids
  // become store keys), or a non-negative integer (written as decimal; Meta has sent numeric
  // ids in some payloads).
  result<std::optional<std::string>> id(std::string_view key) const;
  result<std::string> required_id(std::string_view key) const;
  result<std::optional<bool>> boolean(std::string_view key) const;
  // A time since the epoch as an integer or a string of digits.
  result<std::optional<millis>> epoch(std::string_view key, epoch_unit unit) const;

  // nullptr when absent or null.
  result<const boost::json::object*> object(std::string_view key) const;
  result<const boost::json::object*> required_object(std::string_view key) const;
  result<const boost::json::array*> array(std::string_view key) const;

  // A reader for the object at array index i: error when that element is not an object.
  result<object_reader> element(const boost::json::array& list, std::string_view key,
                                std::size_t i) const;
  object_reader child(const boost::json::object& obj, std::string_view key) const {
    return {obj, path_of(key)};
  }

 private:
  const boost::json::object* obj_;
  std::string path_;
};

// Reads each element of `list` (the array at parent.path_of(key)) as one event of a batch:
// `read(const object_reader&)` returns sb::error; an element that is not an object, or whose
// reader fails, is kept as unreadable (channels/unreadable.hpp) and the next one is read.
template <class Read>
void for_each_event(parse_result& out, const object_reader& parent, const boost::json::array& list,
                    std::string_view key, Read&& read) {
  for (std::size_t i = 0; i < list.size(); ++i)
    read_or_keep(out, fmt::format("{}[{}]", parent.path_of(key), i), &list[i], [&]() -> error {
      SB_TRY(element, parent.element(list, key, i));
      return read(*element);
    });
}

}  // namespace sb
