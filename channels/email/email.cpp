// Header values, charsets, Content-Type, shared-secret auth and the final normalization of the
// email channel types. The MIME walk is mime_parse.cpp, multipart/form-data form_data.cpp,
// HTML to text html_text.cpp.
#include "channels/email/email.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/text.hpp"
#include "channels/crypto.hpp"
#include "channels/email/gmime_util.hpp"
#include "channels/normalize.hpp"
#include "channels/unreadable.hpp"
#include "core/ascii.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>

namespace sb::email {
namespace {

GMimeParserOptions* g_options = nullptr;

// ---- charsets ----------------------------------------------------------------------------

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

// iconv from `charset` to UTF-8; invalid input sequences become U+FFFD. nullopt when iconv
// does not know the charset.
std::optional<std::string> convert(std::string_view bytes, const char* charset) {
  GIConv cd = g_iconv_open("UTF-8", charset);
  if (cd == reinterpret_cast<GIConv>(-1)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2 + 16);
  char* in = const_cast<char*>(bytes.data());
  gsize in_left = bytes.size();
  std::array<char, 8192> buffer;
  while (in_left > 0) {
    char* o = buffer.data();
    gsize o_left = buffer.size();
    const gsize r = g_iconv(cd, &in, &in_left, &o, &o_left);
    const int err = errno;
    out.append(buffer.data(), buffer.size() - o_left);
    if (r != static_cast<gsize>(-1)) continue;
    if (err == E2BIG) continue;
    out += replacement;
    if (err == EILSEQ) {
      ++in;
      --in_left;
      continue;
    }
    break;  // EINVAL: an incomplete sequence at the end
  }
  char* o = buffer.data();
  gsize o_left = buffer.size();
  g_iconv(cd, nullptr, nullptr, &o, &o_left);  // the shift state's closing bytes, if any
  out.append(buffer.data(), buffer.size() - o_left);
  g_iconv_close(cd);
  return out;
}

bool is_utf8_name(std::string_view cs) { return cs == "utf-8" || cs == "utf8"; }

// Charsets whose bytes 0x80..0x9F real mail uses as windows-1252 (smart quotes, the euro
// sign): read them as windows-1252, as every browser and mail client does.
bool is_latin1_name(std::string_view cs) {
  return cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "iso-8859-1" ||
         cs == "iso_8859-1" || cs == "latin1" || cs == "latin-1" || cs == "l1";
}

// ---- address lists -----------------------------------------------------------------------

void collect(InternetAddressList* list, std::vector<mailbox>& out, std::size_t max, int depth) {
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n && out.size() < max; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      out.push_back({valid_utf8(ascii_trim(view(internet_address_get_name(ia)))),
                     valid_utf8(ascii_trim(
                         view(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)))))});
    } else if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < 4) {
      collect(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, max, depth + 1);
    }
  }
}

std::optional<std::string_view> credentials(const request_view& req, std::string_view scheme) {
  const auto h = req.header("authorization");
  if (!h) return std::nullopt;
  const std::string_view v = ascii_trim(*h);
  const auto space = v.find_first_of(" \t");
  if (space == std::string_view::npos || !ascii_iequals(v.substr(0, space), scheme))
    return std::nullopt;
  return ascii_trim(v.substr(space + 1));
}

std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Trailing whitespace and leading blank lines go; the indentation of the first line stays.
std::string trim_text(std::string s) {
  const auto end = s.find_last_not_of(" \t\n");
  if (end == std::string::npos) return {};
  s.erase(end + 1);
  std::size_t start = 0;
  while (true) {
    const auto nl = s.find('\n', start);
    if (nl == std::string::npos || s.find_first_not_of(" \t", start) < nl) break;
    start = nl + 1;
  }
  s.erase(0, start);
  return s;
}

// Folded or hand-made subjects may carry line breaks: a subject is one line.
std::string one_line(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : ascii_trim(s)) {
    if (c == '\r' || c == '\n' || c == '\t') {
      space = true;
      continue;
    }
    if (space && c != ' ') out += ' ';
    space = false;
    out += c;
  }
  return out;
}

boost::json::value string_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return boost::json::value(s);
}

boost::json::array address_array(const std::vector<mailbox>& list) {
  boost::json::array out;
  for (const auto& m : list)
    if (auto addr = normalize_email(m.address)) out.emplace_back(*addr);
  return out;
}

}  // namespace

// ---- GMime -------------------------------------------------------------------------------

void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_mime_init();
    GMimeParserOptions* o = g_mime_parser_options_new();
    g_mime_parser_options_set_address_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_rfc2047_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    const char* fallback[] = {"utf-8", "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(o, fallback);
    g_options = o;  // kept for the life of the process, like GMime's own globals
  });
}

GMimeParserOptions* parser_options() noexcept { return g_options; }

void collect_mailboxes(InternetAddressList* list, std::vector<mailbox>& out, std::size_t max) {
  collect(list, out, max, 0);
}

gobject_ptr<GMimeStream> memory_stream(std::string_view bytes) {
  return gobject_ptr<GMimeStream>{g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size())};
}

std::string stream_bytes(GMimeStream* stream) {
  GByteArray* a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  if (a == nullptr || a->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(a->data), a->len);
}

std::optional<std::string> entity_bytes(GMimeObject* obj) {
  gobject_ptr<GMimeStream> out{g_mime_stream_mem_new()};
  ssize_t n = 0;
  if (GMIME_IS_PART(obj)) {
    GMimeDataWrapper* w = g_mime_part_get_content(GMIME_PART(obj));
    if (w != nullptr) n = g_mime_data_wrapper_write_to_stream(w, out.get());
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (m != nullptr) n = g_mime_object_write_to_stream(GMIME_OBJECT(m), nullptr, out.get());
  }
  if (n < 0) return std::nullopt;
  return stream_bytes(out.get());
}

// ---- header values -----------------------------------------------------------------------

std::vector<mailbox> parse_addresses(std::string_view value, std::size_t max) {
  std::vector<mailbox> out;
  if (is_blank(value)) return out;
  init_gmime();
  // GMime reads an address list at some 20 MB/s and keeps every mailbox of it, of which only
  // the first `max` are used: a list of a MiB cost 50 ms. The first max_address_list_bytes
  // hold the first hundred mailboxes of any real list; the cut is made after a comma, so
  // that at worst the last mailbox read is cut short.
  if (value.size() > max_address_list_bytes) {
    const auto comma = value.rfind(',', max_address_list_bytes);
    value = value.substr(
        0, comma == std::string_view::npos || comma == 0 ? max_address_list_bytes : comma);
  }
  const std::string v = c_string(value);
  gobject_ptr<InternetAddressList> list{internet_address_list_parse(parser_options(), v.c_str())};
  if (list) collect(list.get(), out, max, 0);
  return out;
}

// A NUL would cut the value short for GMime ("<a\0b@x>" and "<a\0c@x>" both read as "a", so
// the second mail would be dropped as a duplicate of the first), and an id with a control
// character is refused as a store key (check_keys): such a header counts as absent.
std::string message_id(std::string_view value) {
  if (is_blank(value) || value.find('\0') != std::string_view::npos) return {};
  init_gmime();
  const std::string v = c_string(value);
  gchar_ptr id{g_mime_utils_decode_message_id(v.c_str())};
  const std::string_view s = ascii_trim(view(id.get()));
  if (s.empty() || s.size() > max_message_id_bytes || has_control_character(s)) return {};
  return valid_utf8(s);
}

std::vector<std::string> message_ids(std::string_view value, std::size_t max) {
  std::vector<std::string> out;
  if (is_blank(value) || max == 0 || value.find('\0') != std::string_view::npos) return out;
  init_gmime();
  const std::string v = c_string(value);
  references_ptr refs{g_mime_references_parse(parser_options(), v.c_str())};
  if (!refs) return out;
  const int n = g_mime_references_length(refs.get());
  for (int i = 0; i < n; ++i) {
    const std::string_view id = ascii_trim(view(g_mime_references_get_message_id(refs.get(), i)));
    if (id.empty() || id.size() > max_message_id_bytes || has_control_character(id)) continue;
    out.push_back(valid_utf8(id));
  }
  if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max));
  return out;
}

std::optional<millis> parse_date(std::string_view value) {
  if (is_blank(value)) return std::nullopt;
  init_gmime();
  std::string v = c_string(ascii_trim(value));
  // "... 16:45:32 -04:00" (Postmark writes offsets so): GMime would read the zone as +0000.
  const auto digit = [&v](std::size_t i) { return v[i] >= '0' && v[i] <= '9'; };
  if (const std::size_t n = v.size(); n >= 7 && (v[n - 6] == '+' || v[n - 6] == '-') &&
                                      digit(n - 5) && digit(n - 4) && v[n - 3] == ':' &&
                                      digit(n - 2) && digit(n - 1) && v[n - 7] == ' ')
    v.erase(n - 3, 1);
  GDateTime* dt = g_mime_utils_header_decode_date(v.c_str());
  if (dt == nullptr) return parse_time(value);  // an RFC 3339 date, as some providers send
  const millis t = static_cast<millis>(g_date_time_to_unix(dt)) * 1000;
  g_date_time_unref(dt);
  return t;
}

std::string decode_header_text(std::string_view value) {
  if (is_blank(value)) return {};
  init_gmime();
  const std::string v = c_string(value);
  gchar_ptr decoded{g_mime_utils_header_decode_text(parser_options(), v.c_str())};
  return valid_utf8(ascii_trim(view(decoded.get())));
}

// ---- text --------------------------------------------------------------------------------

std::string valid_utf8(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text)
    if (c != '\0') s += c;
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) return s;
  gchar_ptr fixed{g_utf8_make_valid(s.data(), static_cast<gssize>(s.size()))};
  return std::string(view(fixed.get()));
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string cs = ascii_lowered(ascii_trim(charset));
  if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
  const bool declared_utf8 = is_utf8_name(cs);
  if (declared_utf8 || is_latin1_name(cs)) {
    // Valid UTF-8 stays as it is, whatever was declared: pure ASCII is both, and mail
    // labelled us-ascii or latin-1 that is valid UTF-8 was written as UTF-8.
    if (g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr))
      return valid_utf8(bytes);
    if (declared_utf8) return valid_utf8(bytes);
    cs = "windows-1252";
  }
  init_gmime();
  const char* iconv_name = g_mime_charset_iconv_name(cs.c_str());
  if (auto out = convert(bytes, iconv_name != nullptr ? iconv_name : cs.c_str()))
    return valid_utf8(*out);
  // A charset iconv does not know: the same guess as for undeclared 8-bit text.
  if (g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr))
    return valid_utf8(bytes);
  if (auto out = convert(bytes, "WINDOWS-1252")) return valid_utf8(*out);
  return valid_utf8(bytes);
}

// ---- requests ----------------------------------------------------------------------------

content_type parse_content_type(std::optional<std::string_view> header) {
  content_type out;
  if (!header) return out;
  std::string_view rest = *header;
  // Splits at ';' outside double quotes.
  const auto next_part = [&rest] {
    bool quoted = false;
    std::size_t i = 0;
    for (; i < rest.size(); ++i) {
      if (rest[i] == '\\' && quoted) {
        ++i;
      } else if (rest[i] == '"') {
        quoted = !quoted;
      } else if (rest[i] == ';' && !quoted) {
        break;
      }
    }
    const std::string_view part = ascii_trim(rest.substr(0, i));
    rest = i >= rest.size() ? std::string_view{} : rest.substr(i + 1);
    return part;
  };
  out.media_type = ascii_lowered(next_part());
  while (!rest.empty()) {
    const std::string_view param = next_part();
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string name = ascii_lowered(ascii_trim(param.substr(0, eq)));
    std::string_view raw = ascii_trim(param.substr(eq + 1));
    std::string value;
    if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
      raw = raw.substr(1, raw.size() - 2);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        value += raw[i];
      }
    } else {
      value = std::string(raw);
    }
    if (name == "charset" && out.charset.empty()) out.charset = ascii_lowered(value);
    if (name == "boundary" && out.boundary.empty()) out.boundary = std::move(value);
  }
  return out;
}

error check_shared_secrets(std::span<const std::string> secrets, std::string_view what,
                           std::size_t min_bytes) {
  if (secrets.empty())
    return malformed(fmt::format("a {} channel needs a secret (secret or secret_file)", what));
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    // Never echo the secret: this text ends up in logs.
    const std::string which =
        secrets.size() == 1 ? "secret" : fmt::format("secret {} of {}", i + 1, secrets.size());
    const std::string& s = secrets[i];
    if (s.size() < min_bytes)
      return malformed(fmt::format(
          "{} is too short ({} bytes; use at least {} random characters, e.g. openssl rand -hex "
          "24)",
          which, s.size(), min_bytes));
    if (std::any_of(s.begin(), s.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return u <= 0x20 || u == 0x7f;
        }))
      return malformed(fmt::format("{} contains spaces or control characters", which));
  }
  return {};
}

result<std::string> username_option(const channel_config& cfg) {
  const auto it = cfg.options.find("username");
  if (it == cfg.options.end()) return std::string{};
  if (it->second.find(':') != std::string::npos)
    return malformed(
        "username must not contain ':' (basic auth separates user and password "
        "with it)");
  if (has_control_character(it->second))
    return malformed("username must not contain control characters");
  return it->second;
}

result<basic_auth_config> basic_auth_channel(const channel_config& cfg, std::string_view what,
                                             std::size_t min_bytes) {
  if (error e = check_shared_secrets(cfg.secrets, what, min_bytes); e.code != errc::ok) return e;
  SB_TRY(username, username_option(cfg));
  init_gmime();
  return basic_auth_config{cfg.secrets, std::move(*username)};
}

error check_basic_auth(const request_view& req, const secret_set& secrets,
                       std::string_view username) {
  if (!req.header("authorization"))
    return {errc::unauthorized, "missing Authorization header (HTTP basic auth)"};
  const auto encoded = credentials(req, "basic");
  if (!encoded) return {errc::unauthorized, "Authorization must use the Basic scheme"};
  const auto decoded = base64_decode(*encoded);
  if (!decoded) return {errc::unauthorized, "Authorization Basic credentials are not base64"};
  const auto colon = decoded->find(':');
  if (colon == std::string::npos)
    return {errc::unauthorized, "Authorization Basic credentials are not user:password"};
  const std::string_view user = std::string_view{*decoded}.substr(0, colon);
  const std::string_view password = std::string_view{*decoded}.substr(colon + 1);
  // Both checks always run: the answer takes as long whichever part is wrong.
  const bool password_ok = secrets.matches(password);
  const bool user_ok = username.empty() || constant_time_equal(user, username);
  if (!password_ok || !user_ok) return {errc::unauthorized, "wrong user name or password"};
  return {};
}

error check_bearer(const request_view& req, const secret_set& secrets) {
  if (!req.header("authorization"))
    return {errc::unauthorized, "missing Authorization header (Bearer token)"};
  const auto token = credentials(req, "bearer");
  if (!token) return {errc::unauthorized, "Authorization must use the Bearer scheme"};
  if (!secrets.matches(*token)) return {errc::unauthorized, "wrong bearer token"};
  return {};
}

// ---- the normalized message --------------------------------------------------------------

void add_attachment(parsed_email& e, attachment a) {
  if (e.attachments.size() >= max_attachments) {
    ++e.attachments_omitted;
    return;
  }
  a.name = valid_utf8(ascii_trim(a.name));
  a.content_type = ascii_lowered(ascii_trim(a.content_type));
  e.attachments.push_back(std::move(a));
}

void apply_headers(parsed_email& e, std::span<const std::pair<std::string, std::string>> headers) {
  const auto find = [&headers](std::string_view name) -> const std::string* {
    for (const auto& [n, v] : headers)
      if (ascii_iequals(n, name)) return &v;
    return nullptr;
  };
  if (e.message_id.empty())
    if (const auto* v = find("Message-ID")) e.message_id = message_id(*v);
  if (e.in_reply_to.empty())
    if (const auto* v = find("In-Reply-To")) {
      auto ids = message_ids(*v, 1000);
      if (!ids.empty()) e.in_reply_to = std::move(ids.front());
    }
  if (e.references.empty())
    if (const auto* v = find("References")) e.references = message_ids(*v);
  if (!e.sent_at)
    if (const auto* v = find("Date")) e.sent_at = parse_date(*v);
  if (const auto* v = find("Content-Type"))
    if (parse_content_type(*v).media_type == "multipart/report") e.is_report = true;
  if (e.auto_reply_reason.empty())
    e.auto_reply_reason = auto_reply_reason([&find](std::string_view name) {
      const auto* v = find(name);
      return v ? std::optional<std::string_view>(*v) : std::nullopt;
    });
}

bool is_trace_header(std::string_view name) noexcept {
  for (const std::string_view t :
       {"Authentication-Results", "Received", "DKIM-Signature", "X-Mailgun-Dkim-Check-Result",
        "X-Mailgun-Spf", "X-Spam-Tests", "Received-SPF"})
    if (ascii_iequals(name, t)) return true;
  return false;
}

std::vector<std::string> trusted_authserv_id_option(const channel_config& cfg) {
  const auto it = cfg.options.find("trusted_authserv_id");
  return it == cfg.options.end() ? std::vector<std::string>{} : trusted_authserv_ids(it->second);
}

std::string unflow(std::string_view text, bool delsp) {
  std::string out;
  out.reserve(text.size());
  bool joining = false;  // the previous line was flowed into this one
  int joining_depth = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (last && line.empty()) break;
    int depth = 0;
    while (!line.empty() && line.front() == '>') {
      ++depth;
      line.remove_prefix(1);
    }
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);  // space-stuffing
    if (joining && depth != joining_depth) out += '\n';  // a quote level ends a paragraph
    if (!joining || depth != joining_depth) {
      out.append(static_cast<std::size_t>(depth), '>');
      if (depth > 0) out += ' ';
    }
    const bool flowed = !line.empty() && line.back() == ' ' && line != "-- ";
    if (flowed && delsp) line.remove_suffix(1);
    out += line;
    joining = flowed;
    joining_depth = depth;
    if (!flowed) out += '\n';
    if (last) break;
  }
  return out;
}

std::string auto_reply_reason(
    const std::function<std::optional<std::string_view>(std::string_view)>& header) {
  const auto token = [](std::string_view v) {
    v = ascii_trim(v.substr(0, v.find(';')));
    return ascii_lowered(v);
  };
  const auto reason = [](std::string_view name, std::string_view value) {
    std::string v = one_line(valid_utf8(ascii_trim(value)));
    if (v.size() > 100) v.resize(100);
    return fmt::format("{}: {}", name, valid_utf8(v));
  };
  for (const std::string_view name : auto_reply_headers) {
    const auto value = header(name);
    if (!value) continue;
    const std::string t = token(*value);
    bool automatic = false;
    if (name == "Precedence" || name == "X-Precedence")
      automatic = t == "auto_reply" || t == "bulk" || t == "junk";
    else if (name == "X-Autogenerated")
      automatic = t == "reply";
    else
      automatic = !t.empty() && t != "no";  // Auto-Submitted and the X-Auto* family
    if (automatic) return reason(name, *value);
  }
  return {};
}

namespace {

// The business's address a mail was delivered to, as written, with only its domain lower-cased:
// a local part may be case-sensitive (Postmark's mailbox+Hash, where the hash is a token the
// business made). Routes compare recipients without regard to case anyway. nullopt when it is
// not a valid address.
std::optional<std::string> recipient_address(std::string_view raw) {
  if (!normalize_email(raw)) return std::nullopt;
  std::string out(ascii_trim(raw));
  const auto at = out.rfind('@');
  for (std::size_t i = at + 1; i < out.size(); ++i)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] + 32);
  return out;
}

}  // namespace

result<inbound_message> to_inbound(parsed_email e) {
  inbound_message m;

  const sender_candidate* chosen = nullptr;
  sender_auth auth;
  for (const auto& c : e.senders) {
    if (auto addr = normalize_email(c.from.address)) {
      // The From is the customer's only when something the sender cannot forge says so; the
      // verdicts are about the From header, so a fallback (Sender, the envelope) gets none.
      if (e.auth && &c == &e.senders.front())
        auth = verdict_for(*e.auth, addr->substr(addr->rfind('@') + 1));
      m.identities.push_back({"email", std::move(*addr), auth.verdict == auth_verdict::pass});
      m.authentication_failed = auth.verdict == auth_verdict::fail;
      chosen = &c;
      break;
    }
  }
  if (chosen == nullptr) {
    if (e.senders.empty())
      return malformed(fmt::format("{} is required", e.primary_sender_field.empty()
                                                         ? "the sender's address"
                                                         : e.primary_sender_field));
    return malformed(fmt::format("{} is not a valid email address", e.senders.front().field));
  }
  m.sender_name = chosen->from.name;
  for (const auto& c : e.senders)
    if (m.sender_name.empty()) m.sender_name = c.from.name;
  m.sender_name = one_line(valid_utf8(m.sender_name));

  if (auto r = recipient_address(e.recipient)) {
    m.recipient = std::move(*r);
  } else {
    for (const auto& t : e.to)
      if (auto a = recipient_address(t.address)) {
        m.recipient = std::move(*a);
        break;
      }
    if (m.recipient.empty()) m.recipient = one_line(valid_utf8(e.recipient));
  }

  m.subject = one_line(valid_utf8(e.subject));
  m.text = trim_text(normalize_newlines(valid_utf8(e.text)));
  if (m.text.empty() && !is_blank(e.html))
    m.text = trim_text(normalize_newlines(html_to_text(valid_utf8(e.html))));
  m.sent_at = e.sent_at;
  m.attachments = std::move(e.attachments);

  boost::json::object mail;
  mail["message_id"] = string_or_null(e.message_id);
  mail["in_reply_to"] = string_or_null(e.in_reply_to);
  boost::json::array refs;
  for (auto& r : e.references) refs.emplace_back(std::move(r));
  mail["references"] = std::move(refs);
  mail["to"] = address_array(e.to);
  mail["cc"] = address_array(e.cc);
  const std::string stripped = trim_text(normalize_newlines(valid_utf8(e.stripped_text)));
  mail["stripped_text"] = string_or_null(stripped);
  if (e.attachments_omitted > 0)
    mail["attachments_omitted"] = static_cast<std::uint64_t>(e.attachments_omitted);
  m.extra["email"] = std::move(mail);
  m.extra["sender_authenticated"] = name_of(auth.verdict);
  if (!auth.reason.empty()) m.extra["sender_authentication"] = auth.reason;
  m.extra["auto_reply"] = !e.auto_reply_reason.empty();
  if (!e.auto_reply_reason.empty()) m.extra["auto_reply_reason"] = e.auto_reply_reason;
  return m;
}

std::string mail_dedupe_key(std::string_view message_id, const identity& sender) {
  return fmt::format("{} from {}{}", message_id, sender.value,
                     sender.verified ? "" : " (unverified)");
}

parse_result to_result(result<parsed_email> parsed, std::string provider_id) {
  parse_result out;
  const auto keep = [&out](const error& e) { keep_unreadable(out, mark(out), "body", e, nullptr); };
  if (!parsed) {
    keep(parsed.error());
    return out;
  }
  if (parsed->is_report) {
    out.ignored = 1;
    return out;
  }
  const std::string message_id = parsed->message_id;
  auto msg = to_inbound(std::move(*parsed));
  if (!msg) {
    keep(msg.error());
    return out;
  }
  if (provider_id.empty() && !message_id.empty())
    provider_id = mail_dedupe_key(message_id, msg->identities.front());
  msg->provider_id = std::move(provider_id);
  out.messages.push_back(std::move(*msg));
  return out;
}

}  // namespace sb::email
