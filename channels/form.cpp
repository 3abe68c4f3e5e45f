#include "channels/form.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace sb {

form::form(std::vector<form_field> fields) : fields_(std::move(fields)) {
  by_name_.resize(fields_.size());
  for (std::uint32_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
  // Stable: of equal names, the first sent comes first.
  std::stable_sort(by_name_.begin(), by_name_.end(), [this](std::uint32_t a, std::uint32_t b) {
    return fields_[a].name < fields_[b].name;
  });
}

const std::string* form::first(std::string_view name) const noexcept {
  const auto it =
      std::lower_bound(by_name_.begin(), by_name_.end(), name,
                       [this](std::uint32_t i, std::string_view n) { return fields_[i].name < n; });
  return it != by_name_.end() && fields_[*it].name == name ? &fields_[*it].value : nullptr;
}

std::optional<form> parse_form(std::string_view body) {
  std::vector<form_field> out;
  if (body.empty()) return form{};
  // A NUL-terminated copy: Boost.URL 1.81's parse_query was seen reading past the view's end
  // up to a NUL (a view into Beast's buffer has none), which ASan reported.
  const std::string text(body);
  auto params = boost::urls::parse_query(text);
  if (!params) return std::nullopt;
  boost::urls::encoding_opts opt;
  opt.space_as_plus = true;
  out.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '&')) + 1);
  for (const auto& p : *params) {
    if (p.key.empty() && !p.has_value) continue;  // "a=1&&b=2"
    out.push_back({p.key.decode(opt), p.has_value ? p.value.decode(opt) : std::string()});
  }
  return form(std::move(out));
}

const std::string* form_value(const form& f, std::string_view name) noexcept {
  return f.first(name);
}

std::string form_encode(const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  boost::urls::encoding_opts opt;
  opt.space_as_plus = true;
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += boost::urls::encode(name, boost::urls::unreserved_chars, opt);
    out += '=';
    out += boost::urls::encode(value, boost::urls::unreserved_chars, opt);
  }
  return out;
}

}  // namespace sb
