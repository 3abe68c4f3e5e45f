// `x`: the request pipeline, in order, and why each step sits where it does:
//   1. signature over the raw bytes before anything in the request is looked at: 401;
//   2. Content-Type application/json: 415;
//   3. JSON parse with a depth bound and UTF-8 validation: 400;
//   4. for_user_id (the subscribed account) is required: it decides every event's direction;
//   5. direct messages, then tweets; other events are counted as ignored, and an event that
//      cannot be read is kept as unreadable (channels/unreadable.hpp), never the batch refused.
// X writes tweet text (and, in the old DM API, DM text) with &, < and > escaped as HTML
// entities; agents and routes get the text as the customer typed it.
#include "channels/x/x.hpp"

#include "channels/common/hmac_header.hpp"
#include "channels/common/json_reader.hpp"
#include "channels/common/text.hpp"
#include "channels/crypto.hpp"
#include "channels/form.hpp"
#include "channels/json_body.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

namespace sb {
namespace {

namespace json = boost::json;

// X consumer secrets are 50 characters; anything much shorter is a paste error or guessable.
constexpr std::size_t min_secret_bytes = 16;
constexpr std::size_t max_crc_token_bytes = 1024;
// x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, raw body)>.
constexpr hmac_sha256_header x_webhooks_signature{x_signature_header, mac_encoding::base64};

// The CRC answer is an HMAC, under the key that also signs POST bodies, of whatever the caller
// puts in crc_token, and anyone may send a GET. Were any token accepted, a forger could ask for
// the signature of a JSON body of their choosing. Every body we accept is a JSON object and so
// contains "{"; a token never does, so no CRC answer is ever a valid body signature. X's tokens
// are short base64 or UUID text.
bool plausible_crc_token(std::string_view token) noexcept {
  if (token.empty() || token.size() > max_crc_token_bytes) return false;
  for (char c : token)
    if (c < 0x21 || c > 0x7e || c == '{') return false;
  return true;
}

// "&amp;" → "&", "&lt;" → "<", "&gt;" → ">": the only entities X writes into text. A text
// with other ampersands (a customer's literal "&quot;") keeps them.
std::string unescape_x(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const std::string_view rest = text.substr(i);
      if (rest.starts_with("&amp;")) {
        out += '&';
        i += 4;
        continue;
      }
      if (rest.starts_with("&lt;")) {
        out += '<';
        i += 3;
        continue;
      }
      if (rest.starts_with("&gt;")) {
        out += '>';
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// users: {"<id>": {"id","name","screen_name",...}}: names for the ids the events use.
struct user_names {
  std::string name;
  std::string screen_name;
};

// Names only help: an entry that cannot be read gives none.
user_names lookup_user(const json::object* users, std::string_view id) {
  if (users == nullptr) return user_names{};
  const json::value* v = users->if_contains(id);
  const json::object* obj = v != nullptr ? v->if_object() : nullptr;
  if (obj == nullptr) return user_names{};
  const object_reader u{*obj, fmt::format("users.{}", id)};
  user_names out;
  if (auto name = u.string("name"); name && *name) out.name = std::move(**name);
  if (auto screen = u.string("screen_name"); screen && *screen)
    out.screen_name = std::move(**screen);
  return out;
}

// media: {"media_url_https","type":"photo|video|animated_gif","video_info":{"variants":[
// {"bitrate","content_type","url"}]}}: a photo's URL, or a video's best MP4.
result<attachment> read_media(const object_reader& media) {
  attachment a;
  SB_TRY(type, media.string("type"));
  SB_TRY(url, media.string("media_url_https"));
  if (*url) a.url = std::move(**url);
  SB_TRY(info, media.object("video_info"));
  if (*info != nullptr) {
    const object_reader vi = media.child(**info, "video_info");
    SB_TRY(variants, vi.array("variants"));
    std::int64_t best = -1;
    for (std::size_t i = 0; *variants != nullptr && i < (*variants)->size(); ++i) {
      SB_TRY(v, vi.element(**variants, "variants", i));
      SB_TRY(ct, v->string("content_type"));
      SB_TRY(vurl, v->string("url"));
      const json::value* rate = v->get("bitrate");
      const std::int64_t bitrate = rate != nullptr && rate->is_int64() ? rate->as_int64() : 0;
      if (*ct == "video/mp4" && *vurl && bitrate > best) {
        best = bitrate;
        a.url = std::move(**vurl);
        a.content_type = "video/mp4";
      }
    }
  }
  a.name = file_name_from_url(a.url);
  if (a.name.empty()) a.name = type->value_or("media");
  if (a.content_type.empty()) a.content_type = content_type_from_url(a.url);
  return a;
}

void read_receipt(const json::object& ev, parse_result& out);

class x_adapter final : public adapter {
 public:
  explicit x_adapter(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {}

  bool has_handshake() const noexcept override { return true; }
  result<http_answer> handshake(const request_view& req) const override {
    auto url = boost::urls::parse_origin_form(req.target);
    if (!url) return malformed("the request target cannot be parsed");
    // A copy, not a view into the request: Boost.URL 1.81's parse_query reads its input up to
    // a NUL (query_ref is built from data() alone), past the end of the query.
    const std::string query_text(url->encoded_query());
    auto query = parse_form(query_text);
    if (!query) return malformed("the query string cannot be parsed");
    const std::string* token = form_value(*query, "crc_token");
    if (token == nullptr || token->empty())
      return malformed("query parameter crc_token is required");
    if (!plausible_crc_token(*token))
      return malformed(fmt::format(
          "query parameter crc_token must be 1..{} printable ASCII characters without \"{{\"",
          max_crc_token_bytes));
    // The first secret is the current one; X knows only one consumer secret at a time.
    json::object body{{"response_token", x_signature(secrets_.front(), *token)}};
    return http_answer{200, "application/json", json::serialize(body)};
  }

  error check_head(const request_view& head) const override {
    auto mac = x_webhooks_signature.offered(head);
    return mac ? error{} : mac.error();
  }
  result<parse_result> receive(const request_view& req) const override {
    if (error e = x_webhooks_signature.verify(req, secrets_); e.code != errc::ok) return e;
    return parse_verified(req);
  }
  bool keeps_unreadable() const noexcept override { return true; }

  result<parse_result> parse_verified(const request_view& req) const override {
    if (error e = check_json_content_type(req.header("content-type")); e.code != errc::ok) return e;
    SB_TRY(body, parse_json_object(req.body));
    const object_reader top{*body, ""};
    parse_result out;
    // for_user_id decides each message's direction. X's one event without it, a user_event
    // (an app's access revoked), carries no message.
    const bool messages =
        top.get("direct_message_events") != nullptr || top.get("tweet_create_events") != nullptr;
    if (messages || top.get("for_user_id") != nullptr) {
      SB_TRY(account, top.required_id("for_user_id"));
      // Names only: a users map that cannot be read costs the messages their names.
      auto users = top.object("users");
      const json::object* names = users ? *users : nullptr;
      if (error e = read_direct_messages(top, *account, names, out); e.code != errc::ok) return e;
      if (error e = read_tweets(top, *account, out); e.code != errc::ok) return e;
    }
    for (const auto& kv : *body) {
      const std::string_view key = kv.key();
      if (key == "direct_message_events" || key == "tweet_create_events") continue;
      if (key.ends_with("_events") || key == "user_event") {
        const json::array* list = kv.value().if_array();
        out.ignored += list != nullptr ? list->size() : 1;
        if (key == "direct_message_mark_read_events" && list != nullptr)
          for (const auto& ev : *list)
            if (const json::object* o = ev.if_object()) read_receipt(*o, out);
      }
    }
    return out;
  }

 private:
  error read_direct_messages(const object_reader& top, const std::string& account,
                             const json::object* users, parse_result& out) const;
  error read_direct_message(const object_reader& ev, const std::string& account,
                            const json::object* users, parse_result& out) const;
  error read_tweets(const object_reader& top, const std::string& account, parse_result& out) const;
  error read_tweet(const object_reader& tw, const std::string& account, parse_result& out) const;

  std::vector<std::string> secrets_;  // consumer secrets; the first answers CRCs
};

// {"created_timestamp", "sender_id": the reader, "target": {"recipient_id"}, "last_read_event_id"}:
// the customer read our DMs up to that event. The event our reply became, and (a watermark at
// its time: X's ids are snowflakes, their first 41 bits the milliseconds since X's epoch) the
// ones before it. One that cannot be read is skipped: a receipt is worth no refusal.
void read_receipt(const json::object& ev, parse_result& out) {
  const auto text = [&](std::string_view key) {
    const auto* v = ev.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const std::string reader = text("sender_id");
  const std::string last = text("last_read_event_id");
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), id);
  if (reader.empty() || reader.size() > 32 || ec != std::errc() || end != last.data() + last.size())
    return;
  constexpr millis x_epoch = 1'288'834'974'657;  // 2010-11-04T01:42:54.657Z
  out.statuses.push_back({last, "read", std::nullopt, {}, std::nullopt});
  out.statuses.push_back(
      {{}, "read", static_cast<millis>(id >> 22) + x_epoch, {}, identity{"x", reader}});
}

// {"type":"message_create","id","created_timestamp":"<ms>","message_create":{"target":
// {"recipient_id"},"sender_id","message_data":{"text","attachment":{"type":"media","media":{..}},
// "quick_reply_response":{"type","metadata"}}}}
error x_adapter::read_direct_messages(const object_reader& top, const std::string& account,
                                      const json::object* users, parse_result& out) const {
  SB_TRY(events, top.array("direct_message_events"));
  if (*events == nullptr) return {};
  for_each_event(out, top, **events, "direct_message_events", [&](const object_reader& ev) {
    return read_direct_message(ev, account, users, out);
  });
  return {};
}

error x_adapter::read_direct_message(const object_reader& ev, const std::string& account,
                                     const json::object* users, parse_result& out) const {
  SB_TRY(type, ev.string("type"));
  if (*type != "message_create") {
    ++out.ignored;
    return {};
  }
  inbound_message msg;
  msg.recipient = account;
  SB_TRY(id, ev.required_id("id"));
  msg.provider_id = std::move(*id);
  SB_TRY(created, ev.epoch("created_timestamp", epoch_unit::milliseconds));
  msg.sent_at = *created;

  SB_TRY(mc_obj, ev.required_object("message_create"));
  const object_reader mc = ev.child(**mc_obj, "message_create");
  SB_TRY(sender, mc.required_id("sender_id"));
  SB_TRY(target, mc.required_object("target"));
  SB_TRY(recipient, mc.child(**target, "target").required_id("recipient_id"));

  const bool outbound = *sender == account;
  const std::string& customer = outbound ? *recipient : *sender;
  if (outbound) msg.direction = "outbound";
  msg.identities.push_back({"x", customer});
  const user_names names = lookup_user(users, customer);
  if (!outbound) msg.sender_name = names.name;
  if (!names.screen_name.empty()) msg.extra["screen_name"] = names.screen_name;

  SB_TRY(data_obj, mc.object("message_data"));
  if (*data_obj != nullptr) {
    const object_reader data = mc.child(**data_obj, "message_data");
    SB_TRY(text, data.string("text"));
    if (*text) msg.text = unescape_x(**text);
    SB_TRY(att, data.object("attachment"));
    if (*att != nullptr) {
      const object_reader a = data.child(**att, "attachment");
      SB_TRY(media, a.object("media"));
      if (*media != nullptr) {
        SB_TRY(m, read_media(a.child(**media, "media")));
        msg.attachments.push_back(std::move(*m));
      }
    }
    SB_TRY(quick, data.object("quick_reply_response"));
    if (*quick != nullptr) {
      SB_TRY(meta, data.child(**quick, "quick_reply_response").string("metadata"));
      if (*meta) msg.extra["quick_reply"] = **meta;
    }
  }
  out.messages.push_back(std::move(msg));
  return {};
}

// {"id_str","text","extended_tweet":{"full_text"},"user":{"id_str","name","screen_name"},
// "in_reply_to_status_id_str","in_reply_to_user_id_str","in_reply_to_screen_name",
// "entities":{"user_mentions":[{"id_str"}]},"extended_entities":{"media":[..]},"timestamp_ms"}
error x_adapter::read_tweets(const object_reader& top, const std::string& account,
                             parse_result& out) const {
  SB_TRY(events, top.array("tweet_create_events"));
  if (*events == nullptr) return {};
  for_each_event(out, top, **events, "tweet_create_events",
                 [&](const object_reader& tw) { return read_tweet(tw, account, out); });
  return {};
}

error x_adapter::read_tweet(const object_reader& tw, const std::string& account,
                            parse_result& out) const {
  // A retweet repeats someone's words; it is not written to the business.
  if (tw.get("retweeted_status") != nullptr) {
    ++out.ignored;
    return {};
  }
  SB_TRY(user_obj, tw.required_object("user"));
  const object_reader user = tw.child(**user_obj, "user");
  SB_TRY(author, user.required_id("id_str"));
  SB_TRY(reply_user, tw.id("in_reply_to_user_id_str"));

  // The account is @mentioned in the tweet's entities, or (a tweet over 140 characters) only in
  // extended_tweet's; or the tweet quotes one of the account's own.
  bool mentions_account = false;
  const auto mentions_in = [&](const object_reader& parent) -> error {
    SB_TRY(entities, parent.object("entities"));
    if (*entities == nullptr) return {};
    const object_reader ent = parent.child(**entities, "entities");
    SB_TRY(mentions, ent.array("user_mentions"));
    for (std::size_t j = 0; *mentions != nullptr && j < (*mentions)->size(); ++j) {
      SB_TRY(m, ent.element(**mentions, "user_mentions", j));
      SB_TRY(id, m->id("id_str"));
      mentions_account |= *id == account;
    }
    return {};
  };
  if (error e = mentions_in(tw); e.code != errc::ok) return e;
  SB_TRY(extended_obj, tw.object("extended_tweet"));
  if (*extended_obj != nullptr)
    if (error e = mentions_in(tw.child(**extended_obj, "extended_tweet")); e.code != errc::ok)
      return e;
  bool quotes_account = false;
  SB_TRY(quoted, tw.object("quoted_status"));
  if (*quoted != nullptr) {
    const object_reader q = tw.child(**quoted, "quoted_status");
    if (auto quser = q.object("user"); quser && *quser != nullptr)
      if (auto qid = q.child(**quser, "user").id("id_str"); qid && *qid == account)
        quotes_account = true;
  }

  inbound_message msg;
  msg.visibility = "public";
  msg.recipient = account;
  if (*author == account) {
    // The account's own tweet: a public answer to a customer when it replies to one.
    if (!*reply_user || **reply_user == account) {
      ++out.ignored;
      return {};
    }
    msg.direction = "outbound";
    msg.identities.push_back({"x", **reply_user});
    SB_TRY(screen, tw.string("in_reply_to_screen_name"));
    if (*screen) msg.extra["screen_name"] = **screen;
  } else if (mentions_account || quotes_account || *reply_user == account) {
    msg.identities.push_back({"x", *author});
    SB_TRY(name, user.string("name"));
    msg.sender_name = name->value_or("");
    SB_TRY(screen, user.string("screen_name"));
    if (*screen) msg.extra["screen_name"] = **screen;
  } else {
    ++out.ignored;  // a tweet that does not name the account
    return {};
  }

  SB_TRY(id, tw.id("id_str"));
  if (!*id) {
    SB_TRY(numeric, tw.required_id("id"));
    *id = std::move(*numeric);
  }
  msg.provider_id = **id;
  msg.extra["post"] = json::object{{"tweet_id", **id}};
  SB_TRY(reply_status, tw.id("in_reply_to_status_id_str"));
  if (*reply_status) msg.extra["reply_to"] = **reply_status;
  SB_TRY(sent, tw.epoch("timestamp_ms", epoch_unit::milliseconds));
  msg.sent_at = *sent;

  // Tweets over 140 characters carry their whole text in extended_tweet.
  const object_reader* source = &tw;
  std::optional<object_reader> extended;
  SB_TRY(ext, tw.object("extended_tweet"));
  if (*ext != nullptr) {
    extended.emplace(tw.child(**ext, "extended_tweet"));
    source = &*extended;
  }
  for (const std::string_view key : {std::string_view("full_text"), std::string_view("text")}) {
    SB_TRY(text, source->string(key));
    if (*text) {
      msg.text = unescape_x(**text);
      break;
    }
  }
  if (msg.text.empty() && source != &tw) {
    SB_TRY(text, tw.string("text"));
    msg.text = unescape_x(text->value_or(""));
  }
  SB_TRY(media_parent, source->object("extended_entities"));
  if (*media_parent != nullptr) {
    const object_reader ee = source->child(**media_parent, "extended_entities");
    SB_TRY(media, ee.array("media"));
    if (*media != nullptr && (*media)->size() > max_attachments)
      return malformed(
          fmt::format("field {} has more than {} entries", ee.path_of("media"), max_attachments));
    for (std::size_t j = 0; *media != nullptr && j < (*media)->size(); ++j) {
      SB_TRY(m, ee.element(**media, "media", j));
      SB_TRY(a, read_media(*m));
      msg.attachments.push_back(std::move(*a));
    }
  }
  out.messages.push_back(std::move(msg));
  return {};
}

}  // namespace

std::string x_signature(std::string_view consumer_secret, std::string_view data) {
  return x_webhooks_signature.sign(consumer_secret, data);
}

result<std::unique_ptr<adapter>> make_x_adapter(const channel_config& cfg) {
  if (cfg.secrets.empty())
    return malformed("an x channel needs the app's consumer secret (secret or secret_file)");
  SB_TRY(secrets, hmac_secrets(cfg, min_secret_bytes,
                               "the X consumer secret (API key secret) is 50 characters"));
  return std::unique_ptr<adapter>(std::make_unique<x_adapter>(std::move(*secrets)));
}

}  // namespace sb
