#include "channels/form.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

namespace sb {

std::optional<form> parse_form(std::string_view body) {
  form out;
  if (body.empty()) return out;
  // A NUL-terminated copy: Boost.URL 1.81's parse_query was seen reading past the view's end
  // up to a NUL (a view into Beast's buffer has none), which ASan reported.
  const std::string text(body);
  auto params = boost::urls::parse_query(text);
  if (!params) return std::nullopt;
  boost::urls::encoding_opts opt;
  opt.space_as_plus = true;
  for (const auto& p : *params) {
    if (p.key.empty() && !p.has_value) continue;  // "a=1&&b=2"
    out.push_back({p.key.decode(opt), p.has_value ? p.value.decode(opt) : std::string()});
  }
  return out;
}

const std::string* form_value(const form& f, std::string_view name) noexcept {
  for (const auto& field : f)
    if (field.name == name) return &field.value;
  return nullptr;
}

}  // namespace sb
