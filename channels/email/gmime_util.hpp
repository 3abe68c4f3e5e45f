// Private to channels/email/: owning handles for GMime and GLib objects, and the parser
// options every email parse uses. Nothing outside channels/email/ includes GMime.
#pragma once

#include "channels/email/email.hpp"

#include <gmime/gmime.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::email {

struct gobject_unref {
  void operator()(gpointer p) const noexcept {
    if (p != nullptr) g_object_unref(p);
  }
};
template <class T>
using gobject_ptr = std::unique_ptr<T, gobject_unref>;

struct gfree {
  void operator()(gpointer p) const noexcept { g_free(p); }
};
using gchar_ptr = std::unique_ptr<char, gfree>;

struct references_free {
  void operator()(GMimeReferences* r) const noexcept {
    if (r != nullptr) g_mime_references_free(r);
  }
};
using references_ptr = std::unique_ptr<GMimeReferences, references_free>;

// Lenient RFC compliance (mail in the wild is not always well formed) and fallback charsets
// for undeclared 8-bit headers: UTF-8 first, then windows-1252 (a superset of ISO-8859-1's
// printable range). Created once by init_gmime; read-only afterwards, so shared by threads.
GMimeParserOptions* parser_options() noexcept;

// The mailboxes of a parsed address list, groups flattened, at most `max` in `out`.
void collect_mailboxes(InternetAddressList* list, std::vector<mailbox>& out, std::size_t max);

// A memory stream over a copy of `bytes` (GMime streams own their buffers).
gobject_ptr<GMimeStream> memory_stream(std::string_view bytes);

// The bytes a GMime memory stream holds.
std::string stream_bytes(GMimeStream* stream);

// An entity as a file: a leaf part's content with its transfer encoding undone, an attached
// message (message/rfc822) as written; empty when it holds nothing. nullopt when GMime cannot
// write it.
std::optional<std::string> entity_bytes(GMimeObject* obj);

// A C string for GMime: std::string guarantees the terminating NUL; an embedded NUL simply
// ends the value early, as it would in any C mail library.
inline std::string c_string(std::string_view s) { return std::string(s); }

inline std::string_view view(const char* s) noexcept { return s ? std::string_view{s} : ""; }

// ---- the structure every parse is bounded to (mime_structure.cpp) ---------------------------

// What a MIME entity may hold. A mail or form beyond any of these is refused (errc::malformed,
// the detail naming the bound) by one linear pass over its bytes, before GMime reads it.
struct structure_limits {
  std::size_t max_depth = 32;             // multiparts and messages inside parts, nested
  std::size_t max_parts = 1000;           // parts and messages inside parts, in all
  std::string parts_message;              // the refusal's detail past max_parts
  std::size_t max_block_fields = 1000;    // header fields of one header block
  std::size_t max_header_fields = 10000;  // header fields of every block together
  std::size_t max_boundary_chars = 70;    // RFC 2046 section 5.1.1: 1 to 70 characters
  // GMime compares every line that starts with "--" with every open boundary: at 32 levels, a
  // body of such lines is 64 comparisons per line. The comparisons (lines starting with "--",
  // times the boundaries open) are bounded to this many per byte of the input, and at least
  // min_boundary_checks: real mail, a few levels deep with a signature's "-- " here and there,
  // stays far below (even an SQL dump of "-- comment" lines at three levels).
  std::size_t boundary_checks_per_byte = 1;
  std::size_t min_boundary_checks = 64 * 1024;
};

// `raw` is an entity: a header block, an empty line, the body (a mail). `what` names it in the
// refusal's detail ("body", "field email").
error check_mime_structure(std::string_view raw, const structure_limits& limits,
                           std::string_view what);
// The same for a body whose header block is one Content-Type given apart (multipart/form-data,
// whose boundary is in the HTTP header).
error check_mime_body_structure(std::string_view content_type, std::string_view body,
                                const structure_limits& limits, std::string_view what);

}  // namespace sb::email
