// Structured content some channels carry instead of text (a shared location, a contact card),
// kept in the message as it is (extra["location"], extra["contacts"]) and also written as text,
// one wording for every channel, so that an agent reading the thread and a route matching
// `text_matches` see it.
#pragma once

#include "channels/message.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace sb {

struct place {
  double latitude = 0;
  double longitude = 0;
  std::string name;     // empty when not given
  std::string address;  // empty when not given
  std::string url;      // empty when not given
};

// true when both coordinates are finite and in range (latitude ±90, longitude ±180).
bool valid_coordinates(double latitude, double longitude) noexcept;

// {"latitude", "longitude", "name", "address", "url"}, the last three only when given.
boost::json::object place_json(const place& p);

// "Location: Pizza Hut, Main St 1 (50.028786, 19.953454)"; without a name and an address,
// "Location: 50.028786, 19.953454".
std::string place_text(const place& p);

// "Contact: Ann Lee, +15550102000" (either part may be missing).
std::string contact_text(std::string_view name, std::string_view phone);

// Sets msg.extra["location"] and appends the place's text to msg.text (on a line of its own).
void add_place(inbound_message& msg, const place& p);

// Appends `line` to msg.text on a line of its own, as Switchboard's wording rather than the
// customer's (msg.generated_text_from): the language is detected from the customer's part only.
void append_generated_line(inbound_message& msg, std::string_view line);

}  // namespace sb
