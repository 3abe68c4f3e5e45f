#include "channels/email/reply.hpp"

#include "channels/email/gmime_util.hpp"

#include <fmt/core.h>

namespace sb::email {

namespace {

// A header value on one line: control characters (CR, LF, ...) become spaces.
std::string one_line_value(std::string_view v) {
  std::string out(v);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

}  // namespace

result<reply_mail> reply_mail_for(const channel_config& cfg, const outgoing& o) {
  reply_mail m;
  const auto from = parse_addresses(outbound_or(cfg, "from", ""), 2);
  if (from.size() != 1 || from.front().address.find('@') == std::string::npos)
    return error{errc::internal,
                 fmt::format("channel {}: outbound.from is not one e-mail address", cfg.name)};
  m.from = from.front();
  if (string_at(o.answers, "from.type") != "email" || string_at(o.answers, "from.value").empty())
    return error{errc::undeliverable, "the message answered has no e-mail address"};
  m.to = string_at(o.answers, "from.value");
  m.subject = one_line_value(string_at(o.reply, "subject"));
  if (m.subject.empty()) m.subject = "Re: your message";
  m.text = text_with_links(o.reply);
  const std::string_view domain =
      std::string_view(m.from.address).substr(m.from.address.rfind('@') + 1);
  m.message_id = fmt::format("{}@{}", o.message_id, domain);
  m.in_reply_to = string_at(o.answers, "email.message_id");
  if (const auto* mail = o.answers.if_contains("email"); mail && mail->is_object())
    if (const auto* refs = mail->get_object().if_contains("references"); refs && refs->is_array())
      for (const auto& r : refs->get_array())
        if (r.is_string() && !r.get_string().empty()) m.references.emplace_back(r.get_string());
  if (!m.in_reply_to.empty() && (m.references.empty() || m.references.back() != m.in_reply_to))
    m.references.push_back(m.in_reply_to);
  // A long thread: the first and the last ones, as RFC 5322 suggests trimming it.
  constexpr std::size_t max_references = 20;
  if (m.references.size() > max_references)
    m.references.erase(m.references.begin() + 1,
                       m.references.end() - static_cast<std::ptrdiff_t>(max_references - 1));
  return m;
}

std::string angle(std::string_view id) { return fmt::format("<{}>", id); }

std::string references_header(const reply_mail& m) {
  std::string out;
  for (const auto& r : m.references) {
    if (!out.empty()) out += ' ';
    out += angle(r);
  }
  return out;
}

std::string address_header(const mailbox& m) {
  init_gmime();
  gobject_ptr<InternetAddress> a{
      internet_address_mailbox_new(m.name.empty() ? nullptr : m.name.c_str(), m.address.c_str())};
  gchar_ptr text{internet_address_to_string(a.get(), nullptr, TRUE)};
  return text ? std::string(text.get()) : m.address;
}

std::string mime_message(const reply_mail& m, millis now) {
  init_gmime();
  gobject_ptr<GMimeMessage> msg{g_mime_message_new(TRUE)};
  g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_FROM,
                             m.from.name.empty() ? nullptr : m.from.name.c_str(),
                             m.from.address.c_str());
  g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_TO, nullptr, m.to.c_str());
  g_mime_message_set_subject(msg.get(), m.subject.c_str(), "utf-8");
  g_mime_message_set_message_id(msg.get(), m.message_id.c_str());
  GDateTime* date = g_date_time_new_from_unix_utc(now / 1000);
  g_mime_message_set_date(msg.get(), date);
  g_date_time_unref(date);
  auto* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg.get()));
  if (!m.in_reply_to.empty())
    g_mime_header_list_set(headers, "In-Reply-To", angle(m.in_reply_to).c_str(), "utf-8");
  if (const std::string refs = references_header(m); !refs.empty())
    g_mime_header_list_set(headers, "References", refs.c_str(), "utf-8");
  gobject_ptr<GMimeTextPart> body{g_mime_text_part_new_with_subtype("plain")};
  g_mime_text_part_set_text(body.get(), m.text.c_str());  // UTF-8; GMime picks the encoding
  g_mime_text_part_set_charset(body.get(), "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(body.get()), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  g_mime_message_set_mime_part(msg.get(), GMIME_OBJECT(body.get()));
  GMimeFormatOptions* fmt_opts = g_mime_format_options_clone(nullptr);
  g_mime_format_options_set_newline_format(fmt_opts, GMIME_NEWLINE_FORMAT_DOS);
  gchar_ptr text{g_mime_object_to_string(GMIME_OBJECT(msg.get()), fmt_opts)};
  g_mime_format_options_free(fmt_opts);
  return text ? std::string(text.get()) : std::string();
}

}  // namespace sb::email
