// HTML → plain text for mail that has only an HTML body. Not a browser: one linear pass that
// drops markup and invisible content, decodes character references and keeps the line
// structure a reader expects (paragraphs, line breaks, list items, table rows).
#include "channels/email/email.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sb::email {
namespace {

struct named_entity {
  std::string_view name;
  char32_t code;
};

// ISO-8859-1's named references (U+00A0..U+00FF, in order) ...
constexpr std::array<std::string_view, 96> latin1_names{
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

// ... and the others mail actually uses (punctuation, typography, arrows, a few symbols).
constexpr named_entity other_entities[] = {
    {"quot", 0x22},     {"amp", 0x26},      {"apos", 0x27},    {"lt", 0x3C},
    {"gt", 0x3E},       {"OElig", 0x152},   {"oelig", 0x153},  {"Scaron", 0x160},
    {"scaron", 0x161},  {"Yuml", 0x178},    {"fnof", 0x192},   {"circ", 0x2C6},
    {"tilde", 0x2DC},   {"ensp", 0x2002},   {"emsp", 0x2003},  {"thinsp", 0x2009},
    {"zwnj", 0x200C},   {"zwj", 0x200D},    {"lrm", 0x200E},   {"rlm", 0x200F},
    {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D}, {"bdquo", 0x201E},
    {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022},  {"hellip", 0x2026},
    {"permil", 0x2030}, {"prime", 0x2032},  {"Prime", 0x2033}, {"lsaquo", 0x2039},
    {"rsaquo", 0x203A}, {"oline", 0x203E},  {"frasl", 0x2044}, {"euro", 0x20AC},
    {"trade", 0x2122},  {"larr", 0x2190},   {"uarr", 0x2191},  {"rarr", 0x2192},
    {"darr", 0x2193},   {"harr", 0x2194},   {"minus", 0x2212}, {"le", 0x2264},
    {"ge", 0x2265},     {"ne", 0x2260},     {"asymp", 0x2248}, {"infin", 0x221E},
    {"check", 0x2713},  {"hearts", 0x2665}, {"star", 0x2606},  {"starf", 0x2605},
};

// HTML5 maps references to C1 controls to what windows-1252 has there.
constexpr std::array<char32_t, 32> c1_windows1252{
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

std::optional<char32_t> lookup_entity(std::string_view name) {
  for (std::size_t i = 0; i < latin1_names.size(); ++i)
    if (latin1_names[i] == name) return static_cast<char32_t>(0xA0 + i);
  for (const auto& e : other_entities)
    if (e.name == name) return e.code;
  return std::nullopt;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

char lower_ascii(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) noexcept { return is_alpha(c) || (c >= '0' && c <= '9'); }
bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

bool iequals_at(std::string_view s, std::size_t pos, std::string_view word) {
  if (s.size() - pos < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower_ascii(s[pos + i]) != word[i]) return false;
  return true;
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Elements whose content is never shown.
bool is_hidden(std::string_view tag) {
  return one_of(tag, {"script", "style", "head", "title", "template", "noscript", "xml"});
}
// Block elements that stand apart as paragraphs (a blank line around them).
bool is_paragraph(std::string_view tag) {
  return one_of(tag, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul",
                      "ol", "dl", "hr", "address", "figure"});
}
// Block elements that only start a new line.
bool is_line(std::string_view tag) {
  return one_of(tag,
                {"div",        "li",    "tr",    "dt",    "dd",   "section",  "article", "header",
                 "footer",     "main",  "nav",   "aside", "form", "fieldset", "center",  "caption",
                 "figcaption", "tbody", "thead", "tfoot", "body", "html"});
}

class renderer {
 public:
  explicit renderer(std::string_view html) : in_(html) {}

  std::string run() {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == '<') {
        markup();
      } else if (c == '&') {
        reference();
      } else if (is_space(c) && pre_depth_ == 0) {
        space_ = true;
        ++pos_;
      } else {
        emit(c);
        ++pos_;
      }
    }
    return std::move(out_);
  }

 private:
  void emit(char c) {
    flush_breaks();
    if (c == '\r') return;  // <pre> text: keep "\n" only
    out_ += c;
  }

  void emit_text(std::string_view s) {
    flush_breaks();
    out_ += s;
  }

  // Pending line breaks and spaces are written only before the next visible text, so the
  // output never starts or ends with them and runs of them collapse.
  void flush_breaks() {
    if (out_.empty()) {
      breaks_ = 0;
      space_ = false;
      return;
    }
    if (breaks_ > 0) {
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
      // Count the line breaks already there only as far as needed: a <pre> may have left
      // thousands, and counting them all before every block would make the pass quadratic.
      std::size_t have = 0;
      for (auto it = out_.rbegin();
           it != out_.rend() && *it == '\n' && have < static_cast<std::size_t>(breaks_); ++it)
        ++have;
      for (; have < static_cast<std::size_t>(breaks_); ++have) out_ += '\n';
    } else if (space_ && out_.back() != '\n' && out_.back() != ' ') {
      out_ += ' ';
    }
    breaks_ = 0;
    space_ = false;
  }

  void request_breaks(int n) { breaks_ = std::max(breaks_, n); }

  void markup() {
    if (in_.compare(pos_, 4, "<!--") == 0) {
      const auto end = in_.find("-->", pos_ + 4);
      pos_ = end == std::string_view::npos ? in_.size() : end + 3;
      return;
    }
    std::size_t p = pos_ + 1;
    const bool closing = p < in_.size() && in_[p] == '/';
    if (closing) ++p;
    if (p < in_.size() && (in_[p] == '!' || in_[p] == '?')) {  // doctype, CDATA, processing
      skip_tag(p);
      return;
    }
    if (p >= in_.size() || !is_alpha(in_[p])) {  // "a < b": a literal '<'
      emit('<');
      ++pos_;
      return;
    }
    std::string name;
    while (p < in_.size() && (is_alnum(in_[p]) || in_[p] == '-' || in_[p] == ':'))
      name += lower_ascii(in_[p++]);
    skip_tag(p);
    if (closing) {
      close_tag(name);
    } else {
      open_tag(name);
    }
  }

  // Moves past the tag's closing '>', skipping quoted attribute values (they may hold '>').
  void skip_tag(std::size_t p) {
    char quote = 0;
    for (; p < in_.size(); ++p) {
      const char c = in_[p];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        pos_ = p + 1;
        return;
      }
    }
    pos_ = in_.size();  // an unterminated tag runs to the end
  }

  void open_tag(const std::string& name) {
    if (is_hidden(name)) {
      skip_element(name);
      return;
    }
    if (name == "br") {
      flush_pending_for_br();
    } else if (name == "li") {
      request_breaks(1);
      emit_text("- ");
    } else if (name == "td" || name == "th") {
      space_ = true;
    } else if (name == "pre") {
      request_breaks(2);
      ++pre_depth_;
    } else if (is_paragraph(name)) {
      request_breaks(2);
    } else if (is_line(name)) {
      request_breaks(1);
    }
  }

  void close_tag(const std::string& name) {
    if (name == "pre" && pre_depth_ > 0) --pre_depth_;
    if (name == "td" || name == "th") {
      space_ = true;
    } else if (is_paragraph(name)) {
      request_breaks(2);
    } else if (is_line(name)) {
      request_breaks(1);
    }
  }

  // <br> is a line break even between two others (<br><br> is an empty line), unlike block
  // boundaries, which collapse.
  void flush_pending_for_br() {
    if (out_.empty()) return;
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (breaks_ > 0) flush_breaks();
    out_ += '\n';
    space_ = false;
  }

  // Skips to the matching end tag of a hidden element; without one, only the tag is dropped
  // (a stray <head> in a body must not swallow the message).
  void skip_element(const std::string& name) {
    const std::size_t end = end_tag_after(name, pos_);
    if (end != std::string_view::npos) {
      skip_tag(end + 2 + name.size());
      return;
    }
    if (name == "script" || name == "style") pos_ = in_.size();  // raw text to the end
  }

  // Where the next "</name" (not followed by a name character) starts at or after `from`;
  // npos when there is none. The answer is remembered per name: the reader only moves forward,
  // so a later question from further on is answered from it, and a body of ten thousand
  // unclosed <head> tags is read once, not ten thousand times.
  std::size_t end_tag_after(const std::string& name, std::size_t from) {
    constexpr auto none = std::string_view::npos;
    auto& known = end_tags_.try_emplace(name, none, none).first->second;  // {from, found at}
    if (known.first != std::string_view::npos && known.first <= from &&
        (known.second == std::string_view::npos || known.second >= from))
      return known.second;
    const std::string end = "</" + name;
    std::size_t found = std::string_view::npos;
    for (std::size_t p = from; p < in_.size(); ++p) {
      if (in_[p] == '<' && iequals_at(in_, p, end)) {
        const std::size_t after = p + end.size();
        if (after >= in_.size() || !is_alnum(in_[after])) {
          found = p;
          break;
        }
      }
    }
    known = {from, found};
    return found;
  }

  void reference() {
    // &name; &#123; &#x1F600; — anything else is a literal '&'.
    std::size_t p = pos_ + 1;
    std::optional<char32_t> code;
    if (p < in_.size() && in_[p] == '#') {
      ++p;
      const bool hex = p < in_.size() && (in_[p] == 'x' || in_[p] == 'X');
      if (hex) ++p;
      const std::size_t start = p;
      std::uint32_t v = 0;
      while (p < in_.size() && p - start < 8) {
        const char c = in_[p];
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0) break;
        v = v * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
        ++p;
      }
      if (p == start) {
        emit('&');
        ++pos_;
        return;
      }
      if (p < in_.size() && in_[p] == ';') ++p;
      code = numeric_code(v);
    } else {
      const std::size_t start = p;
      while (p < in_.size() && is_alnum(in_[p]) && p - start < 32) ++p;
      if (p < in_.size() && in_[p] == ';' && p > start)
        code = lookup_entity(in_.substr(start, p - start));
      if (!code) {
        emit('&');
        ++pos_;
        return;
      }
      ++p;
    }
    pos_ = p;
    if (*code == 0xA0) {  // nbsp: a space that does not start a line
      space_ = true;
      return;
    }
    if (*code == 0xAD) return;  // soft hyphen: invisible
    std::string s;
    append_utf8(s, *code);
    emit_text(s);
  }

  static char32_t numeric_code(std::uint32_t v) {
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0xFFFD;
    if (v >= 0x80 && v <= 0x9F) return c1_windows1252[v - 0x80];
    return v;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  // Per hidden element name: the end-tag search last made (end_tag_after).
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> end_tags_;
  std::string out_;
  int breaks_ = 0;      // line breaks owed before the next text
  bool space_ = false;  // a space owed before the next text
  int pre_depth_ = 0;
};

}  // namespace

std::string html_to_text(std::string_view html) { return renderer(html).run(); }

}  // namespace sb::email
