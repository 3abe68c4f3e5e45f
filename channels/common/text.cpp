#include "channels/common/text.hpp"

#include "channels/crypto.hpp"

#include <boost/url/parse.hpp>

#include <utility>

namespace sb {

bool is_blank(std::string_view s) noexcept {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::optional<std::string> language_code(std::string_view hint) {
  const std::string_view primary = hint.substr(0, hint.find_first_of("-_"));
  if (primary.size() != 2) return std::nullopt;
  std::string out;
  for (char c : primary) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c < 'a' || c > 'z') return std::nullopt;
    out += c;
  }
  return out;
}

// ---- attachments from URLs ----------------------------------------------------------------

std::string file_name_from_url(std::string_view url) {
  auto u = boost::urls::parse_uri_reference(url);
  if (!u) return {};
  auto segs = u->segments();
  if (segs.empty()) return {};
  std::string last = segs.back();
  if (last.find('.') == std::string::npos || last.size() > 255) return {};
  return last;
}

std::string content_type_from_url(std::string_view url) {
  const std::string name = file_name_from_url(url);
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return {};
  std::string ext = name.substr(dot + 1);
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  static constexpr std::pair<std::string_view, std::string_view> types[] = {
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"png", "image/png"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"heic", "image/heic"},
      {"mp4", "video/mp4"},
      {"mov", "video/quicktime"},
      {"webm", "video/webm"},
      {"mp3", "audio/mpeg"},
      {"m4a", "audio/mp4"},
      {"aac", "audio/aac"},
      {"ogg", "audio/ogg"},
      {"opus", "audio/ogg"},
      {"wav", "audio/wav"},
      {"pdf", "application/pdf"},
      {"txt", "text/plain"},
      {"csv", "text/csv"},
      {"zip", "application/zip"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  };
  for (const auto& [e, type] : types)
    if (e == ext) return std::string(type);
  return {};
}

std::string short_digest(std::string_view text) {
  // HMAC with a fixed key is simply SHA-256 through the one crypto wrapper we have.
  return hex_encode(hmac_sha256("switchboard.digest", text)).substr(0, 16);
}

}  // namespace sb
