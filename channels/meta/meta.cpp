#include "channels/meta/meta.hpp"

#include "channels/common/hmac_header.hpp"
#include "channels/crypto.hpp"
#include "channels/form.hpp"
#include "channels/json_body.hpp"

#include <boost/url/parse.hpp>

#include <fmt/core.h>

#include <utility>

namespace sb::meta {
namespace {

// X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>.
constexpr hmac_sha256_header hub_signature{signature_header, mac_encoding::hex};

// Meta app secrets are 32 hex characters; anything much shorter is a paste error or guessable.
constexpr std::size_t min_secret_bytes = 16;
// Meta's challenges are short numbers; echoing is bounded all the same.
constexpr std::size_t max_challenge_bytes = 1024;

http_answer refused_verification() { return {403, "text/plain", "verification failed\n"}; }

}  // namespace

result<settings> read_settings(const channel_config& cfg, std::string_view object) {
  settings s;
  s.channel = cfg.name;
  s.type = cfg.type;
  s.object = object;
  if (cfg.secrets.empty())
    return malformed(
        fmt::format("channel type {} needs the Meta app secret (secret or secret_file)", cfg.type));
  SB_TRY(secrets, hmac_secrets(cfg, min_secret_bytes,
                               "the Meta app secret is 32 characters, see the app dashboard "
                               "under App settings > Basic"));
  s.secrets = std::move(*secrets);
  const auto token = cfg.options.find("verify_token");
  if (token == cfg.options.end() || token->second.empty())
    return malformed(fmt::format(
        "channel type {} needs verify_token: the token you enter with the callback URL in the "
        "Meta app dashboard",
        cfg.type));
  s.verify_token = secret_set(std::span<const std::string>(&token->second, 1));
  return s;
}

result<http_answer> verify_handshake(const request_view& req, const secret_set& verify_token) {
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url) return malformed("the request target cannot be parsed");
  // A copy, not a view into the request: Boost.URL 1.81's parse_query reads its input up to
  // a NUL (query_ref is built from data() alone), past the end of the query.
  const std::string query_text(url->encoded_query());
  auto query = parse_form(query_text);
  if (!query) return malformed("the query string cannot be parsed");
  const std::string* mode = form_value(*query, "hub.mode");
  const std::string* token = form_value(*query, "hub.verify_token");
  // The token is the only proof the caller is Meta: settle it before looking at the rest.
  if (mode == nullptr || *mode != "subscribe" || token == nullptr || !verify_token.matches(*token))
    return refused_verification();
  const std::string* challenge = form_value(*query, "hub.challenge");
  if (challenge == nullptr || challenge->empty())
    return malformed("query parameter hub.challenge is required");
  if (challenge->size() > max_challenge_bytes)
    return malformed(
        fmt::format("query parameter hub.challenge must be at most {} bytes", max_challenge_bytes));
  return http_answer{200, "text/plain", *challenge};
}

error verify_signature(const request_view& req, std::span<const std::string> app_secrets) {
  return hub_signature.verify(req, app_secrets);
}

std::string sign(std::string_view app_secret, std::string_view body) {
  return hub_signature.sign(app_secret, body);
}

// ---- webhook_adapter ----------------------------------------------------------------------

result<http_answer> webhook_adapter::handshake(const request_view& req) const {
  return verify_handshake(req, settings_.verify_token);
}

error webhook_adapter::check_head(const request_view& head) const {
  auto mac = hub_signature.offered(head);
  return mac ? error{} : mac.error();
}

result<parse_result> webhook_adapter::receive(const request_view& req) const {
  if (error e = verify_signature(req, settings_.secrets); e.code != errc::ok) return e;
  return parse_verified(req);
}

result<parse_result> webhook_adapter::parse_verified(const request_view& req) const {
  if (error e = check_json_content_type(req.header("content-type")); e.code != errc::ok) return e;
  SB_TRY(body, parse_json_object(req.body));
  const object_reader top{*body, ""};

  SB_TRY(object, top.string("object"));
  if (!*object) return malformed("field object is required");
  if (**object != settings_.object)
    return malformed(fmt::format("field object is \"{}\"; channel type {} takes \"{}\"", **object,
                                 settings_.type, settings_.object));

  SB_TRY(entries, top.array("entry"));
  if (*entries == nullptr) return malformed("field entry is required");
  parse_result out;
  for_each_event(out, top, **entries, "entry",
                 [&](const object_reader& entry) { return read_entry(entry, out); });
  return out;
}

}  // namespace sb::meta
