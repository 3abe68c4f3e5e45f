// A raw RFC 5322 message → parsed_email, with GMime. GMime does the MIME work (headers,
// RFC 2047, transfer encodings, nesting); this file decides what is the text, what is an
// attachment, and bounds the walk.
#include "channels/email/email.hpp"

#include "channels/common/errors.hpp"
#include "channels/email/gmime_util.hpp"
#include "core/ascii.hpp"

#include <fmt/core.h>

#include <utility>
#include <vector>

namespace sb::email {
namespace {

constexpr int max_headers = 1000;
constexpr std::size_t max_parts = 1000;
constexpr int max_depth = 32;

std::string mime_type_of(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (ct == nullptr) return "application/octet-stream";
  gchar_ptr type{g_mime_content_type_get_mime_type(ct)};
  return ascii_lowered(view(type.get()));
}

void add_mailboxes(InternetAddressList* list, std::vector<mailbox>& out) {
  if (list != nullptr) collect_mailboxes(list, out, max_addresses);
}

// The From header (or Sender) as sender candidates: a header that is present but holds no
// readable mailbox is still a candidate, so the reason the mail is kept unreadable names it.
void add_sender(GMimeObject* obj, const char* header, InternetAddressList* parsed,
                parsed_email& e) {
  const char* raw = g_mime_object_get_header(obj, header);
  if (raw == nullptr) return;
  std::vector<mailbox> list;
  add_mailboxes(parsed, list);
  const std::string field = fmt::format("header {}", header);
  if (list.empty()) {
    e.senders.push_back({field, {"", valid_utf8(raw)}});
  } else {
    e.senders.push_back({field, std::move(list.front())});
  }
}

class walker {
 public:
  explicit walker(parsed_email& e) : e_(e) {}

  error walk(GMimeObject* root) {
    std::vector<std::pair<GMimeObject*, int>> stack{{root, 0}};
    std::size_t parts = 0;
    while (!stack.empty()) {
      auto [obj, depth] = stack.back();
      stack.pop_back();
      if (obj == nullptr) continue;
      if (++parts > max_parts)
        return malformed(fmt::format("the message has more than {} MIME parts", max_parts));
      if (GMIME_IS_MULTIPART(obj)) {
        if (depth >= max_depth)
          return malformed(fmt::format("MIME parts are nested more than {} deep", max_depth));
        GMimeMultipart* mp = GMIME_MULTIPART(obj);
        for (int i = g_mime_multipart_get_count(mp) - 1; i >= 0; --i)
          stack.emplace_back(g_mime_multipart_get_part(mp, i), depth + 1);
      } else if (GMIME_IS_MESSAGE_PART(obj)) {
        attached_message(obj);
      } else if (GMIME_IS_PART(obj)) {
        leaf(GMIME_PART(obj), depth == 0);
      }
    }
    e_.text = std::move(plain_);
    e_.html = std::move(html_);
    return {};
  }

 private:
  // A text part is the message's text unless it is marked as a file (a disposition of
  // "attachment", or a file name). The whole body of a single-part message is its text even
  // with a file name, as long as it is not marked "attachment": some mailers name every part.
  void leaf(GMimePart* part, bool is_body) {
    GMimeObject* obj = GMIME_OBJECT(part);
    const std::string type = mime_type_of(obj);
    const std::string filename(view(g_mime_part_get_filename(part)));
    const bool attached = g_mime_part_is_attachment(part) || (!filename.empty() && !is_body);
    if (!attached && (type == "text/plain" || type == "text/html")) {
      const char* charset = g_mime_object_get_content_type_parameter(obj, "charset");
      std::string text = to_utf8(entity_bytes(obj).value_or(std::string()), view(charset));
      const auto param = [obj](const char* name) {
        return ascii_lowered(view(g_mime_object_get_content_type_parameter(obj, name)));
      };
      if (type == "text/plain" && param("format") == "flowed")
        text = unflow(text, param("delsp") == "yes");
      std::string& bucket = type == "text/plain" ? plain_ : html_;
      if (!bucket.empty() && !text.empty()) bucket += '\n';
      bucket += text;
      return;
    }
    attachment a;
    a.name = filename;
    a.content_type = type;
    add_file(std::move(a), obj);
  }

  // A forwarded message (message/rfc822) is one attachment: its own text is not this
  // message's text.
  void attached_message(GMimeObject* obj) {
    attachment a;
    a.name = view(g_mime_object_get_content_disposition_parameter(obj, "filename"));
    if (a.name.empty()) a.name = view(g_mime_object_get_content_type_parameter(obj, "name"));
    a.content_type = mime_type_of(obj);
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner != nullptr && a.name.empty()) a.name = view(g_mime_message_get_subject(inner));
    add_file(std::move(a), obj);
  }

  // The attachment with its bytes (the part decoded, or the message as written), so the daemon
  // can keep the file; without either when GMime cannot write it.
  void add_file(attachment a, GMimeObject* obj) {
    a.bytes = entity_bytes(obj);
    if (a.bytes) a.size = static_cast<std::int64_t>(a.bytes->size());
    add_attachment(e_, std::move(a));
  }

  parsed_email& e_;
  std::string plain_;
  std::string html_;
};

}  // namespace

result<parsed_email> parse_mime_message(std::string_view raw, std::string_view what) {
  if (raw.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return malformed(fmt::format("{} is empty", what));
  init_gmime();
  // Nesting, part and header counts and boundary lengths, checked before GMime reads a byte:
  // it would build all of it first, at hundreds of milliseconds per MiB.
  structure_limits limits;
  limits.max_depth = max_depth;
  limits.max_parts = max_parts;
  limits.parts_message = fmt::format("the message has more than {} MIME parts", max_parts);
  limits.max_block_fields = max_headers;
  if (error e = check_mime_structure(raw, limits, what); e.code != errc::ok) return e;
  auto stream = memory_stream(raw);
  gobject_ptr<GMimeParser> parser{g_mime_parser_new_with_stream(stream.get())};
  gobject_ptr<GMimeMessage> msg{g_mime_parser_construct_message(parser.get(), parser_options())};
  if (!msg) return malformed(fmt::format("{} is not an RFC 5322 message", what));
  GMimeObject* obj = GMIME_OBJECT(msg.get());
  const int header_count = g_mime_header_list_get_count(g_mime_object_get_header_list(obj));
  if (header_count == 0)
    return malformed(fmt::format("{} is not an RFC 5322 message (no header fields)", what));
  if (header_count > max_headers)
    return malformed(fmt::format("{} has more than {} header fields", what, max_headers));

  parsed_email e;
  e.primary_sender_field = "header From";
  add_sender(obj, "From", g_mime_message_get_from(msg.get()), e);
  add_sender(obj, "Sender", g_mime_message_get_sender(msg.get()), e);
  add_mailboxes(g_mime_message_get_to(msg.get()), e.to);
  add_mailboxes(g_mime_message_get_cc(msg.get()), e.cc);
  e.subject = valid_utf8(view(g_mime_message_get_subject(msg.get())));
  e.message_id = message_id(view(g_mime_object_get_header(obj, "Message-ID")));
  auto parents = message_ids(view(g_mime_object_get_header(obj, "In-Reply-To")), 1000);
  if (!parents.empty()) e.in_reply_to = std::move(parents.front());
  e.references = message_ids(view(g_mime_object_get_header(obj, "References")));
  if (GDateTime* date = g_mime_message_get_date(msg.get()))
    e.sent_at = static_cast<millis>(g_date_time_to_unix(date)) * 1000;

  {
    GMimeHeaderList* list = g_mime_object_get_header_list(obj);
    for (int i = 0; i < header_count; ++i) {
      GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
      const std::string_view name = view(g_mime_header_get_name(h));
      if (is_trace_header(name))
        e.trace_headers.emplace_back(std::string(name),
                                     valid_utf8(view(g_mime_header_get_value(h))));
    }
  }
  e.auto_reply_reason = auto_reply_reason([obj](std::string_view name) {
    const char* v = g_mime_object_get_header(obj, std::string(name).c_str());
    return v ? std::optional<std::string_view>(v) : std::nullopt;
  });

  GMimeObject* body = g_mime_message_get_mime_part(msg.get());
  if (body != nullptr && mime_type_of(body) == "multipart/report") e.is_report = true;
  walker w(e);
  if (error err = w.walk(body); err.code != errc::ok) return err;
  return e;
}

}  // namespace sb::email
