#include "channels/content.hpp"

#include <fmt/core.h>

#include <cmath>

namespace sb {

bool valid_coordinates(double latitude, double longitude) noexcept {
  return std::isfinite(latitude) && std::isfinite(longitude) && std::fabs(latitude) <= 90 &&
         std::fabs(longitude) <= 180;
}

boost::json::object place_json(const place& p) {
  boost::json::object o{{"latitude", p.latitude}, {"longitude", p.longitude}};
  if (!p.name.empty()) o["name"] = p.name;
  if (!p.address.empty()) o["address"] = p.address;
  if (!p.url.empty()) o["url"] = p.url;
  return o;
}

std::string place_text(const place& p) {
  const std::string coordinates = fmt::format("{:.6f}, {:.6f}", p.latitude, p.longitude);
  std::string label = p.name;
  if (!p.address.empty() && p.address != p.name) label += (label.empty() ? "" : ", ") + p.address;
  if (label.empty()) return "Location: " + coordinates;
  return fmt::format("Location: {} ({})", label, coordinates);
}

std::string contact_text(std::string_view name, std::string_view phone) {
  std::string out = "Contact: ";
  out += name;
  if (!name.empty() && !phone.empty()) out += ", ";
  out += phone;
  return out;
}

void append_generated_line(inbound_message& msg, std::string_view line) {
  if (!msg.text.empty()) msg.text += '\n';
  if (msg.generated_text_from == std::string::npos) msg.generated_text_from = msg.text.size();
  msg.text += line;
}

void add_place(inbound_message& msg, const place& p) {
  msg.extra["location"] = place_json(p);
  append_generated_line(msg, place_text(p));
}

}  // namespace sb
