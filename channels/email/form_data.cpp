// multipart/form-data (RFC 7578) with GMime: the body is a MIME multipart whose boundary is in
// the HTTP Content-Type, so it is parsed as a MIME entity with that one header in front.
#include "channels/email/email.hpp"

#include "channels/common/errors.hpp"
#include "channels/email/gmime_util.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <utility>

namespace sb::email {
namespace {

constexpr int max_form_parts = 1000;
constexpr std::size_t max_boundary_chars = 70;  // RFC 2046 section 5.1.1

// GMime, like every mail parser, accepts a multipart cut short. A form body is produced by a
// program in one piece: without its closing delimiter ("--boundary--" at a line start) it was
// cut in transit, and its last field cannot be trusted.
bool has_closing_delimiter(std::string_view body, std::string_view boundary) {
  const std::string closing = fmt::format("--{}--", boundary);
  for (std::size_t pos = body.find(closing); pos != std::string_view::npos;
       pos = body.find(closing, pos + 1))
    if (pos == 0 || body[pos - 1] == '\n') return true;
  return false;
}

}  // namespace

result<std::vector<form_part>> parse_form_data(std::string_view content_type_header,
                                               std::string_view body) {
  if (content_type_header.find_first_of("\r\n") != std::string_view::npos)
    return malformed("Content-Type holds a line break");
  const content_type ct = parse_content_type(content_type_header);
  if (ct.boundary.empty()) return malformed("Content-Type multipart/form-data has no boundary");
  // Before anything reads the body: a long boundary makes every search for it slow (a boundary
  // of 8000 dashes and a body of dashes cost 70 ms per MiB in the search below alone), and
  // Mailgun's form is parsed before its signature can be checked.
  if (ct.boundary.size() > max_boundary_chars)
    return malformed(fmt::format(
        "Content-Type multipart/form-data has a boundary longer than {} characters (RFC 2046 "
        "allows 1 to {})",
        max_boundary_chars, max_boundary_chars));
  structure_limits limits;
  limits.max_parts = max_form_parts;
  limits.parts_message = fmt::format("multipart body has more than {} parts", max_form_parts);
  limits.max_boundary_chars = max_boundary_chars;
  if (error e = check_mime_body_structure(content_type_header, body, limits, "multipart body");
      e.code != errc::ok)
    return e;
  if (!has_closing_delimiter(body, ct.boundary))
    return malformed("multipart body is truncated (no closing boundary)");

  init_gmime();
  gobject_ptr<GMimeStream> stream{g_mime_stream_mem_new()};
  const std::string head = fmt::format("Content-Type: {}\r\n\r\n", content_type_header);
  if (g_mime_stream_write(stream.get(), head.data(), head.size()) < 0 ||
      g_mime_stream_write(stream.get(), body.data(), body.size()) < 0)
    return error{errc::internal, "cannot buffer the request body"};
  g_mime_stream_reset(stream.get());
  gobject_ptr<GMimeParser> parser{g_mime_parser_new_with_stream(stream.get())};
  gobject_ptr<GMimeObject> root{g_mime_parser_construct_part(parser.get(), parser_options())};
  if (!root || !GMIME_IS_MULTIPART(root.get())) return malformed("body is not multipart/form-data");

  GMimeMultipart* mp = GMIME_MULTIPART(root.get());
  const int count = g_mime_multipart_get_count(mp);
  if (count > max_form_parts)
    return malformed(fmt::format("multipart body has more than {} parts", max_form_parts));
  std::vector<form_part> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    GMimeObject* obj = g_mime_multipart_get_part(mp, i);
    if (GMIME_IS_MULTIPART(obj))
      return malformed("multipart/form-data part holds a nested multipart (not supported)");
    form_part f;
    f.name = valid_utf8(view(g_mime_object_get_content_disposition_parameter(obj, "name")));
    if (f.name.empty())
      return malformed(fmt::format("multipart/form-data part {} has no name", i + 1));
    const char* filename = g_mime_object_get_content_disposition_parameter(obj, "filename");
    f.is_file = filename != nullptr;
    if (f.is_file) f.filename = valid_utf8(view(filename));
    if (g_mime_object_get_header(obj, "Content-Type") != nullptr) {
      gchar_ptr type{g_mime_content_type_get_mime_type(g_mime_object_get_content_type(obj))};
      f.content_type = ascii_lowered(view(type.get()));
      f.charset = ascii_lowered(view(g_mime_object_get_content_type_parameter(obj, "charset")));
    }
    // A file's bytes too: the daemon keeps the file. The body limit bounds them.
    auto bytes = entity_bytes(obj);
    if (!bytes)
      return malformed(fmt::format("multipart/form-data field {} cannot be read", f.name));
    f.value = std::move(*bytes);
    f.size = static_cast<std::int64_t>(f.value.size());
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace sb::email
