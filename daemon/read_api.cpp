#include "daemon/read_api.hpp"

#include "channels/common/content_type.hpp"
#include "channels/crypto.hpp"
#include "channels/normalize.hpp"
#include "core/ascii.hpp"
#include "core/log.hpp"
#include "daemon/reply_intake.hpp"
#include "store/blob_store.hpp"
#include "store/reader.hpp"
#include "store/writer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <memory>
#include <vector>

namespace sb {
namespace {

http_reply json_text(std::string body) {
  http_reply r;
  r.body = std::move(body);
  return r;
}

// "Authorization: Bearer <token>" naming one of the configured tokens, compared as digests:
// the time taken says nothing of the tokens, not even their lengths.
bool authorized(const config& cfg, const request_view& req) {
  const auto h = req.header("Authorization");
  if (!h || h->size() < 7 || !ascii_iequals(h->substr(0, 7), "Bearer ")) return false;
  const std::string_view token = h->substr(7);
  return !token.empty() && cfg.server.api_tokens.matches(token);
}

// "email:Ann@Example.com" → ("email", "ann@example.com"): the same normalization as ingress,
// so a tool can ask with the address or number as a person would write it.
std::optional<std::pair<std::string, std::string>> parse_identity(std::string_view q) {
  const auto colon = q.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == q.size()) return std::nullopt;
  std::string type(q.substr(0, colon));
  std::string value(q.substr(colon + 1));
  if (type == "email") {
    auto e = normalize_email(value);
    if (!e) return std::nullopt;
    value = std::move(*e);
  } else if (type == "phone") {
    auto p = normalize_phone(value);
    if (!p) return std::nullopt;
    value = std::move(*p);
  }
  return std::pair{std::move(type), std::move(value)};
}

// ?limit=N, 1 to 1000.
std::optional<std::size_t> parse_limit(std::string_view v) {
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 1000) return std::nullopt;
  return n;
}

// `done` shared by a writer-thread task and its refusal: exactly one of them calls it.
using shared_done = std::shared_ptr<std::function<void(http_reply)>>;
shared_done share(std::function<void(http_reply)> done) {
  return std::make_shared<std::function<void(http_reply)>>(std::move(done));
}
std::function<void()> refused_reply(const shared_done& done) {
  return [done] { (*done)(error_reply({errc::unavailable, "shutting down"})); };
}

// Runs a write on the writer thread and answers with its JSON or its error; 503 when the
// writer has stopped.
void answer_write(group_writer& writer, std::function<void(http_reply)> done,
                  std::function<result<boost::json::object>(store_backend&)> write) {
  auto reply = share(std::move(done));
  writer.run(
      [reply, write = std::move(write)](store_backend& store) {
        auto r = write(store);
        (*reply)(r ? json_text(boost::json::serialize(*r)) : error_reply(r.error()));
      },
      refused_reply(reply));
}

}  // namespace

error read_api::authorize(const request_view& req) const {
  const auto cfg = cfg_.get();
  if (cfg->server.api_tokens.empty())
    return {errc::unauthorized, "the read API is closed: set server.api_tokens_file to open it"};
  if (!authorized(*cfg, req)) return {errc::unauthorized};
  return {};
}

void read_api::handle(const request_view& req, std::function<void(http_reply)> done) {
  if (error e = authorize(req); e.code != errc::ok) return done(error_reply(e));
  const auto cfg = cfg_.get();

  auto u = boost::urls::parse_origin_form(req.target);
  if (!u) return done(error_reply({errc::malformed, "bad request target"}));
  std::vector<std::string> segs;
  for (auto s : u->segments()) segs.emplace_back(s);

  if (segs.size() >= 2 && segs[1] == "unreadable") return unreadable(req, segs, std::move(done));
  if (segs.size() >= 2 && segs[1] == "parked") return parked(req, segs, std::move(done));
  // /v1/customers?identity=type:value
  if (segs.size() == 2 && segs[1] == "customers") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto it = u->params().find("identity");
    if (it == u->params().end() || !(*it).has_value)
      return done(error_reply({errc::malformed, "give ?identity=type:value"}));
    auto id = parse_identity((*it).value);
    if (!id) return done(error_reply({errc::malformed, "identity must be type:value"}));
    auto customer_id = reader_.customer_id_by_identity(id->first, id->second);
    auto body = customer_id ? reader_.customer(*customer_id) : std::nullopt;
    if (!body) return done(error_reply({errc::not_found, "no customer with that identity"}));
    return done(json_text(std::move(*body)));
  }
  // /v1/customers/{id}; DELETE erases the customer (docs/operations.md, "Erasure"), a write on
  // the writer thread like any other.
  if (segs.size() == 3 && segs[1] == "customers") {
    if (req.method == "DELETE") return erase_customer(segs[2], req.now, std::move(done));
    if (req.method != "GET") return done(not_allowed("GET, DELETE"));
    auto body = reader_.customer(segs[2]);
    if (!body) return done(error_reply({errc::not_found, "no customer with that id"}));
    return done(json_text(std::move(*body)));
  }
  // /v1/customers/{id}/export: everything stored about the customer (docs/export.schema.json).
  if (segs.size() == 4 && segs[1] == "customers" && segs[3] == "export") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto body = reader_.customer_export(segs[2], req.now);
    if (!body) return done(error_reply(body.error()));
    log::info("api", "customer {} exported ({} bytes)", segs[2], body->size());
    http_reply r = json_text(std::move(*body));
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"customer-" + segs[2] + ".json\"");
    return done(std::move(r));
  }
  // /v1/attachments/{id}: a file a customer sent, as kept (docs/attachments.md).
  if (segs.size() == 3 && segs[1] == "attachments") {
    if (req.method != "GET") return done(not_allowed("GET"));
    return done(attachment(segs[2]));
  }
  // /v1/conversations/{id}
  if (segs.size() == 3 && segs[1] == "conversations") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto body = reader_.conversation(segs[2]);
    if (!body) return done(error_reply({errc::not_found, "no conversation with that id"}));
    return done(json_text(std::move(*body)));
  }
  // /v1/conversations/{id}/messages: an agent's reply, committed by the group writer.
  if (segs.size() == 4 && segs[1] == "conversations" && segs[3] == "messages") {
    if (req.method != "POST") return done(not_allowed("POST"));
    return post_reply(req, segs[2], std::move(done));
  }
  // /v1/conversations/{id}/close: a write, so it runs on the writer thread.
  if (segs.size() == 4 && segs[1] == "conversations" && segs[3] == "close") {
    if (req.method != "POST") return done(not_allowed("POST"));
    return answer_write(
        writer_, std::move(done),
        [id = segs[2], at = req.now](store_backend& store) -> result<boost::json::object> {
          SB_TRY(r, store.close_conversation(id, at));
          log::info("api", "conversation {} {}", id, *r);
          return boost::json::object{{"id", id}, {"status", *r}};
        });
  }
  done(error_reply({errc::not_found}));
}

// Erases a customer and everything stored of it (store_backend::erase_customer): 200 with what
// went, once it is committed and the WAL cleared of it.
void read_api::erase_customer(const std::string& id, millis now,
                              std::function<void(http_reply)> done) {
  const auto strings = [](const std::vector<std::string>& v) {
    boost::json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  answer_write(writer_, std::move(done),
               [id, now, strings](store_backend& store) -> result<boost::json::object> {
                 SB_TRY(r, store.erase_customer(id, now));
                 log::info("api",
                           "customer {} erased: {} merged customer(s), {} conversation(s), {} "
                           "message(s), {} unpublished, {} dedupe key(s) kept as hashes{}",
                           r->customer_id, r->merged_ids.size(), r->conversation_ids.size(),
                           r->messages, r->unpublished, r->keys_kept,
                           r->wal_cleared ? "" : "; the WAL could not be truncated yet");
                 return boost::json::object{{"id", r->customer_id},
                                            {"status", "erased"},
                                            {"merged_ids", strings(r->merged_ids)},
                                            {"conversation_ids", strings(r->conversation_ids)},
                                            {"messages", r->messages},
                                            {"identities", r->identities},
                                            {"unpublished", r->unpublished},
                                            {"deliveries", r->deliveries},
                                            {"keys_kept", r->keys_kept},
                                            {"wal_cleared", r->wal_cleared}};
               });
}

// An agent's reply (docs/replies.md): 202 {"message_id", "conversation_id", "channel",
// "status"} once committed; the same Idempotency-Key again answers the same, with
// Idempotent-Replayed: true, and commits nothing.
void read_api::post_reply(const request_view& req, const std::string& conversation_id,
                          std::function<void(http_reply)> done) {
  if (error e = check_media_type(req.header("Content-Type"), "application/json");
      e.code != errc::ok)
    return done(error_reply(e));
  const auto key = req.header("Idempotency-Key");
  if (!key)
    return done(error_reply({errc::malformed,
                             "send an Idempotency-Key header (a UUID, say) so that a retry "
                             "cannot send the reply twice"}));
  if (error e = check_idempotency_key(*key); e.code != errc::ok) return done(error_reply(e));
  auto parsed = parse_reply(req.body, reply_source::http, conversation_id);
  if (!parsed) return done(error_reply(parsed.error()));
  auto request = reply_request_for(*cfg_.get(), std::move(*parsed), std::string(*key), req.now);
  if (!request) return done(error_reply(request.error()));
  writer_.submit(std::move(*request), [done = std::move(done)](result<ingest_outcome> r) {
    if (!r) return done(error_reply(r.error()));
    const reply_receipt& receipt = *r->reply;
    http_reply answer = json_text(receipt_json(receipt));
    answer.status = 202;
    if (receipt.replayed)
      answer.headers.emplace_back("Idempotent-Replayed", "true");
    else
      log::info("api", "reply {} to conversation {} on channel {} queued", receipt.message_id,
                receipt.conversation_id, receipt.channel);
    done(std::move(answer));
  });
}

// Kept deliveries: what could not be read, for ops to see, replay and forget
// (docs/operations.md, "Unreadable events").
void read_api::unreadable(const request_view& req, const std::vector<std::string>& segs,
                          std::function<void(http_reply)> done) {
  auto u = boost::urls::parse_origin_form(req.target);
  if (segs.size() == 2) {
    if (req.method != "GET") return done(not_allowed("GET"));
    std::string status = "pending";
    std::string channel;
    std::size_t limit = 100;
    for (auto p : u->params()) {
      if (p.key == "status") {
        status = p.value;
        if (status != "pending" && status != "replayed" && status != "all")
          return done(error_reply({errc::malformed, "status must be pending, replayed or all"}));
      } else if (p.key == "channel") {
        channel = p.value;
      } else if (p.key == "limit") {
        const auto n = parse_limit(p.value);
        if (!n) return done(error_reply({errc::malformed, "limit must be 1 to 1000"}));
        limit = *n;
      } else {
        return done(error_reply(
            {errc::malformed, "unknown query parameter; use status, channel or limit"}));
      }
    }
    return done(json_text(reader_.kept_list(status, channel, limit)));
  }
  const std::string& id = segs[2];
  // GET /v1/unreadable/{id}, DELETE /v1/unreadable/{id}
  if (segs.size() == 3) {
    if (req.method == "DELETE") {
      return answer_write(writer_, std::move(done),
                          [id](store_backend& store) -> result<boost::json::object> {
                            SB_TRY(r, store.delete_unreadable(id));
                            log::info("api", "kept delivery {} deleted", id);
                            return boost::json::object{{"id", id}, {"status", "deleted"}};
                          });
    }
    if (req.method != "GET") return done(not_allowed("GET, DELETE"));
    auto row = reader_.kept(id);
    if (!row) return done(error_reply({errc::not_found, "no kept delivery with that id"}));
    boost::system::error_code ec;
    boost::json::value events = boost::json::parse(row->events_json, ec);
    if (ec) events = boost::json::array{};
    return done(json_text(boost::json::serialize(boost::json::object{
        {"id", row->id},
        {"channel", row->channel},
        {"channel_type", row->channel_type},
        {"received_at", format_time(row->received_at)},
        {"status", row->status},
        {"replayed_at", row->replayed_at ? boost::json::value(format_time(*row->replayed_at))
                                         : boost::json::value(nullptr)},
        {"event_count", row->event_count},
        {"content_type", row->content_type},
        {"body_bytes", row->body.size()},
        {"events", std::move(events)}})));
  }
  if (segs.size() == 4 && segs[3] == "body") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto row = reader_.kept(id);
    if (!row) return done(error_reply({errc::not_found, "no kept delivery with that id"}));
    http_reply r;
    r.content_type = row->content_type.empty() ? "application/octet-stream" : row->content_type;
    r.body = std::move(row->body);
    return done(std::move(r));
  }
  if (segs.size() == 4 && segs[3] == "replay") {
    if (req.method != "POST") return done(not_allowed("POST"));
    auto row = reader_.kept(id);
    if (!row) return done(error_reply({errc::not_found, "no kept delivery with that id"}));
    return pipe_.replay(*row, req.now, std::move(done));
  }
  done(error_reply({errc::not_found}));
}

// Outbox rows the broker refuses for good (docs/api.md, "Parked messages"):
//   GET /v1/parked[?limit=], DELETE /v1/parked/{seq}, POST /v1/parked/{seq}/republish.
void read_api::parked(const request_view& req, const std::vector<std::string>& segs,
                      std::function<void(http_reply)> done) {
  if (segs.size() == 2) {
    if (req.method != "GET") return done(not_allowed("GET"));
    std::size_t limit = 100;
    auto u = boost::urls::parse_origin_form(req.target);
    for (auto p : u->params()) {
      if (p.key != "limit")
        return done(error_reply({errc::malformed, "unknown query parameter; use limit"}));
      const auto n = parse_limit(p.value);
      if (!n) return done(error_reply({errc::malformed, "limit must be 1 to 1000"}));
      limit = *n;
    }
    return done(json_text(reader_.parked_list(limit)));
  }
  std::int64_t seq = 0;
  const std::string& v = segs[2];
  if (const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
      ec != std::errc() || end != v.data() + v.size() || seq < 1)
    return done(error_reply({errc::not_found, "no parked message with that seq"}));
  if (segs.size() == 3) {
    if (req.method != "DELETE") return done(not_allowed("DELETE"));
    return answer_write(writer_, std::move(done),
                        [seq](store_backend& store) -> result<boost::json::object> {
                          SB_TRY(r, store.delete_parked(seq));
                          log::info("api",
                                    "parked seq={} deleted; its message stays stored, "
                                    "unpublished",
                                    seq);
                          return boost::json::object{{"seq", seq}, {"status", "deleted"}};
                        });
  }
  if (segs.size() == 4 && segs[3] == "republish") {
    if (req.method != "POST") return done(not_allowed("POST"));
    auto reply = share(std::move(done));
    writer_.unpark(seq, [seq, reply](result<std::int64_t> r) {
      if (!r) return (*reply)(error_reply(r.error()));
      log::info("api", "parked seq={} back in the outbox as seq={}", seq, *r);
      (*reply)(json_text(boost::json::serialize(
          boost::json::object{{"seq", seq}, {"status", "republished"}, {"new_seq", *r}})));
    });
    return;
  }
  done(error_reply({errc::not_found}));
}

namespace {

// A content type as a header may carry it: type/subtype of token characters (parameters
// dropped); anything else is served as application/octet-stream.
std::string safe_content_type(std::string_view t) {
  t = t.substr(0, t.find(';'));
  const auto token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$&^_.+-").find(c) != std::string_view::npos;
  };
  const auto slash = t.find('/');
  const bool ok = slash != std::string_view::npos && slash > 0 && slash + 1 < t.size() &&
                  std::all_of(t.begin(), t.begin() + slash, token) &&
                  std::all_of(t.begin() + slash + 1, t.end(), token);
  return ok ? std::string(t) : "application/octet-stream";
}

// Content-Disposition (RFC 6266): an ASCII fallback name and the UTF-8 name percent-encoded.
std::string disposition(std::string_view name) {
  std::string ascii;
  std::string encoded;
  for (unsigned char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_';
    if ((c & 0xC0) != 0x80) ascii += plain || c == ' ' ? static_cast<char>(c) : '_';  // '_' a char
    if (plain)
      encoded += static_cast<char>(c);
    else
      encoded += fmt::format("%{:02X}", c);
  }
  if (ascii.empty()) ascii = "attachment";
  return fmt::format("attachment; filename=\"{}\"; filename*=UTF-8''{}", ascii, encoded);
}

}  // namespace

http_reply read_api::attachment(const std::string& id) {
  auto a = reader_.attachment(id);
  if (!a) return error_reply({errc::not_found, "no attachment with that id"});
  if (a->state == "pending") {
    http_reply r = error_reply(
        {errc::unavailable,
         fmt::format("the file is being fetched from the provider ({} attempt(s) so far{}{}); "
                     "retry later",
                     a->attempts, a->last_error.empty() ? "" : ", the last: ", a->last_error)});
    return r;
  }
  if (a->state != "stored")
    return error_reply(
        {errc::not_found, fmt::format("the file was not kept ({}{}{})", a->state,
                                      a->last_error.empty() ? "" : ": ", a->last_error)});
  auto bytes = blobs_.get(a->sha256);
  if (!bytes) {
    log::error("api", "attachment {}: {} in {}", id, bytes.error().detail, blobs_.describe());
    return error_reply(bytes.error());
  }
  http_reply r;
  r.content_type = safe_content_type(a->content_type);
  r.body = std::move(*bytes);
  r.headers.emplace_back("Content-Disposition", disposition(a->name));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy", "sandbox");
  r.headers.emplace_back("ETag", fmt::format("\"{}\"", a->sha256));
  r.headers.emplace_back("Cache-Control", "private, max-age=31536000, immutable");
  return r;
}

}  // namespace sb
