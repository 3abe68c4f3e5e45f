// The structure of a MIME entity, checked in one pass before GMime builds anything
// (gmime_util.hpp, check_mime_structure). GMime reads any nesting up to 1024 levels, compares
// every line that starts with "--" against every open boundary, and builds every part and
// header of the input before the walk in mime_parse.cpp could count them: a mail of nested
// multiparts, or of a hundred thousand parts, costs GMime hundreds of milliseconds per MiB
// before anything is refused. This pass follows the same lines the way GMime does (its
// gmime-parser.c, 3.2: header blocks end at an empty line or a boundary, a line is a
// delimiter when it is "--" + an open boundary, optionally "--", then only white space; the
// last Content-Type of a block decides, read by GMime's own Content-Type parser; a
// message/rfc822 part not transfer-encoded holds a message; the parts of a multipart/digest
// are messages by default), and stops at the first bound exceeded. Where it cannot tell, it
// counts more, never less, than GMime will build.
#include "channels/email/gmime_util.hpp"

#include "channels/common/errors.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace sb::email {
namespace {

bool is_lwsp(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// What GMime makes of a header block's Content-Type.
struct entity_type {
  bool multipart = false;
  bool digest = false;   // multipart/digest
  bool message = false;  // message/rfc822 (or rfc2822, global, news): a message inside
  std::string boundary;  // set when multipart with a boundary parameter
  bool has_boundary = false;
};

entity_type type_of(const std::string& content_type, bool present, bool in_digest) {
  entity_type t;
  if (!present) {
    t.message = in_digest;  // GMime's default: text/plain, or message/rfc822 in a digest
    return t;
  }
  gobject_ptr<GMimeContentType> ct{
      g_mime_content_type_parse(parser_options(), content_type.c_str())};
  if (!ct) return t;
  const std::string_view type = view(g_mime_content_type_get_media_type(ct.get()));
  const std::string_view subtype = view(g_mime_content_type_get_media_subtype(ct.get()));
  if (ascii_iequals(type, "multipart")) {
    t.multipart = true;
    t.digest = ascii_iequals(subtype, "digest");
    if (const char* b = g_mime_content_type_get_parameter(ct.get(), "boundary")) {
      t.has_boundary = true;
      t.boundary = b;
    }
  } else if (ascii_iequals(type, "message")) {
    t.message = ascii_iequals(subtype, "rfc822") || ascii_iequals(subtype, "rfc2822") ||
                ascii_iequals(subtype, "global") || ascii_iequals(subtype, "news");
  } else if (in_digest && ascii_iequals(type, "application") &&
             ascii_iequals(subtype, "octet-stream")) {
    // What GMime's parser answers for a Content-Type it cannot read, where its own parser
    // falls back to message/rfc822 in a digest: counted as the message it may be.
    t.message = true;
  }
  return t;
}

class structure_check {
 public:
  structure_check(const structure_limits& limits, std::string_view what, std::size_t bytes)
      : limits_(limits),
        what_(what),
        check_budget_(
            std::max(limits.min_boundary_checks, bytes * limits.boundary_checks_per_byte)) {}

  // The top-level entity starts with its header block (a message).
  void begin_headers() { start_block(/*top=*/true, /*in_digest=*/false); }

  // The top-level entity's header block is the one Content-Type given apart (a form body).
  error begin_body(std::string_view content_type) {
    start_block(/*top=*/true, /*in_digest=*/false);
    content_type_ = c_string(content_type);
    has_content_type_ = true;
    block_fields_ = 1;
    return end_block(/*by_delimiter=*/false);
  }

  // One line, without its "\n".
  error line(std::string_view text) {
    if (text.size() >= 2 && text[0] == '-' && text[1] == '-' && open_boundaries_ > 0) {
      checks_ += open_boundaries_;
      if (checks_ > check_budget_)
        return malformed(fmt::format(
            "{} has too many lines starting with \"--\" inside multiparts nested {} deep (each "
            "is compared with every open boundary)",
            what_, open_boundaries_));
    }
    const delimiter d = find_delimiter(text);
    if (in_headers_) {
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (d.frame != npos) {
        // A delimiter ends a header block too. GMime still opens the multipart the block
        // declares, and reads the same line again against the boundaries then open.
        if (error e = end_block(/*by_delimiter=*/true); e.code != errc::ok) return e;
        return at_delimiter(find_delimiter(text));
      }
      if (text.empty()) return end_block(/*by_delimiter=*/false);
      if (text.front() == ' ' || text.front() == '\t') {  // a folded line of the last field
        if (field_ == field::content_type) content_type_ += text;
        if (field_ == field::encoding) encoding_ += text;
        return {};
      }
      return new_field(text);
    }
    if (d.frame != npos) return at_delimiter(d);
    return {};
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  struct frame {
    std::string delimiter;  // "--" + the boundary; empty for a message inside a part
    bool digest = false;
  };
  struct delimiter {
    std::size_t frame = npos;  // index into stack_
    bool closing = false;      // "--boundary--"
  };
  enum class field { other, content_type, encoding };

  // Innermost first, as GMime looks: the closing form of a boundary, then the boundary, then
  // the enclosing ones. Only lines that start with "--" are compared.
  delimiter find_delimiter(std::string_view text) const {
    if (text.size() < 2 || text[0] != '-' || text[1] != '-' || stack_.empty()) return {};
    std::size_t content = text.size();  // just past the last character that is not white space
    while (content > 0 && is_lwsp(text[content - 1])) --content;
    for (std::size_t i = stack_.size(); i-- > 0;) {
      const std::string& d = stack_[i].delimiter;
      if (d.empty() || content > d.size() + 2 || text.size() < d.size() ||
          text.compare(0, d.size(), d) != 0)
        continue;
      if (text.size() >= d.size() + 2 && text[d.size()] == '-' && text[d.size() + 1] == '-' &&
          content <= d.size() + 2)
        return {i, true};
      if (content <= d.size()) return {i, false};
    }
    return {};
  }

  void start_block(bool top, bool in_digest) {
    in_headers_ = true;
    top_ = top;
    in_digest_ = in_digest;
    content_type_.clear();
    has_content_type_ = false;
    encoding_.clear();
    has_encoding_ = false;
    field_ = field::other;
    block_fields_ = 0;
  }

  // A line GMime reads as a header field: a name, then ':'. The name holds no control
  // character, and white space only before the ':'. Other lines of a header block are dropped.
  static bool is_field(std::string_view text) noexcept {
    bool blank = false;
    for (const char c : text) {
      if (c == ':') return true;
      if (c == ' ' || c == '\t') {
        blank = true;
      } else if (blank || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return false;
      }
    }
    return false;
  }

  error new_field(std::string_view text) {
    field_ = field::other;
    if (!is_field(text)) return {};
    ++block_fields_;
    if (++total_fields_ > limits_.max_header_fields)
      return malformed(fmt::format("{} has more than {} header fields in all", what_,
                                   limits_.max_header_fields));
    if (block_fields_ > limits_.max_block_fields)
      return malformed(
          top_ ? fmt::format("{} has more than {} header fields", what_, limits_.max_block_fields)
               : fmt::format("{} has a MIME part with more than {} header fields", what_,
                             limits_.max_block_fields));
    const auto colon = text.find(':');
    std::string_view name = text.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (ascii_iequals(name, "Content-Type")) {
      field_ = field::content_type;  // the last one decides, as in GMime
      content_type_ = text.substr(colon + 1);
      has_content_type_ = true;
    } else if (ascii_iequals(name, "Content-Transfer-Encoding") && !has_encoding_) {
      field_ = field::encoding;  // the first one decides, as in GMime
      encoding_ = text.substr(colon + 1);
      has_encoding_ = true;
    }
    return {};
  }

  // The end of a header block: the entity it describes opens a multipart, a message, or is a
  // leaf whose content runs to the next delimiter.
  error end_block(bool by_delimiter) {
    in_headers_ = false;
    if (by_delimiter && block_fields_ == 0) return {};  // GMime builds no part here
    const entity_type t = type_of(content_type_, has_content_type_, in_digest_);
    if (t.multipart && t.has_boundary) {
      if (t.boundary.size() > limits_.max_boundary_chars)
        return malformed(fmt::format(
            "{} has a multipart boundary longer than {} characters (RFC 2046 allows 1 to {})",
            what_, limits_.max_boundary_chars, limits_.max_boundary_chars));
      if (error e = deeper(); e.code != errc::ok) return e;
      stack_.push_back({"--" + t.boundary, t.digest});
      ++open_boundaries_;
      return {};
    }
    // A message inside: its own header block follows (unless a delimiter came first, when
    // GMime reads no content at all).
    const GMimeContentEncoding encoding =
        has_encoding_ ? g_mime_content_encoding_from_string(encoding_.c_str())
                      : GMIME_CONTENT_ENCODING_DEFAULT;
    const bool encoded = encoding == GMIME_CONTENT_ENCODING_BASE64 ||
                         encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
                         encoding == GMIME_CONTENT_ENCODING_UUENCODE;
    if (t.message && !encoded && !by_delimiter) {
      if (error e = deeper(); e.code != errc::ok) return e;
      if (error e = one_more_part(); e.code != errc::ok) return e;
      stack_.push_back({"", false});
      start_block(/*top=*/false, /*in_digest=*/false);
    }
    return {};
  }

  error at_delimiter(delimiter d) {
    if (d.frame == npos) return {};
    stack_.resize(d.frame + 1);  // a parent's delimiter closes whatever is open inside it
    if (d.closing) stack_.pop_back();
    open_boundaries_ = 0;
    for (const frame& f : stack_) open_boundaries_ += f.delimiter.empty() ? 0 : 1;
    if (d.closing) {
      in_headers_ = false;  // the epilogue, up to the next delimiter of an enclosing multipart
      return {};
    }
    if (error e = one_more_part(); e.code != errc::ok) return e;
    start_block(/*top=*/false, stack_.back().digest);
    return {};
  }

  error deeper() const {
    if (stack_.size() + 1 > limits_.max_depth)
      return malformed(fmt::format("MIME parts are nested more than {} deep", limits_.max_depth));
    return {};
  }

  error one_more_part() {
    if (++parts_ > limits_.max_parts) return malformed(limits_.parts_message);
    return {};
  }

  const structure_limits& limits_;
  std::string_view what_;
  std::vector<frame> stack_;  // the open multiparts and messages, outermost first
  bool in_headers_ = false;
  bool top_ = true;
  bool in_digest_ = false;
  std::string content_type_;
  bool has_content_type_ = false;
  std::string encoding_;
  bool has_encoding_ = false;
  field field_ = field::other;
  std::size_t block_fields_ = 0;
  std::size_t total_fields_ = 0;
  std::size_t parts_ = 0;
  std::size_t open_boundaries_ = 0;  // frames of stack_ with a delimiter
  std::size_t checks_ = 0;           // lines starting with "--" times the boundaries open then
  std::size_t check_budget_ = 0;
};

// Feeds `body` to `check` line by line; the last line may lack its "\n".
error feed(structure_check& check, std::string_view body) {
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::size_t nl = body.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? body.size() : nl;
    if (error e = check.line(body.substr(pos, end - pos)); e.code != errc::ok) return e;
    pos = end + 1;
  }
  return {};
}

}  // namespace

error check_mime_structure(std::string_view raw, const structure_limits& limits,
                           std::string_view what) {
  init_gmime();
  structure_check check(limits, what, raw.size());
  check.begin_headers();
  return feed(check, raw);
}

error check_mime_body_structure(std::string_view content_type, std::string_view body,
                                const structure_limits& limits, std::string_view what) {
  init_gmime();
  structure_check check(limits, what, body.size());
  if (error e = check.begin_body(content_type); e.code != errc::ok) return e;
  return feed(check, body);
}

}  // namespace sb::email
