// `instagram`: one entry per account in a batch; messaging[] as on Messenger, changes[] for
// comments and mentions. Other fields (story_insights, message_reactions, ...) are ignored.
#include "channels/instagram/instagram.hpp"

#include "channels/meta/messaging.hpp"
#include "channels/meta/meta.hpp"

#include <fmt/core.h>

#include <string>
#include <utility>

namespace sb {
namespace {

result<std::optional<meta::comment_author>> read_author(const object_reader& value) {
  SB_TRY(from, value.object("from"));
  if (*from == nullptr) return std::optional<meta::comment_author>{};
  const object_reader f = value.child(**from, "from");
  SB_TRY(id, f.required_id("id"));
  SB_TRY(username, f.string("username"));
  return std::optional<meta::comment_author>{
      meta::comment_author{std::move(*id), username->value_or("")}};
}

// value: {"id","text","from":{"id","username"},"media":{"id","media_product_type"},"parent_id"}.
error read_comment(const object_reader& value, const meta::messaging_scope& scope, bool live,
                   parse_result& out) {
  inbound_message msg;
  msg.visibility = "public";
  msg.recipient = std::string(scope.account_id);
  SB_TRY(id, value.required_id("id"));
  SB_TRY(text, value.string("text"));
  if (*text) msg.text = std::move(**text);
  SB_TRY(parent_id, value.id("parent_id"));
  SB_TRY(media, value.object("media"));
  std::optional<std::string> media_id;
  if (*media != nullptr) {
    SB_TRY(mid, value.child(**media, "media").id("id"));
    media_id = std::move(*mid);
  }
  SB_TRY(author, read_author(value));
  meta::attribute_comment(*author, scope, "comment:" + *id, msg);

  boost::json::object post;
  if (media_id) post["media_id"] = *media_id;
  post["comment_id"] = *id;
  msg.extra["post"] = std::move(post);
  if (*parent_id) msg.extra["reply_to"] = **parent_id;
  if (live) msg.extra["live"] = true;
  msg.provider_id = std::move(*id);
  out.messages.push_back(std::move(msg));
  return {};
}

// value: {"media_id","comment_id"}: the account was @mentioned in a comment or a caption on
// someone else's media. Meta sends only the ids (the text needs a Graph API call), so the
// message carries them for the agent; text and author are read when Meta includes them.
error read_mention(const object_reader& value, const meta::messaging_scope& scope,
                   parse_result& out) {
  inbound_message msg;
  msg.visibility = "public";
  msg.recipient = std::string(scope.account_id);
  SB_TRY(media_id, value.id("media_id"));
  SB_TRY(comment_id, value.id("comment_id"));
  if (!*media_id && !*comment_id)
    return malformed(fmt::format("field {} needs media_id or comment_id", value.path()));
  SB_TRY(text, value.string("text"));
  if (*text) msg.text = std::move(**text);
  SB_TRY(author, read_author(value));
  const std::string& key = *comment_id ? **comment_id : **media_id;
  meta::attribute_comment(*author, scope, "mention:" + key, msg);

  boost::json::object post;
  if (*media_id) post["media_id"] = **media_id;
  if (*comment_id) post["comment_id"] = **comment_id;
  msg.extra["post"] = std::move(post);
  msg.extra["mention"] = true;
  // The comment's own id when there is one: if the same comment also arrives on the comments
  // field, it is one message, not two.
  msg.provider_id = *comment_id ? std::move(**comment_id) : std::move(**media_id);
  out.messages.push_back(std::move(msg));
  return {};
}

class instagram_adapter final : public meta::webhook_adapter {
 public:
  using webhook_adapter::webhook_adapter;

 private:
  error read_entry(const object_reader& entry, parse_result& out) const override {
    SB_TRY(account_id, entry.required_id("id"));
    const meta::messaging_scope scope{"instagram", *account_id};
    if (error e = meta::read_messaging(entry, scope, out); e.code != errc::ok) return e;

    SB_TRY(changes, entry.array("changes"));
    if (*changes != nullptr)
      for_each_event(out, entry, **changes, "changes",
                     [&](const object_reader& change) { return read_change(change, scope, out); });
    // Instagram API with Instagram Login documents its comment notifications with the change's
    // "field" and "value" directly on the entry, without changes[].
    if (entry.get("field") != nullptr || entry.get("value") != nullptr)
      read_or_keep(out, entry.path(), nullptr, [&] { return read_change(entry, scope, out); });
    return {};
  }

  // {"field", "value"}: one change, inside changes[] or (Instagram Login) the entry itself.
  static error read_change(const object_reader& change, const meta::messaging_scope& scope,
                           parse_result& out) {
    SB_TRY(field, change.string("field"));
    SB_TRY(value, change.object("value"));
    if (*value == nullptr) {
      ++out.ignored;
      return {};
    }
    if (*field == "comments" || *field == "live_comments")
      return read_comment(change.child(**value, "value"), scope, *field == "live_comments", out);
    if (*field == "mentions") return read_mention(change.child(**value, "value"), scope, out);
    // The app dashboard's test of the messages field: one messaging event (real deliveries
    // come in entry.messaging[]).
    if (*field == "messages")
      return meta::read_messaging_event(change.child(**value, "value"), scope, out);
    ++out.ignored;  // story_insights and other fields the app may be subscribed to
    return {};
  }
};

}  // namespace

result<std::unique_ptr<adapter>> make_instagram_adapter(const channel_config& cfg) {
  SB_TRY(settings, meta::read_settings(cfg, "instagram"));
  return std::unique_ptr<adapter>(std::make_unique<instagram_adapter>(std::move(*settings)));
}

}  // namespace sb
