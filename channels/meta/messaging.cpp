#include "channels/meta/messaging.hpp"

#include "channels/common/text.hpp"
#include "channels/content.hpp"
#include "channels/fetch.hpp"

#include <fmt/core.h>

#include <algorithm>

#include <string>
#include <utility>

namespace sb::meta {
namespace {

// Attachments: [{"type":"image|video|audio|file|sticker|template|fallback|...",
// "payload":{"url":..,"title":..}}]; fallback attachments carry title and url at the top.
result<attachment> read_attachment(const object_reader& a) {
  SB_TRY(type, a.string("type"));
  attachment out;
  SB_TRY(url, a.string("url"));
  SB_TRY(title, a.string("title"));
  SB_TRY(payload, a.object("payload"));
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
  if (out.name.empty()) out.name = file_name_from_url(out.url);
  if (out.name.empty() && *type) out.name = **type;
  out.content_type = content_type_from_url(out.url);
  // Files of the customer's are fetched: not links they shared (fallback, template, share,
  // post, reel: web pages).
  static constexpr std::string_view files[] = {"image", "video",   "audio",
                                               "file",  "sticker", "story_mention"};
  const bool file =
      *type && std::find(std::begin(files), std::end(files), **type) != std::end(files);
  if (file && fetchable_url(out.url)) {
    out.fetch_kind = "url";
    out.fetch_ref = out.url;
  }
  return out;
}

// A shared location (Messenger's legacy "location" attachment): {"type":"location","title",
// "url","payload":{"coordinates":{"lat","long"}}}. Not a file: kept as the message's location.
error read_location(const object_reader& a, inbound_message& msg) {
  SB_TRY(payload, a.required_object("payload"));
  const object_reader p = a.child(**payload, "payload");
  SB_TRY(coords, p.required_object("coordinates"));
  const object_reader c = p.child(**coords, "coordinates");
  double coordinate[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string_view key = i == 0 ? "lat" : "long";
    const boost::json::value* v = c.get(key);
    if (v == nullptr || !v->is_number())
      return malformed(fmt::format("field {} must be a number", c.path_of(key)));
    coordinate[i] = v->to_number<double>();
  }
  if (!valid_coordinates(coordinate[0], coordinate[1]))
    return malformed(fmt::format("field {} holds coordinates out of range", c.path()));
  place pl{coordinate[0], coordinate[1], {}, {}, {}};
  SB_TRY(title, a.string("title"));
  // Messenger names an unnamed pin "Pinned Location" or "<sender>'s Location": no place name.
  if (*title && **title != "Pinned Location" && !(*title)->ends_with("'s Location") &&
      !(*title)->ends_with("’s Location"))
    pl.name = **title;
  SB_TRY(url, a.string("url"));
  if (*url) pl.url = **url;
  add_place(msg, pl);
  return {};
}

error read_attachments(const object_reader& message, inbound_message& msg) {
  SB_TRY(list, message.array("attachments"));
  if (*list == nullptr) return {};
  if ((*list)->size() > max_attachments)
    return malformed(fmt::format("field {} has more than {} entries",
                                 message.path_of("attachments"), max_attachments));
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    SB_TRY(a, message.element(**list, "attachments", i));
    if (auto type = a->string("type"); type && *type == "location") {
      if (error e = read_location(*a, msg); e.code != errc::ok) return e;
      continue;
    }
    SB_TRY(att, read_attachment(*a));
    msg.attachments.push_back(std::move(*att));
  }
  return {};
}

// Meta's flags are JSON booleans, but its older documentation (and some deliveries) wrote
// "true" / "false" as strings: both are read.
result<bool> flag(const object_reader& o, std::string_view key) {
  const boost::json::value* v = o.get(key);
  if (v == nullptr) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string() && (v->get_string() == "true" || v->get_string() == "false"))
    return v->get_string() == "true";
  return malformed(fmt::format("field {} must be true or false", o.path_of(key)));
}

// message: {"mid","text","attachments","reply_to":{"mid"|"story"},"quick_reply":{"payload"},
// "is_echo","is_deleted","is_unsupported"}. Returns false when the event is not a message.
result<bool> read_message(const object_reader& m, inbound_message& msg) {
  SB_TRY(deleted, flag(m, "is_deleted"));
  if (*deleted) return false;  // the customer (or the business) unsent an earlier message

  SB_TRY(echo, flag(m, "is_echo"));
  if (*echo) msg.direction = "outbound";

  SB_TRY(mid, m.id("mid"));
  if (*mid) msg.provider_id = std::move(**mid);

  SB_TRY(text, m.string("text"));
  if (*text) msg.text = std::move(**text);
  if (error e = read_attachments(m, msg); e.code != errc::ok) return e;

  SB_TRY(reply_to, m.object("reply_to"));
  if (*reply_to != nullptr) {
    const object_reader r = m.child(**reply_to, "reply_to");
    SB_TRY(to, r.id("mid"));
    if (*to) msg.extra["reply_to"] = **to;
    // Instagram: a reply to the business's story.
    SB_TRY(story, r.object("story"));
    if (*story != nullptr) {
      const object_reader s = r.child(**story, "story");
      SB_TRY(id, s.id("id"));
      SB_TRY(url, s.string("url"));
      boost::json::object st;
      if (*id) st["id"] = **id;
      if (*url) st["url"] = **url;
      msg.extra["story"] = std::move(st);
    }
  }

  SB_TRY(quick, m.object("quick_reply"));
  if (*quick != nullptr) {
    SB_TRY(payload, m.child(**quick, "quick_reply").string("payload"));
    if (*payload) msg.extra["quick_reply"] = **payload;
  }

  SB_TRY(unsupported, flag(m, "is_unsupported"));
  if (*unsupported) msg.extra["unsupported"] = true;
  return true;
}

// postback: {"mid","title","payload","referral"}: the customer tapped a button, a menu item,
// "Get Started" or an Instagram ice breaker. `mid`, when there is one, is the id of the message
// that holds the button, the same for every tap on it: the provider id is derived from the event
// (read_event), never taken from it.
error read_postback(const object_reader& p, inbound_message& msg) {
  SB_TRY(mid, p.id("mid"));
  SB_TRY(referral, p.object("referral"));
  if (*referral != nullptr) msg.extra["referral"] = **referral;  // an m.me link, an ad, a QR code
  SB_TRY(title, p.string("title"));
  SB_TRY(payload, p.string("payload"));
  boost::json::object pb;
  if (*title) {
    msg.text = **title;
    pb["title"] = **title;
  }
  if (*payload) pb["payload"] = **payload;
  if (*mid) pb["mid"] = **mid;
  msg.extra["postback"] = std::move(pb);
  return {};
}

// message_edit: {"mid","text","num_edit"}: kept beside the original, so the agent sees both.
error read_edit(const object_reader& e, inbound_message& msg) {
  SB_TRY(mid, e.required_id("mid"));
  SB_TRY(text, e.string("text"));
  SB_TRY(num, e.id("num_edit"));
  if (*text) msg.text = std::move(**text);
  msg.provider_id = fmt::format("{}:edited:{}", *mid, *num ? **num : short_digest(msg.text));
  msg.extra["edited"] = true;
  msg.extra["original_id"] = *mid;
  return {};
}

// sender / recipient: {"id"} (or {"user_ref"} for a chat-plugin guest without a PSID).
result<std::string> party(const object_reader& event, std::string_view key) {
  SB_TRY(obj, event.required_object(key));
  const object_reader p = event.child(**obj, key);
  SB_TRY(id, p.id("id"));
  if (*id) return std::move(**id);
  SB_TRY(ref, p.id("user_ref"));
  if (*ref) return std::move(**ref);
  return malformed(fmt::format("field {} is required", p.path_of("id")));
}

// A delivery or read receipt for what the page sent ({"delivery": {"mids": [...], "watermark"}},
// {"read": {"watermark"}}, Instagram's {"read": {"mid"}}), as statuses of agents' replies: each
// mid names one, a watermark every one sent to that customer up to it. One that cannot be read
// is skipped: a receipt is worth no refusal.
void read_receipt(const object_reader& event, const boost::json::object& body,
                  std::string_view status, const messaging_scope& scope, parse_result& out) {
  const object_reader r = event.child(body, status == "read" ? "read" : "delivery");
  auto customer = party(event, "sender");
  if (!customer) return;
  if (auto mids = r.array("mids"); mids && *mids)
    for (const auto& mid : **mids)
      if (mid.is_string() && !mid.get_string().empty() && mid.get_string().size() <= 256)
        out.statuses.push_back(
            {std::string(mid.get_string()), std::string(status), std::nullopt, {}, std::nullopt});
  if (auto mid = r.id("mid"); mid && *mid)
    out.statuses.push_back({std::move(**mid), std::string(status), std::nullopt, {}, std::nullopt});
  if (auto mark = r.epoch("watermark", epoch_unit::guess); mark && *mark && **mark > 0)
    out.statuses.push_back({{},
                            std::string(status),
                            **mark,
                            {},
                            identity{std::string(scope.identity_type),
                                     fmt::format("{}:{}", scope.account_id, *customer)},
                            250});
}

error read_event(const object_reader& event, const messaging_scope& scope, bool standby,
                 parse_result& out) {
  SB_TRY(message, event.object("message"));
  SB_TRY(postback, event.object("postback"));
  SB_TRY(edit, event.object("message_edit"));
  if (*message == nullptr && *postback == nullptr && *edit == nullptr) {
    ++out.ignored;  // delivery, read, reaction, referral, optin, handover, ...
    if (auto delivery = event.object("delivery"); delivery && *delivery)
      read_receipt(event, **delivery, "delivered", scope, out);
    if (auto read = event.object("read"); read && *read)
      read_receipt(event, **read, "read", scope, out);
    return {};
  }

  inbound_message msg;
  msg.recipient = std::string(scope.account_id);
  if (*message != nullptr) {
    SB_TRY(is_message, read_message(event.child(**message, "message"), msg));
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

  SB_TRY(sender, party(event, "sender"));
  SB_TRY(recipient, party(event, "recipient"));
  SB_TRY(timestamp, event.epoch("timestamp", epoch_unit::guess));
  msg.sent_at = *timestamp;
  if (const auto* pb_value = msg.extra.if_contains("postback"); pb_value != nullptr) {
    // One tap is one event: who tapped, when, what, on which message. Meta's retries of the
    // delivery repeat all four; another tap, even on the same button, differs in the time.
    const auto& pb = pb_value->as_object();
    const auto text_of = [&pb](std::string_view key) {
      const auto* v = pb.if_contains(key);
      return v != nullptr && v->is_string() ? std::string_view(v->get_string())
                                            : std::string_view();
    };
    msg.provider_id = fmt::format(
        "postback:{}",
        short_digest(fmt::format("{}\n{}\n{}\n{}\n{}", *sender, msg.sent_at.value_or(0),
                                 text_of("mid"), text_of("payload"), text_of("title"))));
  }

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
    SB_TRY(list, entry.array(list_name));
    if (*list == nullptr) continue;
    for_each_event(out, entry, **list, list_name, [&](const object_reader& event) {
      return read_event(event, scope, list_name == "standby", out);
    });
  }
  return {};
}

error read_messaging_event(const object_reader& event, const messaging_scope& scope,
                           parse_result& out) {
  return read_event(event, scope, false, out);
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
