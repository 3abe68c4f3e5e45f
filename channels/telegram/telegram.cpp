// `telegram`: one Update per request. The request pipeline, in order, and why:
//   1. X-Telegram-Bot-Api-Secret-Token equal to a configured secret, compared in constant time
//      (as digests, so not even the secret's length shows in the timing): 401. Telegram signs
//      nothing; this token, sent only over TLS, is all that authenticates the request;
//   2. Content-Type: application/json (a charset parameter, if any, must be utf-8): 415;
//   3. JSON parse with a depth bound and UTF-8 validation: 400;
//   4. update_id (400 without it), then the update's kind: message / edited_message are mapped,
//      every other kind is ignored (200). A message that cannot be read (a field of the wrong
//      type) is kept as unreadable (channels/unreadable.hpp) and answered 202: Telegram sends
//      nothing after an update it could not deliver, so a refusal would stop the whole bot.
// update_id is the provider id: Telegram redelivers an update with the same id until it gets a
// 2xx, so a redelivery is a duplicate.
#include "channels/telegram/telegram.hpp"

#include "channels/common/errors.hpp"
#include "channels/common/json_fields.hpp"
#include "channels/common/text.hpp"
#include "channels/content.hpp"
#include "channels/crypto.hpp"
#include "channels/json_body.hpp"
#include "channels/unreadable.hpp"
#include "core/ascii.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

constexpr std::string_view token_header = "X-Telegram-Bot-Api-Secret-Token";
// Telegram allows 1..256 characters; fewer than 16 random ones are guessable.
constexpr std::size_t min_secret_chars = 16;
constexpr std::size_t max_secret_chars = 256;
// Unix seconds up to 9999-12-31: anything beyond is not a date, and * 1000 must not overflow.
constexpr std::int64_t max_unix_seconds = 253'402'300'799;
// Keys the secret digests; any fixed value will do, it only equalizes the compared lengths.
constexpr std::string_view digest_key = "switchboard telegram secret token";

// ---- config -------------------------------------------------------------------------------

bool secret_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The digests of the configured secret tokens, after checking each is one Telegram accepts.
result<std::vector<std::string>> secret_digests(const std::vector<std::string>& configured) {
  if (configured.empty())
    return malformed(
        "a telegram channel needs a secret: the secret_token given to setWebhook (secret or "
        "secret_file)");
  std::vector<std::string> digests;
  for (std::size_t i = 0; i < configured.size(); ++i) {
    // Never echo the secret: this text ends up in logs.
    const std::string which = configured.size() == 1
                                  ? "secret"
                                  : fmt::format("secret {} of {}", i + 1, configured.size());
    const std::string_view token = ascii_trim(configured[i]);
    if (token.size() < min_secret_chars || token.size() > max_secret_chars)
      return malformed(fmt::format(
          "{} must be {} to {} characters long (it has {}); generate one with openssl rand -hex "
          "32",
          which, min_secret_chars, max_secret_chars, token.size()));
    if (!std::all_of(token.begin(), token.end(), secret_token_char))
      return malformed(which + " may only contain A-Z, a-z, 0-9, _ and - (Telegram's rule)");
    digests.push_back(hmac_sha256(digest_key, token));
  }
  return digests;
}

// ---- transport checks ---------------------------------------------------------------------

// ---- field readers: each names the field it refuses (by its full path) -------------------

using json_fields::field;
using json_fields::optional_string;  // an absent, null or empty string is nullopt

std::string path_of(std::string_view parent, std::string_view key) {
  return std::string(parent) + "." + std::string(key);
}

result<const json::object*> optional_object(const json::object& obj, std::string_view key,
                                            std::string_view path) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return static_cast<const json::object*>(nullptr);
  if (const json::object* o = v->if_object()) return o;
  return malformed(fmt::format("field {} must be an object", path));
}

// Telegram's integers (ids up to 52 bits, negative chat ids, sizes, dates).
result<std::optional<std::int64_t>> optional_int(const json::object& obj, std::string_view key,
                                                 std::string_view path) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (const std::int64_t* n = v->if_int64()) return std::optional<std::int64_t>{*n};
  if (v->is_uint64()) return malformed(fmt::format("field {} is out of range", path));
  return malformed(fmt::format("field {} must be an integer", path));
}

result<std::int64_t> required_int(const json::object& obj, std::string_view key,
                                  std::string_view path) {
  SB_TRY(n, optional_int(obj, key, path));
  if (!*n) return malformed(fmt::format("field {} is required", path));
  return **n;
}

result<std::optional<millis>> optional_unix_time(const json::object& obj, std::string_view key,
                                                 std::string_view path) {
  SB_TRY(n, optional_int(obj, key, path));
  if (!*n) return std::optional<millis>{};
  if (**n < 0 || **n > max_unix_seconds)
    return malformed(fmt::format("field {} is out of range", path));
  return std::optional<millis>{**n * 1000};
}

// ---- files -----------------------------------------------------------------------------------

// A file is not downloadable without the bot token (getFile), so attachments carry no URL: they
// are fetched by file_id (channels/fetch.hpp, kind "telegram"), listed in extra.telegram.file_ids
// in the same order for the agent's tool.
struct file_ref {
  attachment meta;
  std::string file_id;
};

result<file_ref> read_file_object(const json::object& obj, std::string_view path,
                                  std::string_view default_name, std::string_view default_type) {
  file_ref out;
  SB_TRY(id, optional_string(obj, "file_id", path_of(path, "file_id")));
  if (!*id) return malformed(fmt::format("field {}.file_id is required", path));
  out.file_id = std::move(**id);
  out.meta.fetch_kind = "telegram";
  out.meta.fetch_ref = out.file_id;
  SB_TRY(name, optional_string(obj, "file_name", path_of(path, "file_name")));
  out.meta.name = *name ? std::move(**name) : std::string(default_name);
  SB_TRY(type, optional_string(obj, "mime_type", path_of(path, "mime_type")));
  out.meta.content_type = *type ? std::move(**type) : std::string(default_type);
  SB_TRY(size, optional_int(obj, "file_size", path_of(path, "file_size")));
  if (*size && **size < 0)
    return malformed(fmt::format("field {}.file_size must not be negative", path));
  out.meta.size = *size;
  return out;
}

// A photo comes as several sizes of one image: keep the largest.
result<std::optional<file_ref>> read_photo(const json::object& msg, std::string_view parent) {
  const json::value* v = field(msg, "photo");
  if (v == nullptr) return std::optional<file_ref>{};
  const json::array* sizes = v->if_array();
  if (sizes == nullptr) return malformed(fmt::format("field {}.photo must be an array", parent));
  std::optional<file_ref> best;
  std::int64_t best_area = -1;
  for (std::size_t i = 0; i < sizes->size(); ++i) {
    const std::string path = fmt::format("{}.photo[{}]", parent, i);
    const json::object* size = (*sizes)[i].if_object();
    if (size == nullptr) return malformed(fmt::format("field {} must be an object", path));
    SB_TRY(ref, read_file_object(*size, path, "photo", "image/jpeg"));
    SB_TRY(width, optional_int(*size, "width", path + ".width"));
    SB_TRY(height, optional_int(*size, "height", path + ".height"));
    // Telegram's sizes are at most a few thousand pixels a side; clamp so the product fits.
    const auto side = [](std::optional<std::int64_t> n) {
      return std::clamp<std::int64_t>(n.value_or(0), 0, 1'000'000);
    };
    const std::int64_t area = side(*width) * side(*height);
    if (area >= best_area) {  // ties: the later entry (Telegram lists sizes ascending)
      best_area = area;
      best = std::move(*ref);
    }
  }
  return best;
}

struct file_kind {
  std::string_view key;
  std::string_view default_name;
  std::string_view default_type;
};

// Message fields that carry one file. `animation` comes with a copy in `document` (Telegram
// keeps it for old clients), so it is read first and the copy skipped.
constexpr file_kind file_kinds[] = {
    {"animation", "animation.mp4", "video/mp4"},
    {"document", "document", ""},
    {"audio", "audio", "audio/mpeg"},
    {"video", "video.mp4", "video/mp4"},
    {"video_note", "video_note.mp4", "video/mp4"},
    {"voice", "voice.ogg", "audio/ogg"},
};

result<std::vector<file_ref>> read_files(const json::object& msg, std::string_view parent) {
  std::vector<file_ref> files;
  SB_TRY(photo, read_photo(msg, parent));
  if (*photo) files.push_back(std::move(**photo));

  bool animation = false;
  for (const file_kind& kind : file_kinds) {
    if (kind.key == "document" && animation) continue;
    const std::string path = path_of(parent, kind.key);
    SB_TRY(obj, optional_object(msg, kind.key, path));
    if (*obj == nullptr) continue;
    SB_TRY(ref, read_file_object(**obj, path, kind.default_name, kind.default_type));
    files.push_back(std::move(*ref));
    animation = animation || kind.key == "animation";
  }

  const std::string sticker_path = path_of(parent, "sticker");
  SB_TRY(sticker, optional_object(msg, "sticker", sticker_path));
  if (*sticker != nullptr) {
    const json::object& s = **sticker;
    const auto flag = [&s](std::string_view key) {
      const json::value* v = field(s, key);
      return v != nullptr && v->is_bool() && v->get_bool();
    };
    // Video stickers are WebM, animated ones Lottie (.tgs), the rest WebP images.
    std::string_view type = "image/webp";
    if (flag("is_video"))
      type = "video/webm";
    else if (flag("is_animated"))
      type = "application/x-tgsticker";
    SB_TRY(ref, read_file_object(s, sticker_path, "sticker", type));
    files.push_back(std::move(*ref));
  }
  return files;
}

// ---- shared places and contacts -----------------------------------------------------------

result<double> required_number(const json::object& obj, std::string_view key,
                               std::string_view path) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return malformed(fmt::format("field {} is required", path));
  if (!v->is_number()) return malformed(fmt::format("field {} must be a number", path));
  return v->to_number<double>();
}

// location: {"latitude","longitude","horizontal_accuracy","live_period",...}
result<place> read_location(const json::object& obj, std::string_view path) {
  SB_TRY(lat, required_number(obj, "latitude", path_of(path, "latitude")));
  SB_TRY(lon, required_number(obj, "longitude", path_of(path, "longitude")));
  if (!valid_coordinates(*lat, *lon))
    return malformed(fmt::format("field {} holds coordinates out of range", path));
  return place{*lat, *lon, {}, {}, {}};
}

// A venue (a named place, with its own location; Telegram also sends the location beside it),
// a location (a pin, or a live location whose moves arrive as edits), a contact card:
// kept as extra["location"] / extra["contacts"] and as text.
error read_shared(const json::object& message, std::string_view kind, inbound_message& msg) {
  const std::string venue_path = path_of(kind, "venue");
  SB_TRY(venue, optional_object(message, "venue", venue_path));
  const std::string location_path = path_of(kind, "location");
  SB_TRY(location, optional_object(message, "location", location_path));
  if (*venue != nullptr) {
    SB_TRY(where, optional_object(**venue, "location", path_of(venue_path, "location")));
    if (*where == nullptr)
      return malformed(fmt::format("field {}.location is required", venue_path));
    SB_TRY(p, read_location(**where, path_of(venue_path, "location")));
    SB_TRY(title, optional_string(**venue, "title", path_of(venue_path, "title")));
    SB_TRY(address, optional_string(**venue, "address", path_of(venue_path, "address")));
    p->name = title->value_or("");
    p->address = address->value_or("");
    add_place(msg, *p);
  } else if (*location != nullptr) {
    SB_TRY(p, read_location(**location, location_path));
    add_place(msg, *p);
    if (const json::value* live = field(**location, "live_period"); live && live->is_int64())
      msg.extra["live_location"] = true;
  }

  const std::string contact_path = path_of(kind, "contact");
  SB_TRY(contact, optional_object(message, "contact", contact_path));
  if (*contact != nullptr) {
    std::optional<std::string> phone, first, last;
    for (auto [key, out] : {std::pair{"phone_number", &phone}, std::pair{"first_name", &first},
                            std::pair{"last_name", &last}}) {
      SB_TRY(s, optional_string(**contact, key, path_of(contact_path, key)));
      *out = std::move(*s);
    }
    SB_TRY(user_id, optional_int(**contact, "user_id", path_of(contact_path, "user_id")));
    std::string name = first.value_or("");
    if (last) name += (name.empty() ? "" : " ") + *last;
    append_generated_line(msg, contact_text(name, phone.value_or("")));
    msg.extra["contacts"] = json::array{**contact};
  }
  return {};
}

// ---- the adapter -------------------------------------------------------------------------

using maybe_message = std::optional<inbound_message>;  // nullopt: nothing for an agent

class telegram_adapter final : public adapter {
 public:
  telegram_adapter(std::string channel, std::vector<std::string> digests, std::string bot)
      : channel_(std::move(channel)), digests_(std::move(digests)), bot_(std::move(bot)) {}

  // The secret token is the whole credential, and it is in the headers.
  error check_head(const request_view& head) const override {
    const auto token = head.header(token_header);
    if (!token || token->empty())
      return {errc::bad_signature, "missing header X-Telegram-Bot-Api-Secret-Token"};
    if (!token_matches(*token)) return {errc::bad_signature, "secret token does not match"};
    return {};
  }
  result<parse_result> receive(const request_view& req) const override {
    if (error e = check_head(req); e.code != errc::ok) return e;
    return parse_verified(req);
  }
  bool keeps_unreadable() const noexcept override { return true; }

  result<parse_result> parse_verified(const request_view& req) const override {
    if (error e = check_json_content_type(req.header("content-type")); e.code != errc::ok) return e;
    SB_TRY(body, parse_json_object(req.body));

    SB_TRY(update_id, required_int(*body, "update_id", "update_id"));
    if (*update_id < 0) return malformed("field update_id must not be negative");

    // Any kind but these (channel_post, callback_query, my_chat_member, ...) is not a customer
    // writing to the business.
    std::string_view kind;
    if (field(*body, "message") != nullptr)
      kind = "message";
    else if (field(*body, "edited_message") != nullptr)
      kind = "edited_message";
    parse_result out;
    if (kind.empty()) {
      out.ignored = 1;
      return out;
    }
    read_or_keep(out, std::string(kind), field(*body, kind), [&]() -> error {
      SB_TRY(msg, read_message(*body, kind, kind == "edited_message"));
      if (*msg) {
        (*msg)->provider_id = std::to_string(*update_id);
        out.messages.push_back(std::move(**msg));
      } else {
        out.ignored = 1;
      }
      return {};
    });
    return out;
  }

 private:
  bool token_matches(std::string_view token) const {
    const std::string offered = hmac_sha256(digest_key, token);
    bool match = false;
    for (const std::string& digest : digests_)
      if (!offered.empty() && constant_time_equal(offered, digest)) match = true;
    return match;
  }

  result<maybe_message> read_message(const json::object& update, std::string_view kind,
                                     bool edited) const;

  std::string channel_;
  std::vector<std::string> digests_;  // of the secret tokens; any may match (rotation)
  std::string bot_;                   // the bot's username without "@", or empty
};

result<maybe_message> telegram_adapter::read_message(const json::object& update,
                                                     std::string_view kind, bool edited) const {
  SB_TRY(m, optional_object(update, kind, kind));
  const json::object& message = **m;

  // A message without a sender (a channel's post) or sent on behalf of a chat (an anonymous
  // group admin, a channel post forwarded into its discussion group: `from` is then one of
  // Telegram's placeholder bots, the same for every such chat) has no customer to answer.
  SB_TRY(from_obj, optional_object(message, "from", path_of(kind, "from")));
  if (*from_obj == nullptr) return maybe_message{};
  SB_TRY(sender_chat, optional_object(message, "sender_chat", path_of(kind, "sender_chat")));
  if (*sender_chat != nullptr) return maybe_message{};
  const json::object& from = **from_obj;
  const std::string from_path = path_of(kind, "from");

  inbound_message msg;
  msg.recipient = bot_.empty() ? channel_ : bot_;

  SB_TRY(user_id, required_int(from, "id", path_of(from_path, "id")));
  msg.identities.push_back({"telegram", std::to_string(*user_id)});

  std::optional<std::string> first, last, username, language;
  for (auto [key, out] :
       {std::pair{"first_name", &first}, std::pair{"last_name", &last},
        std::pair{"username", &username}, std::pair{"language_code", &language}}) {
    SB_TRY(s, optional_string(from, key, path_of(from_path, key)));
    *out = std::move(*s);
  }
  if (first) msg.sender_name = *first;
  if (last) msg.sender_name += (msg.sender_name.empty() ? "" : " ") + *last;
  if (language) msg.language = language_code(*language);

  SB_TRY(chat, optional_object(message, "chat", path_of(kind, "chat")));
  if (*chat == nullptr) return malformed(fmt::format("field {}.chat is required", kind));
  const std::string chat_path = path_of(kind, "chat");
  SB_TRY(chat_id, required_int(**chat, "id", path_of(chat_path, "id")));
  SB_TRY(chat_type, optional_string(**chat, "type", path_of(chat_path, "type")));
  SB_TRY(chat_title, optional_string(**chat, "title", path_of(chat_path, "title")));
  // In a group every member reads the message, and the bot's answer.
  if (*chat_type == "group" || *chat_type == "supergroup") msg.visibility = "public";

  SB_TRY(message_id, optional_int(message, "message_id", path_of(kind, "message_id")));

  // An edit was sent when it was made, not when the original was.
  SB_TRY(date, optional_unix_time(message, "date", path_of(kind, "date")));
  SB_TRY(edit_date, optional_unix_time(message, "edit_date", path_of(kind, "edit_date")));
  msg.sent_at = edited && *edit_date ? *edit_date : *date;

  // The caption is the text of a message that carries a file.
  SB_TRY(text, optional_string(message, "text", path_of(kind, "text")));
  SB_TRY(caption, optional_string(message, "caption", path_of(kind, "caption")));
  if (*text)
    msg.text = std::move(**text);
  else if (*caption)
    msg.text = std::move(**caption);

  SB_TRY(files, read_files(message, kind));
  json::array file_ids;
  for (file_ref& f : *files) {
    file_ids.emplace_back(f.file_id);
    msg.attachments.push_back(std::move(f.meta));
  }
  // A live location's moves arrive as edits of its message, every few seconds for up to eight
  // hours: the location was stored when it was shared; its moves are not messages.
  if (edited && field(message, "location") != nullptr && field(message, "venue") == nullptr &&
      msg.text.empty())
    return maybe_message{};
  if (error e = read_shared(message, kind, msg); e.code != errc::ok) return e;
  // Polls, dice, games, service messages (members joining, pins): nothing to read.
  if (msg.text.empty() && msg.attachments.empty()) return maybe_message{};

  json::object telegram;
  telegram["chat_id"] = *chat_id;
  if (*chat_type) telegram["chat_type"] = **chat_type;
  if (*chat_title) telegram["chat_title"] = **chat_title;
  if (*message_id) telegram["message_id"] = **message_id;
  if (username) telegram["username"] = *username;
  if (!file_ids.empty()) telegram["file_ids"] = std::move(file_ids);
  msg.extra["telegram"] = std::move(telegram);
  if (edited) msg.extra["edited"] = true;
  // Forwarded from someone else (forward_origin; the legacy forward_* fields older servers and
  // clients still send): the words are not the sender's own.
  for (const std::string_view key :
       {std::string_view("forward_origin"), std::string_view("forward_from"),
        std::string_view("forward_from_chat"), std::string_view("forward_sender_name"),
        std::string_view("forward_date")})
    if (field(message, key) != nullptr) {
      msg.extra["forwarded"] = true;
      break;
    }
  return maybe_message{std::move(msg)};
}

}  // namespace

result<std::unique_ptr<adapter>> make_telegram_adapter(const channel_config& cfg) {
  SB_TRY(digests, secret_digests(cfg.secrets));
  std::string bot;
  if (const auto it = cfg.options.find("bot_username"); it != cfg.options.end()) {
    std::string_view name = ascii_trim(it->second);
    if (name.starts_with('@')) name.remove_prefix(1);
    bot = name;
  }
  return std::unique_ptr<adapter>(
      std::make_unique<telegram_adapter>(cfg.name, std::move(*digests), std::move(bot)));
}

}  // namespace sb
