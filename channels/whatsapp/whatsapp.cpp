// `whatsapp`: one entry per WhatsApp Business Account; each change of field "messages" is one
// business phone number's batch: metadata (the number written to), contacts (the senders'
// profile names), messages[] and statuses[]. Field "smb_message_echoes" (WhatsApp Business app
// coexistence) carries what the business sent from the app: stored as outbound.
#include "channels/whatsapp/whatsapp.hpp"

#include "channels/normalize.hpp"

#include <fmt/core.h>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;
using social::epoch_unit;
using social::malformed;
using social::object_reader;

// What one change's value says about all of its messages.
struct batch {
  std::string display_phone_number;
  std::string phone_number_id;
  std::vector<std::pair<std::string, std::string>> names;  // wa_id → profile name
  bool echoes = false;
};

result<batch> read_batch(const object_reader& value, bool echoes) {
  batch b;
  b.echoes = echoes;
  auto metadata = value.object("metadata");
  if (!metadata) return metadata.error();
  if (*metadata != nullptr) {
    const object_reader md = value.child(**metadata, "metadata");
    auto number = md.id("display_phone_number");
    if (!number) return number.error();
    if (*number) b.display_phone_number = std::move(**number);
    auto number_id = md.id("phone_number_id");
    if (!number_id) return number_id.error();
    if (*number_id) b.phone_number_id = std::move(**number_id);
  }
  auto contacts = value.array("contacts");
  if (!contacts) return contacts.error();
  if (*contacts != nullptr) {
    for (std::size_t i = 0; i < (*contacts)->size(); ++i) {
      auto c = value.element(**contacts, "contacts", i);
      if (!c) return c.error();
      auto wa_id = c->id("wa_id");
      if (!wa_id) return wa_id.error();
      auto profile = c->object("profile");
      if (!profile) return profile.error();
      if (!*wa_id || *profile == nullptr) continue;
      auto name = c->child(**profile, "profile").string("name");
      if (!name) return name.error();
      if (*name) b.names.emplace_back(std::move(**wa_id), std::move(**name));
    }
  }
  return b;
}

std::string profile_name(const batch& b, std::string_view wa_id) {
  for (const auto& [id, name] : b.names)
    if (id == wa_id) return name;
  return {};
}

// image / audio / video / document / sticker: {"id","mime_type","sha256","caption","filename"}.
// The bytes stay at Meta: the media id is what the agent's tool downloads them with.
error read_media(const object_reader& m, const std::string& type, inbound_message& msg,
                 json::array& media_ids) {
  auto obj = m.required_object(type);
  if (!obj) return obj.error();
  const object_reader media = m.child(**obj, type);
  auto id = media.required_id("id");
  if (!id) return id.error();
  auto mime = media.string("mime_type");
  if (!mime) return mime.error();
  auto caption = media.string("caption");
  if (!caption) return caption.error();
  auto filename = media.string("filename");
  if (!filename) return filename.error();
  attachment a;
  a.name = *filename && !(*filename)->empty() ? std::move(**filename) : type;
  a.content_type = mime->value_or("");
  msg.attachments.push_back(std::move(a));
  if (*caption) msg.text = std::move(**caption);
  media_ids.push_back(json::string(*id));
  return {};
}

error read_location(const object_reader& m, inbound_message& msg) {
  auto obj = m.required_object("location");
  if (!obj) return obj.error();
  const object_reader loc = m.child(**obj, "location");
  json::object out;
  for (const std::string_view key : {std::string_view("latitude"), std::string_view("longitude")}) {
    const json::value* v = loc.get(key);
    if (v == nullptr) return malformed(fmt::format("field {} is required", loc.path_of(key)));
    if (!v->is_number())
      return malformed(fmt::format("field {} must be a number", loc.path_of(key)));
    out[key] = *v;
  }
  std::vector<std::string> lines;
  for (const std::string_view key :
       {std::string_view("name"), std::string_view("address"), std::string_view("url")}) {
    auto s = loc.string(key);
    if (!s) return s.error();
    if (!*s) continue;
    if (key != "url" && !(*s)->empty()) lines.push_back(**s);
    out[key] = std::move(**s);
  }
  // The place's name and address are what an agent reads; coordinates travel in extra.
  for (std::size_t i = 0; i < lines.size(); ++i) msg.text += (i ? "\n" : "") + lines[i];
  msg.extra["location"] = std::move(out);
  return {};
}

// interactive: {"type":"button_reply|list_reply|nfm_reply", "<type>":{"id","title",...}}:
// the customer picked a reply button or a list row the business offered.
error read_interactive(const object_reader& m, inbound_message& msg) {
  auto obj = m.required_object("interactive");
  if (!obj) return obj.error();
  const object_reader in = m.child(**obj, "interactive");
  auto kind = in.string("type");
  if (!kind) return kind.error();
  if (!*kind || (*kind)->empty())
    return malformed(fmt::format("field {} is required", in.path_of("type")));
  json::object out;
  out["type"] = **kind;
  auto reply = in.object(**kind);
  if (!reply) return reply.error();
  if (*reply != nullptr) {
    const object_reader r = in.child(**reply, **kind);
    auto id = r.id("id");
    if (!id) return id.error();
    if (*id) out["id"] = **id;
    for (const std::string_view key :
         {std::string_view("title"), std::string_view("description"), std::string_view("body"),
          std::string_view("name"), std::string_view("response_json")}) {
      auto s = r.string(key);
      if (!s) return s.error();
      if (*s) out[key] = std::move(**s);
    }
    // The title is what the customer saw and tapped (a flow's reply has a body instead).
    if (const auto* t = out.if_contains("title"))
      msg.text = std::string(t->as_string());
    else if (const auto* b = out.if_contains("body"))
      msg.text = std::string(b->as_string());
  }
  msg.extra["interactive"] = std::move(out);
  return {};
}

// button: {"text","payload"}: a quick-reply button of a template message.
error read_button(const object_reader& m, inbound_message& msg) {
  auto obj = m.required_object("button");
  if (!obj) return obj.error();
  const object_reader b = m.child(**obj, "button");
  auto text = b.string("text");
  if (!text) return text.error();
  auto payload = b.string("payload");
  if (!payload) return payload.error();
  json::object out{{"type", "button"}};
  if (*payload) out["id"] = **payload;
  if (*text) {
    out["title"] = **text;
    msg.text = std::move(**text);
  }
  msg.extra["interactive"] = std::move(out);
  return {};
}

// context: {"from","id","forwarded","frequently_forwarded"}.
error read_context(const object_reader& m, inbound_message& msg) {
  auto obj = m.object("context");
  if (!obj) return obj.error();
  if (*obj == nullptr) return {};
  const object_reader c = m.child(**obj, "context");
  auto id = c.id("id");
  if (!id) return id.error();
  if (*id) msg.extra["reply_to"] = **id;
  for (const std::string_view key :
       {std::string_view("forwarded"), std::string_view("frequently_forwarded")}) {
    auto b = c.boolean(key);
    if (!b) return b.error();
    if (b->value_or(false)) msg.extra["forwarded"] = true;
  }
  return {};
}

error read_message(const object_reader& m, const batch& b, parse_result& out) {
  auto type = m.string("type");
  if (!type) return type.error();
  if (!*type || (*type)->empty())
    return malformed(fmt::format("field {} is required", m.path_of("type")));
  // Reactions, "customer changed number" notices and welcome requests are not messages.
  if (*type == "reaction" || *type == "system" || *type == "request_welcome") {
    ++out.ignored;
    return {};
  }

  inbound_message msg;
  auto id = m.required_id("id");
  if (!id) return id.error();
  msg.provider_id = std::move(*id);
  // The customer: the sender, or for the business's own echoes the one it wrote to.
  auto customer = m.required_id(b.echoes ? "to" : "from");
  if (!customer) return customer.error();
  auto timestamp = m.epoch("timestamp", epoch_unit::seconds);
  if (!timestamp) return timestamp.error();
  msg.sent_at = *timestamp;
  msg.recipient = b.display_phone_number;
  if (b.echoes)
    msg.direction = "outbound";
  else
    msg.sender_name = profile_name(b, *customer);

  msg.identities.push_back({"whatsapp", *customer});
  // A wa_id is the number in international form without "+"; anything else (a username-based
  // id) is not a phone number and stays a whatsapp identity only.
  if (auto phone = normalize_phone("+" + *customer)) msg.identities.push_back({"phone", *phone});

  json::object wa{{"type", **type}};
  if (!b.phone_number_id.empty()) wa["phone_number_id"] = b.phone_number_id;
  json::array media_ids;
  const std::string& t = **type;
  error e;
  if (t == "text") {
    auto text = m.required_object("text");
    if (!text) return text.error();
    auto body = m.child(**text, "text").string("body");
    if (!body) return body.error();
    if (*body) msg.text = std::move(**body);
  } else if (t == "image" || t == "audio" || t == "video" || t == "document" || t == "sticker") {
    e = read_media(m, t, msg, media_ids);
  } else if (t == "location") {
    e = read_location(m, msg);
  } else if (t == "interactive") {
    e = read_interactive(m, msg);
  } else if (t == "button") {
    e = read_button(m, msg);
  } else if (t == "contacts") {
    // Shared contact cards: passed to the agent as WhatsApp wrote them.
    auto cards = m.array("contacts");
    if (!cards) return cards.error();
    if (*cards != nullptr) msg.extra["contacts"] = **cards;
  } else if (t == "unsupported" || t == "unknown") {
    msg.extra["unsupported"] = true;
  }
  // order, and types added after this was written: kept with their type for the agent.
  if (e.code != errc::ok) return e;
  if (error ce = read_context(m, msg); ce.code != errc::ok) return ce;
  auto referral = m.object("referral");
  if (!referral) return referral.error();
  if (*referral != nullptr) msg.extra["referral"] = **referral;  // a click-to-WhatsApp ad

  if (!media_ids.empty()) wa["media_ids"] = std::move(media_ids);
  msg.extra["whatsapp"] = std::move(wa);
  out.messages.push_back(std::move(msg));
  return {};
}

error read_value(const object_reader& value, bool echoes, parse_result& out) {
  auto b = read_batch(value, echoes);
  if (!b) return b.error();
  const std::string_view list_name = echoes ? "message_echoes" : "messages";
  auto messages = value.array(list_name);
  if (!messages) return messages.error();
  if (*messages != nullptr) {
    for (std::size_t i = 0; i < (*messages)->size(); ++i) {
      auto m = value.element(**messages, list_name, i);
      if (!m) return m.error();
      if (error e = read_message(*m, *b, out); e.code != errc::ok) return e;
    }
  }
  // Receipts (sent, delivered, read, failed) and errors about the business's own messages.
  for (const std::string_view key : {std::string_view("statuses"), std::string_view("errors")}) {
    auto list = value.array(key);
    if (!list) return list.error();
    if (*list != nullptr) out.ignored += (*list)->size();
  }
  return {};
}

class whatsapp_adapter final : public meta::webhook_adapter {
 public:
  using webhook_adapter::webhook_adapter;

 private:
  error read_entry(const object_reader& entry, parse_result& out) const override {
    auto changes = entry.array("changes");
    if (!changes) return changes.error();
    if (*changes == nullptr) return {};
    for (std::size_t i = 0; i < (*changes)->size(); ++i) {
      auto change = entry.element(**changes, "changes", i);
      if (!change) return change.error();
      auto field = change->string("field");
      if (!field) return field.error();
      auto value = change->object("value");
      if (!value) return value.error();
      const bool messages = *field == "messages";
      const bool echoes = *field == "smb_message_echoes";
      if (*value == nullptr || !(messages || echoes)) {
        ++out.ignored;  // template status, quality and account updates, ...
        continue;
      }
      if (error e = read_value(change->child(**value, "value"), echoes, out); e.code != errc::ok)
        return e;
    }
    return {};
  }
};

}  // namespace

result<std::unique_ptr<adapter>> make_whatsapp_adapter(const channel_config& cfg) {
  auto settings = meta::read_settings(cfg, "whatsapp_business_account");
  if (!settings) return settings.error();
  return std::unique_ptr<adapter>(std::make_unique<whatsapp_adapter>(std::move(*settings)));
}

}  // namespace sb
