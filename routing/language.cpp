// Language detection with CLD2, bounded and UTF-8-checked (message text is untrusted input).
#include "routing/language.hpp"

// CLD2's headers use FILE without including <cstdio>.
#include <cstdio>

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>

#include <algorithm>

namespace sb {

namespace {

// Fewer letters than this and CLD2 guesses, often with confidence: "Paldies!" (Latvian for
// "thanks") comes out as reliable English. Twelve bytes is a short sentence or two words.
constexpr int min_text_bytes = 12;
constexpr std::size_t max_input_bytes = 64 * 1024;

// Cuts at `limit` without splitting a UTF-8 sequence, so CheckUTF8 does not refuse the text.
std::string_view utf8_prefix(std::string_view s, std::size_t limit) {
  if (s.size() <= limit) return s;
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::optional<std::string> normalize_language_tag(std::string_view tag) {
  if (tag.size() < 2 || !is_alpha(tag[0]) || !is_alpha(tag[1])) return std::nullopt;
  if (tag.size() > 2 && tag[2] != '-' && tag[2] != '_') return std::nullopt;
  std::string out(tag.substr(0, 2));
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  // Codes ISO withdrew that providers (and CLD2) still send.
  if (out == "iw") return "he";
  if (out == "in") return "id";
  if (out == "ji") return "yi";
  if (out == "jw") return "jv";
  return out;
}

std::optional<std::string> detect_language(std::string_view text) {
  const std::string_view in = utf8_prefix(text, max_input_bytes);
  if (in.empty()) return std::nullopt;
  CLD2::CLDHints hints{nullptr, nullptr, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
  CLD2::Language top3[3];
  int percent3[3];
  double score3[3];
  int text_bytes = 0;
  bool reliable = false;
  int valid_prefix = 0;
  // The Ext variant answers UNKNOWN_LANGUAGE for text it cannot place, where the plain one
  // answers ENGLISH.
  const CLD2::Language lang = CLD2::ExtDetectLanguageSummaryCheckUTF8(
      in.data(), static_cast<int>(in.size()), /*is_plain_text=*/true, &hints, /*flags=*/0, top3,
      percent3, score3, /*resultchunkvector=*/nullptr, &text_bytes, &reliable, &valid_prefix);
  if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE || text_bytes < min_text_bytes)
    return std::nullopt;
  const char* code = CLD2::LanguageCode(lang);
  if (code == nullptr) return std::nullopt;
  // "zh-Hant" → "zh"; three-letter codes (no ISO 639-1 code) → nullopt.
  const std::string_view c(code);
  if (c.size() > 2 && c[2] != '-') return std::nullopt;
  return normalize_language_tag(c);
}

std::optional<std::string> message_language(const inbound_message& m) {
  if (m.language)
    if (auto hint = normalize_language_tag(*m.language)) return hint;
  // Switchboard's own wording (a missed call, a location) is not the customer's language.
  const std::string_view text = std::string_view(m.text).substr(0, m.generated_text_from);
  if (m.subject.empty()) return detect_language(text);
  if (text.empty()) return detect_language(m.subject);
  std::string both;
  both.reserve(m.subject.size() + 1 + std::min(text.size(), max_input_bytes));
  both += m.subject;
  both += '\n';
  both += utf8_prefix(text, max_input_bytes);
  return detect_language(both);
}

}  // namespace sb
