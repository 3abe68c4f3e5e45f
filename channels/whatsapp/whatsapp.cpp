// `whatsapp`: one entry per WhatsApp Business Account; each change of field "messages" is one
// business phone number's batch: metadata (the number written to), contacts (the senders'
// profile names), messages[] and statuses[]. Field "smb_message_echoes" (WhatsApp Business app
// coexistence) carries what the business sent from the app: stored as outbound.
//
// A sender is named by `from` (the wa_id, a phone number) and/or `from_user_id` (a
// business-scoped user id, BSUID, "US.13491208655302741918"): Meta leaves `from` out for users
// who adopted a username and hid their number. Each message of a batch is read on its own: one
// that cannot be read is kept as unreadable (channels/unreadable.hpp), never the batch refused.
#include "channels/whatsapp/whatsapp.hpp"

#include "channels/content.hpp"
#include "channels/meta/meta.hpp"
#include "channels/normalize.hpp"

#include <fmt/core.h>

#include <algorithm>

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

// One entry of value.contacts[]: the profile of a sender, found by its wa_id or BSUID.
struct contact {
  std::string wa_id;    // empty when Meta withholds the number
  std::string user_id;  // the BSUID, empty in payloads from before BSUIDs
  std::string name;
  std::string username;
};

// What one change's value says about all of its messages.
struct batch {
  std::string display_phone_number;
  std::string phone_number_id;
  std::vector<contact> contacts;
  // Positions in contacts sorted by wa_id and by user_id (then position: the first wins), so
  // that finding each message's sender costs O(log n), not a scan of every profile.
  std::vector<std::size_t> by_wa_id, by_user_id;
  bool echoes = false;
};

std::vector<std::size_t> index_by(const std::vector<contact>& contacts, std::string contact::*key) {
  std::vector<std::size_t> order(contacts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return contacts[a].*key < contacts[b].*key;
  });
  return order;
}

const contact* lookup(const batch& b, const std::vector<std::size_t>& index,
                      std::string contact::*key, std::string_view value) {
  if (value.empty()) return nullptr;
  const auto it =
      std::lower_bound(index.begin(), index.end(), value,
                       [&](std::size_t i, std::string_view v) { return b.contacts[i].*key < v; });
  return it != index.end() && b.contacts[*it].*key == value ? &b.contacts[*it] : nullptr;
}

result<batch> read_batch(const object_reader& value, bool echoes) {
  batch b;
  b.echoes = echoes;
  SB_TRY(metadata, value.object("metadata"));
  if (*metadata != nullptr) {
    const object_reader md = value.child(**metadata, "metadata");
    SB_TRY(number, md.id("display_phone_number"));
    if (*number) b.display_phone_number = std::move(**number);
    SB_TRY(number_id, md.id("phone_number_id"));
    if (*number_id) b.phone_number_id = std::move(**number_id);
  }
  // Profiles only name the senders: one that cannot be read costs its name, not the batch.
  auto contacts = value.array("contacts");
  if (contacts && *contacts != nullptr) {
    for (std::size_t i = 0; i < (*contacts)->size(); ++i) {
      auto c = value.element(**contacts, "contacts", i);
      if (!c) continue;
      contact k;
      auto wa_id = c->id("wa_id");
      auto user_id = c->id("user_id");
      if (!wa_id || !user_id) continue;
      k.wa_id = wa_id->value_or("");
      k.user_id = user_id->value_or("");
      if (auto profile = c->object("profile"); profile && *profile != nullptr) {
        const object_reader p = c->child(**profile, "profile");
        if (auto name = p.string("name"); name && *name) k.name = std::move(**name);
        if (auto username = p.string("username"); username && *username)
          k.username = std::move(**username);
      }
      if (!k.wa_id.empty() || !k.user_id.empty()) b.contacts.push_back(std::move(k));
    }
  }
  b.by_wa_id = index_by(b.contacts, &contact::wa_id);
  b.by_user_id = index_by(b.contacts, &contact::user_id);
  return b;
}

// The first profile whose wa_id or user_id is the sender's.
const contact* find_contact(const batch& b, std::string_view wa_id, std::string_view user_id) {
  const contact* by_number = lookup(b, b.by_wa_id, &contact::wa_id, wa_id);
  const contact* by_user = lookup(b, b.by_user_id, &contact::user_id, user_id);
  if (!by_number || !by_user) return by_number ? by_number : by_user;
  return by_number < by_user ? by_number : by_user;
}

// image / audio / video / document / sticker: {"id","mime_type","sha256","caption","filename",
// "url"}. The bytes stay at Meta: the media id is what they are fetched by (channels/fetch.hpp,
// kind "whatsapp"); since November 2025 Meta also sends a URL to fetch them from (with the
// channel's token).
error read_media(const object_reader& m, const std::string& type, inbound_message& msg,
                 json::array& media_ids) {
  SB_TRY(obj, m.required_object(type));
  const object_reader media = m.child(**obj, type);
  SB_TRY(id, media.required_id("id"));
  SB_TRY(mime, media.string("mime_type"));
  SB_TRY(caption, media.string("caption"));
  SB_TRY(filename, media.string("filename"));
  SB_TRY(url, media.string("url"));
  attachment a;
  if (*url) a.url = std::move(**url);
  a.name = *filename && !(*filename)->empty() ? std::move(**filename) : type;
  a.content_type = mime->value_or("");
  a.fetch_kind = "whatsapp";
  a.fetch_ref = *id;
  msg.attachments.push_back(std::move(a));
  if (*caption) msg.text = std::move(**caption);
  media_ids.push_back(json::string(*id));
  return {};
}

error read_location(const object_reader& m, inbound_message& msg) {
  SB_TRY(obj, m.required_object("location"));
  const object_reader loc = m.child(**obj, "location");
  double coordinate[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string_view key = i == 0 ? "latitude" : "longitude";
    const json::value* v = loc.get(key);
    if (v == nullptr) return malformed(fmt::format("field {} is required", loc.path_of(key)));
    if (!v->is_number())
      return malformed(fmt::format("field {} must be a number", loc.path_of(key)));
    coordinate[i] = v->to_number<double>();
  }
  if (!valid_coordinates(coordinate[0], coordinate[1]))
    return malformed(fmt::format("field {} holds coordinates out of range", loc.path()));
  place p{coordinate[0], coordinate[1], {}, {}, {}};
  for (auto [key, out] :
       {std::pair{"name", &p.name}, std::pair{"address", &p.address}, std::pair{"url", &p.url}}) {
    SB_TRY(s, loc.string(key));
    if (*s) *out = std::move(**s);
  }
  add_place(msg, p);
  return {};
}

// contacts: [{"name":{"formatted_name","first_name",..},"phones":[{"phone","wa_id","type"}],..}]:
// passed to the agent as WhatsApp wrote them, and one line of text per card.
error read_contacts(const object_reader& m, inbound_message& msg) {
  SB_TRY(cards, m.array("contacts"));
  if (*cards == nullptr)
    return malformed(fmt::format("field {} is required", m.path_of("contacts")));
  for (std::size_t i = 0; i < (*cards)->size(); ++i) {
    SB_TRY(card, m.element(**cards, "contacts", i));
    std::string name;
    if (auto n = card->object("name"); n && *n != nullptr)
      if (auto f = card->child(**n, "name").string("formatted_name"); f && *f) name = **f;
    std::string phone;
    if (auto phones = card->array("phones"); phones && *phones != nullptr && !(*phones)->empty())
      if (auto first = card->element(**phones, "phones", 0); first)
        if (auto ph = first->string("phone"); ph && *ph) phone = **ph;
    append_generated_line(msg, contact_text(name, phone));
  }
  msg.extra["contacts"] = **cards;
  return {};
}

// A number WhatsApp wrote as a JSON number ("quantity": 3, "item_price": 30.5), as text.
std::string number_text(const json::value* v) {
  if (v == nullptr) return {};
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) return fmt::format("{}", v->get_double());
  if (v->is_string()) return std::string(v->get_string());
  return {};
}

// order: {"catalog_id","text","product_items":[{"product_retailer_id","quantity","item_price",
// "currency"}]}: a cart the customer sent from the business's catalog.
error read_order(const object_reader& m, inbound_message& msg) {
  SB_TRY(obj, m.required_object("order"));
  const object_reader order = m.child(**obj, "order");
  SB_TRY(text, order.string("text"));
  if (*text && !(*text)->empty()) msg.text = **text;
  SB_TRY(items, order.array("product_items"));
  for (std::size_t i = 0; *items != nullptr && i < (*items)->size(); ++i) {
    SB_TRY(item, order.element(**items, "product_items", i));
    SB_TRY(product, item->id("product_retailer_id"));
    SB_TRY(currency, item->string("currency"));
    std::string line =
        fmt::format("{} × {}", number_text(item->get("quantity")), product->value_or("?"));
    if (const std::string price = number_text(item->get("item_price")); !price.empty())
      line += fmt::format(" ({} {})", price, currency->value_or(""));
    append_generated_line(msg, line);
  }
  msg.extra["order"] = **obj;
  return {};
}

// interactive: {"type":"button_reply|list_reply|nfm_reply", "<type>":{"id","title",...}}:
// the customer picked a reply button or a list row the business offered.
error read_interactive(const object_reader& m, inbound_message& msg) {
  SB_TRY(obj, m.required_object("interactive"));
  const object_reader in = m.child(**obj, "interactive");
  SB_TRY(kind, in.string("type"));
  if (!*kind || (*kind)->empty())
    return malformed(fmt::format("field {} is required", in.path_of("type")));
  json::object out;
  out["type"] = **kind;
  SB_TRY(reply, in.object(**kind));
  if (*reply != nullptr) {
    const object_reader r = in.child(**reply, **kind);
    SB_TRY(id, r.id("id"));
    if (*id) out["id"] = **id;
    for (const std::string_view key :
         {std::string_view("title"), std::string_view("description"), std::string_view("body"),
          std::string_view("name"), std::string_view("response_json")}) {
      SB_TRY(s, r.string(key));
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
  SB_TRY(obj, m.required_object("button"));
  const object_reader b = m.child(**obj, "button");
  SB_TRY(text, b.string("text"));
  SB_TRY(payload, b.string("payload"));
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
  SB_TRY(obj, m.object("context"));
  if (*obj == nullptr) return {};
  const object_reader c = m.child(**obj, "context");
  SB_TRY(id, c.id("id"));
  if (*id) msg.extra["reply_to"] = **id;
  for (const std::string_view key :
       {std::string_view("forwarded"), std::string_view("frequently_forwarded")}) {
    SB_TRY(b, c.boolean(key));
    if (b->value_or(false)) msg.extra["forwarded"] = true;
  }
  return {};
}

// The content of a message of type `t` (also the new content of an edit): text, media,
// location, ... into msg; media ids into media_ids.
error read_content(const object_reader& m, const std::string& t, inbound_message& msg,
                   json::array& media_ids) {
  if (t == "text") {
    SB_TRY(text, m.required_object("text"));
    SB_TRY(body, m.child(**text, "text").string("body"));
    if (*body) msg.text = std::move(**body);
    return {};
  }
  if (t == "image" || t == "audio" || t == "video" || t == "document" || t == "sticker")
    return read_media(m, t, msg, media_ids);
  if (t == "location") return read_location(m, msg);
  if (t == "interactive") return read_interactive(m, msg);
  if (t == "button") return read_button(m, msg);
  if (t == "contacts") return read_contacts(m, msg);
  if (t == "order") return read_order(m, msg);
  if (t == "unsupported" || t == "unknown") {
    // Something WhatsApp cannot show the business (a poll, a view-once message, ...).
    json::object what;
    if (auto u = m.object("unsupported"); u && *u != nullptr)
      if (auto type = m.child(**u, "unsupported").string("type"); type && *type)
        what["type"] = **type;
    msg.extra["unsupported"] = true;
    if (!what.empty()) msg.extra["unsupported_content"] = std::move(what);
    return {};
  }
  // Types added after this was written: kept with their type for the agent.
  return {};
}

// The customer of a message: `from` / `from_user_id`, or for the business's own echoes the one
// it wrote to (`to` / `to_user_id`). Identities: whatsapp <wa_id> and phone +<wa_id> when the
// number is given, whatsapp_bsuid <BSUID> when the BSUID is; the first of them is the sender.
error read_customer(const object_reader& m, const batch& b, inbound_message& msg,
                    json::object& wa) {
  const std::string_view number_key = b.echoes ? "to" : "from";
  const std::string_view bsuid_key = b.echoes ? "to_user_id" : "from_user_id";
  SB_TRY(wa_id, m.id(number_key));
  SB_TRY(bsuid, m.id(bsuid_key));
  if (!*wa_id && !*bsuid)
    return malformed(
        fmt::format("field {} (or {}) is required", m.path_of(number_key), m.path_of(bsuid_key)));
  if (*wa_id) {
    msg.identities.push_back({"whatsapp", **wa_id});
    // A wa_id is the number in international form without "+"; anything else is not a phone
    // number and stays a whatsapp identity only.
    if (auto phone = normalize_phone("+" + **wa_id)) msg.identities.push_back({"phone", *phone});
  }
  if (*bsuid) msg.identities.push_back({"whatsapp_bsuid", **bsuid});
  const contact* c = find_contact(b, wa_id->value_or(""), bsuid->value_or(""));
  if (c != nullptr) {
    if (!b.echoes) msg.sender_name = c->name;
    if (!c->username.empty()) wa["username"] = c->username;
  }
  return {};
}

error read_message(const object_reader& m, const batch& b, parse_result& out) {
  SB_TRY(type, m.string("type"));
  if (!*type || (*type)->empty())
    return malformed(fmt::format("field {} is required", m.path_of("type")));
  // Reactions, deletions ("revoke"), "customer changed number" notices and welcome requests
  // are not messages: what was stored stays as it was.
  if (*type == "reaction" || *type == "revoke" || *type == "system" || *type == "request_welcome") {
    ++out.ignored;
    return {};
  }

  inbound_message msg;
  SB_TRY(id, m.required_id("id"));
  msg.provider_id = std::move(*id);
  json::object wa{{"type", **type}};
  if (error e = read_customer(m, b, msg, wa); e.code != errc::ok) return e;
  SB_TRY(timestamp, m.epoch("timestamp", epoch_unit::seconds));
  msg.sent_at = *timestamp;
  msg.recipient = b.display_phone_number;
  if (b.echoes) msg.direction = "outbound";
  // A message in a group: every member sees it, and an answer goes to the group.
  SB_TRY(group, m.id("group_id"));
  if (*group) {
    msg.visibility = "public";
    wa["group_id"] = **group;
  }

  if (!b.phone_number_id.empty()) wa["phone_number_id"] = b.phone_number_id;
  json::array media_ids;
  if (**type == "edit") {
    // edit: {"original_message_id", "message": {"type", "<type>": {...}}}: the customer (or,
    // among echoes, the business) changed a message; kept beside the original, as on Messenger.
    SB_TRY(edit_obj, m.required_object("edit"));
    const object_reader edit = m.child(**edit_obj, "edit");
    SB_TRY(original, edit.required_id("original_message_id"));
    SB_TRY(inner_obj, edit.required_object("message"));
    const object_reader inner = edit.child(**inner_obj, "message");
    SB_TRY(inner_type, inner.string("type"));
    if (!*inner_type || (*inner_type)->empty())
      return malformed(fmt::format("field {} is required", inner.path_of("type")));
    if (error e = read_content(inner, **inner_type, msg, media_ids); e.code != errc::ok) return e;
    wa["edited_type"] = **inner_type;
    msg.extra["edited"] = true;
    msg.extra["original_id"] = *original;
  } else if (error e = read_content(m, **type, msg, media_ids); e.code != errc::ok) {
    return e;
  }
  if (error ce = read_context(m, msg); ce.code != errc::ok) return ce;
  SB_TRY(referral, m.object("referral"));
  if (*referral != nullptr) msg.extra["referral"] = **referral;  // a click-to-WhatsApp ad

  if (!media_ids.empty()) wa["media_ids"] = std::move(media_ids);
  msg.extra["whatsapp"] = std::move(wa);
  out.messages.push_back(std::move(msg));
  return {};
}

void read_status(const object_reader& st, parse_result& out);

error read_value(const object_reader& value, bool echoes, parse_result& out) {
  SB_TRY(b, read_batch(value, echoes));
  const std::string_view list_name = echoes ? "message_echoes" : "messages";
  SB_TRY(messages, value.array(list_name));
  if (*messages != nullptr)
    for_each_event(out, value, **messages, list_name,
                   [&](const object_reader& m) { return read_message(m, *b, out); });
  // Receipts (sent, delivered, read, failed) and errors about the business's own messages:
  // no messages (counted as ignored), and the receipts move agents' replies on.
  for (const std::string_view key : {std::string_view("statuses"), std::string_view("errors")}) {
    SB_TRY(list, value.array(key));
    if (*list != nullptr) out.ignored += (*list)->size();
  }
  SB_TRY(statuses, value.array("statuses"));
  if (*statuses != nullptr)
    for (std::size_t i = 0; i < (*statuses)->size(); ++i)
      if (auto st = value.element(**statuses, "statuses", i)) read_status(*st, out);
  return {};
}

// {"id": "wamid...", "status": "sent|delivered|read|failed", "timestamp": "1700000000",
//  "recipient_id": "...", "errors": [{"code", "title", "message", "error_data": {"details"}}]}.
// One that cannot be read is skipped: a receipt is worth no refusal and no kept delivery.
void read_status(const object_reader& st, parse_result& out) {
  auto id = st.id("id");
  auto status = st.string("status");
  if (!id || !*id || !status || !*status) return;
  const std::string& s = **status;
  if (s != "sent" && s != "delivered" && s != "read" && s != "failed") return;
  delivery_status d{std::move(**id), s, std::nullopt, {}, std::nullopt};
  if (auto at = st.epoch("timestamp", epoch_unit::seconds); at && *at) d.at = **at;
  if (s == "failed")
    if (auto errors = st.array("errors");
        errors && *errors && !(*errors)->empty() && (**errors)[0].is_object()) {
      const auto& e = (**errors)[0].get_object();
      const auto* code = e.if_contains("code");
      const auto* title = e.if_contains("title");
      const auto* data = e.if_contains("error_data");
      const auto* details =
          data && data->is_object() ? data->get_object().if_contains("details") : nullptr;
      d.reason = fmt::format(
          "(#{}) {}{}", code && code->is_int64() ? code->as_int64() : 0,
          title && title->is_string() ? std::string_view(title->get_string()) : std::string_view(),
          details && details->is_string()
              ? fmt::format(": {}", std::string_view(details->get_string()))
              : std::string());
    }
  out.statuses.push_back(std::move(d));
}

class whatsapp_adapter final : public meta::webhook_adapter {
 public:
  using webhook_adapter::webhook_adapter;

 private:
  error read_entry(const object_reader& entry, parse_result& out) const override {
    SB_TRY(changes, entry.array("changes"));
    if (*changes == nullptr) return {};
    for_each_event(out, entry, **changes, "changes",
                   [&](const object_reader& change) { return read_change(change, out); });
    return {};
  }

  static error read_change(const object_reader& change, parse_result& out) {
    SB_TRY(field, change.string("field"));
    SB_TRY(value, change.object("value"));
    const bool messages = *field == "messages";
    const bool echoes = *field == "smb_message_echoes";
    if (*value == nullptr || !(messages || echoes)) {
      ++out.ignored;  // template status, quality and account updates, ...
      return {};
    }
    return read_value(change.child(**value, "value"), echoes, out);
  }
};

}  // namespace

result<std::unique_ptr<adapter>> make_whatsapp_adapter(const channel_config& cfg) {
  SB_TRY(settings, meta::read_settings(cfg, "whatsapp_business_account"));
  return std::unique_ptr<adapter>(std::make_unique<whatsapp_adapter>(std::move(*settings)));
}

}  // namespace sb
