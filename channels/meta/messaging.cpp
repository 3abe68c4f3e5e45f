#include "channels/meta/messaging.hpp"

#include <fmt/core.h>

#include <string>
#include <utility>

namespace sb::meta {
namespace {

using social::epoch_unit;
using social::malformed;
using social::object_reader;

// Attachments: [{"type":"image|video|audio|file|sticker|template|fallback|...",
// "payload":{"url":..,"title":..}}]; fallback attachments carry title and url at the top.
result<attachment> read_attachment(const object_reader& a) {
  auto type = a.string("type");
  if (!type) return type.error();
  attachment out;
  auto url = a.string("url");
  if (!url) return url.error();
  auto title = a.string("title");
  if (!title) return title.error();
  auto payload = a.object("payload");
  if (!payload) return payload.error();
  if (*payload != nullptr) {
    const object_reader p = a.child(**payload, "payload");
    if (auto u = p.string("url"); !u)
      return u.error();
    else if (*u)
      url = std::move(*u);
    if (auto t = p.string("title"); !t)
      return t.error();
    else if (*t && !*title)
      title = std::move(*t);
  }
  if (*url) out.url = std::move(**url);
  // A title is what the sender saw (shared links); a CDN URL's last segment names the file.
  if (*title && !(*title)->empty()) out.name = std::move(**title);
  if (out.name.empty()) out.name = social::file_name_from_url(out.url);
  if (out.name.empty() && *type) out.name = **type;
  out.content_type = social::content_type_from_url(out.url);
  return out;
}

error read_attachments(const object_reader& message, inbound_message& msg) {
  auto list = message.array("attachments");
  if (!list) return list.error();
  if (*list == nullptr) return {};
  if ((*list)->size() > social::max_attachments)
    return malformed(fmt::format("field {} has more than {} entries",
                                 message.path_of("attachments"), social::max_attachments));
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    auto a = message.element(**list, "attachments", i);
    if (!a) return a.error();
    auto att = read_attachment(*a);
    if (!att) return att.error();
    msg.attachments.push_back(std::move(*att));
  }
  return {};
}

// message: {"mid","text","attachments","reply_to":{"mid"|"story"},"quick_reply":{"payload"},
// "is_echo","is_deleted","is_unsupported"}. Returns false when the event is not a message.
result<bool> read_message(const object_reader& m, inbound_message& msg) {
  auto deleted = m.boolean("is_deleted");
  if (!deleted) return deleted.error();
  if (deleted->value_or(false)) return false;  // the customer unsent an earlier message

  auto echo = m.boolean("is_echo");
  if (!echo) return echo.error();
  if (echo->value_or(false)) msg.direction = "outbound";

  auto mid = m.id("mid");
  if (!mid) return mid.error();
  if (*mid) msg.provider_id = std::move(**mid);

  auto text = m.string("text");
  if (!text) return text.error();
  if (*text) msg.text = std::move(**text);
  if (error e = read_attachments(m, msg); e.code != errc::ok) return e;

  auto reply_to = m.object("reply_to");
  if (!reply_to) return reply_to.error();
  if (*reply_to != nullptr) {
    const object_reader r = m.child(**reply_to, "reply_to");
    auto to = r.id("mid");
    if (!to) return to.error();
    if (*to) msg.extra["reply_to"] = **to;
    // Instagram: a reply to the business's story.
    auto story = r.object("story");
    if (!story) return story.error();
    if (*story != nullptr) {
      const object_reader s = r.child(**story, "story");
      auto id = s.id("id");
      if (!id) return id.error();
      auto url = s.string("url");
      if (!url) return url.error();
      boost::json::object st;
      if (*id) st["id"] = **id;
      if (*url) st["url"] = **url;
      msg.extra["story"] = std::move(st);
    }
  }

  auto quick = m.object("quick_reply");
  if (!quick) return quick.error();
  if (*quick != nullptr) {
    auto payload = m.child(**quick, "quick_reply").string("payload");
    if (!payload) return payload.error();
    if (*payload) msg.extra["quick_reply"] = **payload;
  }

  auto unsupported = m.boolean("is_unsupported");
  if (!unsupported) return unsupported.error();
  if (unsupported->value_or(false)) msg.extra["unsupported"] = true;
  return true;
}

// postback: {"mid","title","payload"}: the customer tapped a button or a menu item.
error read_postback(const object_reader& p, inbound_message& msg) {
  auto mid = p.id("mid");
  if (!mid) return mid.error();
  if (*mid) msg.provider_id = std::move(**mid);
  auto title = p.string("title");
  if (!title) return title.error();
  auto payload = p.string("payload");
  if (!payload) return payload.error();
  boost::json::object pb;
  if (*title) {
    msg.text = **title;
    pb["title"] = **title;
  }
  if (*payload) pb["payload"] = **payload;
  msg.extra["postback"] = std::move(pb);
  return {};
}

// message_edit: {"mid","text","num_edit"}: kept beside the original, so the agent sees both.
error read_edit(const object_reader& e, inbound_message& msg) {
  auto mid = e.required_id("mid");
  if (!mid) return mid.error();
  auto text = e.string("text");
  if (!text) return text.error();
  auto num = e.id("num_edit");
  if (!num) return num.error();
  if (*text) msg.text = std::move(**text);
  msg.provider_id =
      fmt::format("{}:edited:{}", *mid, *num ? **num : social::short_digest(msg.text));
  msg.extra["edited"] = true;
  msg.extra["original_id"] = *mid;
  return {};
}

// sender / recipient: {"id"} (or {"user_ref"} for a chat-plugin guest without a PSID).
result<std::string> party(const object_reader& event, std::string_view key) {
  auto obj = event.required_object(key);
  if (!obj) return obj.error();
  const object_reader p = event.child(**obj, key);
  auto id = p.id("id");
  if (!id) return id.error();
  if (*id) return std::move(**id);
  auto ref = p.id("user_ref");
  if (!ref) return ref.error();
  if (*ref) return std::move(**ref);
  return malformed(fmt::format("field {} is required", p.path_of("id")));
}

error read_event(const object_reader& event, const messaging_scope& scope, bool standby,
                 parse_result& out) {
  auto message = event.object("message");
  if (!message) return message.error();
  auto postback = event.object("postback");
  if (!postback) return postback.error();
  auto edit = event.object("message_edit");
  if (!edit) return edit.error();
  if (*message == nullptr && *postback == nullptr && *edit == nullptr) {
    ++out.ignored;  // delivery, read, reaction, referral, optin, handover, ...
    return {};
  }

  inbound_message msg;
  msg.recipient = std::string(scope.account_id);
  if (*message != nullptr) {
    auto is_message = read_message(event.child(**message, "message"), msg);
    if (!is_message) return is_message.error();
    if (!*is_message) {
      ++out.ignored;
      return {};
    }
  } else if (*postback != nullptr) {
    if (error e = read_postback(event.child(**postback, "postback"), msg); e.code != errc::ok)
      return e;
  } else if (error e = read_edit(event.child(**edit, "message_edit"), msg); e.code != errc::ok) {
    return e;
  }

  auto sender = party(event, "sender");
  if (!sender) return sender.error();
  auto recipient = party(event, "recipient");
  if (!recipient) return recipient.error();
  auto timestamp = event.epoch("timestamp", epoch_unit::guess);
  if (!timestamp) return timestamp.error();
  msg.sent_at = *timestamp;

  // An echo is the business writing to the customer: the customer is the recipient.
  const std::string& customer = msg.direction == "outbound" ? *recipient : *sender;
  msg.identities.push_back(
      {std::string(scope.identity_type), fmt::format("{}:{}", scope.account_id, customer)});
  if (standby) msg.extra["standby"] = true;
  out.messages.push_back(std::move(msg));
  return {};
}

}  // namespace

error read_messaging(const object_reader& entry, const messaging_scope& scope, parse_result& out) {
  for (const std::string_view list_name :
       {std::string_view("messaging"), std::string_view("standby")}) {
    auto list = entry.array(list_name);
    if (!list) return list.error();
    if (*list == nullptr) continue;
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      auto event = entry.element(**list, list_name, i);
      if (!event) return event.error();
      if (error e = read_event(*event, scope, list_name == "standby", out); e.code != errc::ok)
        return e;
    }
  }
  return {};
}

void attribute_comment(const std::optional<comment_author>& author, const messaging_scope& scope,
                       std::string_view anonymous_key, inbound_message& msg) {
  if (!author) {
    msg.identities.push_back(
        {std::string(scope.identity_type), fmt::format("{}:{}", scope.account_id, anonymous_key)});
    return;
  }
  msg.identities.push_back(
      {std::string(scope.identity_type), fmt::format("{}:{}", scope.account_id, author->id)});
  if (author->id == scope.account_id) {
    // The business answering in public. The comment webhook does not say whom it answers,
    // so it is filed under the account's own identity; stored, never routed.
    msg.direction = "outbound";
    return;
  }
  msg.sender_name = author->name;
}

}  // namespace sb::meta
