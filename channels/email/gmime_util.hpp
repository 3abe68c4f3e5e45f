// Private to channels/email/: owning handles for GMime and GLib objects, and the parser
// options every email parse uses. Nothing outside channels/email/ includes GMime.
#pragma once

#include "channels/email/email.hpp"

#include <gmime/gmime.h>

#include <memory>
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

// A C string for GMime: std::string guarantees the terminating NUL; an embedded NUL simply
// ends the value early, as it would in any C mail library.
inline std::string c_string(std::string_view s) { return std::string(s); }

inline std::string_view view(const char* s) noexcept { return s ? std::string_view{s} : ""; }

}  // namespace sb::email
