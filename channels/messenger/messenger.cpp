// `messenger`: one entry per page in a batch; each entry carries Messenger events
// (messaging[], standby[]) and/or page changes (changes[]). Only comments among the changes are
// messages: a customer commenting on a post is writing to the business in public.
#include "channels/messenger/messenger.hpp"

#include "channels/common/text.hpp"
#include "channels/meta/messaging.hpp"
#include "channels/meta/meta.hpp"

#include <fmt/core.h>

#include <string>
#include <utility>

namespace sb {
namespace {

// A photo or video posted with a comment: a bare URL.
error comment_media(const object_reader& value, inbound_message& msg) {
  for (const std::string_view key : {std::string_view("photo"), std::string_view("video")}) {
    SB_TRY(url, value.string(key));
    if (!*url || (*url)->empty()) continue;
    attachment a;
    a.url = std::move(**url);
    a.name = file_name_from_url(a.url);
    if (a.name.empty()) a.name = key;
    a.content_type = content_type_from_url(a.url);
    msg.attachments.push_back(std::move(a));
  }
  return {};
}

// value: {"item":"comment","verb":"add|edited|remove|hide|unhide","comment_id","post_id",
// "parent_id","from":{"id","name"},"message","created_time":unix s,"photo"|"video":url}.
error read_feed(const object_reader& value, const meta::messaging_scope& scope, parse_result& out) {
  SB_TRY(item, value.string("item"));
  SB_TRY(verb, value.string("verb"));
  // Posts, reactions, likes and shares are not messages; removed or hidden comments leave
  // what was stored as it was.
  const bool edited = *verb == "edited";
  if (*item != "comment" || !(*verb == "add" || edited)) {
    ++out.ignored;
    return {};
  }

  inbound_message msg;
  msg.visibility = "public";
  msg.recipient = std::string(scope.account_id);
  SB_TRY(comment_id, value.required_id("comment_id"));
  SB_TRY(post_id, value.id("post_id"));
  SB_TRY(parent_id, value.id("parent_id"));
  SB_TRY(text, value.string("message"));
  if (*text) msg.text = std::move(**text);
  if (error e = comment_media(value, msg); e.code != errc::ok) return e;
  SB_TRY(created, value.epoch("created_time", epoch_unit::guess));
  msg.sent_at = *created;

  std::optional<meta::comment_author> author;
  SB_TRY(from, value.object("from"));
  if (*from != nullptr) {
    const object_reader f = value.child(**from, "from");
    SB_TRY(id, f.required_id("id"));
    SB_TRY(name, f.string("name"));
    author = meta::comment_author{std::move(*id), name->value_or("")};
  }
  meta::attribute_comment(author, scope, "comment:" + *comment_id, msg);

  boost::json::object post;
  if (*post_id) post["post_id"] = **post_id;
  post["comment_id"] = *comment_id;
  msg.extra["post"] = std::move(post);
  // A reply to another comment (a top-level comment's parent is the post itself).
  if (*parent_id && *parent_id != *post_id) msg.extra["reply_to"] = **parent_id;
  if (edited) {
    // Each edit is kept as a message of its own beside the original: the provider id differs
    // per version of the text and stays the same on Meta's retries of one edit.
    msg.provider_id =
        fmt::format("{}:edited:{}", *comment_id,
                    short_digest(fmt::format("{}\n{}", msg.sent_at.value_or(0), msg.text)));
    msg.extra["edited"] = true;
    msg.extra["original_id"] = *comment_id;
  } else {
    msg.provider_id = std::move(*comment_id);
  }
  out.messages.push_back(std::move(msg));
  return {};
}

class messenger_adapter final : public meta::webhook_adapter {
 public:
  using webhook_adapter::webhook_adapter;

 private:
  error read_entry(const object_reader& entry, parse_result& out) const override {
    SB_TRY(page_id, entry.required_id("id"));
    const meta::messaging_scope scope{"messenger", *page_id};
    if (error e = meta::read_messaging(entry, scope, out); e.code != errc::ok) return e;

    SB_TRY(changes, entry.array("changes"));
    if (*changes == nullptr) return {};
    for_each_event(out, entry, **changes, "changes", [&](const object_reader& change) {
      SB_TRY(field, change.string("field"));
      SB_TRY(value, change.object("value"));
      if (*field != "feed" || *value == nullptr) {
        ++out.ignored;  // other page fields the app may be subscribed to
        return error{};
      }
      return read_feed(change.child(**value, "value"), scope, out);
    });
    return {};
  }
};

}  // namespace

result<std::unique_ptr<adapter>> make_messenger_adapter(const channel_config& cfg) {
  SB_TRY(settings, meta::read_settings(cfg, "page"));
  return std::unique_ptr<adapter>(std::make_unique<messenger_adapter>(std::move(*settings)));
}

}  // namespace sb
