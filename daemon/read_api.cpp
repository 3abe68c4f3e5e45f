#include "daemon/read_api.hpp"

#include "channels/crypto.hpp"
#include "channels/normalize.hpp"
#include "core/log.hpp"
#include "store/reader.hpp"
#include "store/writer.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <vector>

namespace sb {
namespace {

http_reply json_text(std::string body) {
  http_reply r;
  r.body = std::move(body);
  return r;
}

// "Authorization: Bearer <token>" naming one of the configured tokens (constant-time).
bool authorized(const config& cfg, const request_view& req) {
  const auto h = req.header("Authorization");
  if (!h || h->size() < 7 || !boost::algorithm::iequals(h->substr(0, 7), "Bearer ")) return false;
  const std::string_view token = h->substr(7);
  bool ok = false;
  for (const auto& t : cfg.server.api_tokens) ok |= constant_time_equal(token, t);
  return ok && !token.empty();
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

}  // namespace

bool read_api::owns(std::string_view path) noexcept {
  return path == "/v1/customers" || path.starts_with("/v1/customers/") ||
         path.starts_with("/v1/conversations/");
}

void read_api::handle(const request_view& req, std::function<void(http_reply)> done) {
  const auto cfg = cfg_.get();
  if (cfg->server.api_tokens.empty())
    return done(error_reply(
        {errc::unauthorized, "the read API is closed: set server.api_tokens_file to open it"}));
  if (!authorized(*cfg, req)) return done(error_reply({errc::unauthorized}));

  auto u = boost::urls::parse_origin_form(req.target);
  if (!u) return done(error_reply({errc::malformed, "bad request target"}));
  std::vector<std::string> segs;
  for (auto s : u->segments()) segs.emplace_back(s);

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
  // /v1/customers/{id}
  if (segs.size() == 3 && segs[1] == "customers") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto body = reader_.customer(segs[2]);
    if (!body) return done(error_reply({errc::not_found, "no customer with that id"}));
    return done(json_text(std::move(*body)));
  }
  // /v1/conversations/{id}
  if (segs.size() == 3 && segs[1] == "conversations") {
    if (req.method != "GET") return done(not_allowed("GET"));
    auto body = reader_.conversation(segs[2]);
    if (!body) return done(error_reply({errc::not_found, "no conversation with that id"}));
    return done(json_text(std::move(*body)));
  }
  // /v1/conversations/{id}/close: a write, so it runs on the writer thread.
  if (segs.size() == 4 && segs[1] == "conversations" && segs[3] == "close") {
    if (req.method != "POST") return done(not_allowed("POST"));
    auto shared_done = std::make_shared<std::function<void(http_reply)>>(std::move(done));
    writer_.run(
        [id = segs[2], at = req.now, shared_done](sqlite_store& store) {
          auto r = store.close_conversation(id, at);
          if (!r) return (*shared_done)(error_reply(r.error()));
          log::info("api", "conversation {} {}", id, *r);
          (*shared_done)(json_text(boost::json::serialize(
              boost::json::object{{"id", id}, {"status", *r}})));
        },
        [shared_done] { (*shared_done)(error_reply({errc::unavailable, "shutting down"})); });
    return;
  }
  done(error_reply({errc::not_found}));
}

}  // namespace sb
