// Fetching customers' files (channels/fetch.hpp): the requests each kind builds, checked against
// the provider's documented API, the lookups' real answers read into the file's request, and
// what gives up for good (undeliverable) or passes (unavailable).
#include "channels/fetch.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <map>
#include <string>
#include <utility>

namespace sb {
namespace {

using outbound_map = std::map<std::string, std::string, std::less<>>;

channel_config channel(std::string type, std::optional<outbound_map> outbound) {
  channel_config c;
  c.name = "ch";
  c.type = std::move(type);
  c.outbound = std::move(outbound);
  return c;
}

std::string header(const http_call& c, std::string_view name) {
  for (const auto& [k, v] : c.headers)
    if (k == name) return v;
  return "<absent>";
}

// The error of a step that must fail.
error failure(const result<fetch_step>& step) {
  REQUIRE_FALSE(step.has_value());
  return step.error();
}

const channel_config whatsapp = channel("whatsapp", outbound_map{{"token", "EAAG"}});
const channel_config telegram = channel("telegram", outbound_map{{"token", "123:ABC"}});
const channel_config twilio =
    channel("twilio", outbound_map{{"account_sid", "AC0123"}, {"token", "tw-1"}});

// The error of the file's request made from the lookup's answer (the kind is the channel's type).
error lookup_error(const channel_config& cfg, unsigned status, std::string body) {
  return failure(next_fetch_step(cfg, cfg.type, {status, {}, std::move(body)}));
}

// Meta's answer to GET /{media-id}.
const std::string media_answer =
    R"({"messaging_product":"whatsapp",)"
    R"("url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1208364939724125&ext=1795341600&hash=ATuX",)"
    R"("mime_type":"image/jpeg",)"
    R"("sha256":"A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90",)"
    R"("file_size":84122,"id":"1208364939724125"})";

}  // namespace

TEST_CASE("whatsapp: the media id looked up with the outbound token") {
  auto step = first_fetch_step(whatsapp, "whatsapp", "1208364939724125");
  REQUIRE(step.has_value());
  CHECK(step->call.method == "GET");
  CHECK(step->call.url == "https://graph.facebook.com/v21.0/1208364939724125");
  CHECK(header(step->call, "Authorization") == "Bearer EAAG");
  CHECK(step->call.body.empty());
  CHECK_FALSE(step->is_file);
  CHECK_FALSE(step->follow_redirects);

  const auto local =
      channel("whatsapp", outbound_map{{"token", "t"}, {"api_base", "http://127.0.0.1:9/v1"}});
  CHECK(first_fetch_step(local, "whatsapp", "42")->call.url == "http://127.0.0.1:9/v1/42");
  // An id is one path segment, whatever it holds.
  CHECK(first_fetch_step(whatsapp, "whatsapp", "1/../me?x")->call.url ==
        "https://graph.facebook.com/v21.0/1%2F..%2Fme%3Fx");
}

TEST_CASE("whatsapp: the lookup's answer gives the file's URL, hash, size and type") {
  auto step = next_fetch_step(whatsapp, "whatsapp", {200, {}, media_answer});
  REQUIRE(step.has_value());
  CHECK(step->call.method == "GET");
  CHECK(step->call.url ==
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
        "?mid=1208364939724125&ext=1795341600&hash=ATuX");
  CHECK(header(step->call, "Authorization") == "Bearer EAAG");  // the download needs it too
  CHECK(step->is_file);
  CHECK_FALSE(step->follow_redirects);
  CHECK(step->sha256_hex == "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90");
  CHECK(step->size == 84122);
  CHECK(step->content_type == "image/jpeg");

  SUBCASE("file_size as a string, as Meta's reference shows it; a hash that is not hex") {
    auto s =
        next_fetch_step(whatsapp, "whatsapp",
                        {200,
                         {},
                         R"({"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/a",)"
                         R"("mime_type":"audio/ogg","sha256":"<HASH>","file_size":"303833",)"
                         R"("id":"2621233374848975"})"});
    REQUIRE(s.has_value());
    CHECK(s->size == 303833);
    CHECK(s->sha256_hex.empty());
  }
  SUBCASE("nothing known but the URL") {
    auto s = next_fetch_step(whatsapp, "whatsapp", {200, {}, R"({"url":"https://x.example/f"})"});
    REQUIRE(s.has_value());
    CHECK_FALSE(s->size.has_value());
    CHECK(s->sha256_hex.empty());
    CHECK(s->content_type.empty());
  }
}

TEST_CASE("whatsapp: lookup errors pass on Meta's transient codes and 5xx, else give up") {
  const auto fails = [](unsigned status, std::string body) {
    return lookup_error(whatsapp, status, std::move(body));
  };
  const error limited =
      fails(400, R"({"error":{"message":"(#4) Application request limit reached",)"
                 R"("type":"OAuthException","code":4,"fbtrace_id":"A1"}})");
  CHECK(limited.code == errc::unavailable);
  CHECK(limited.detail == "(#4) Application request limit reached");
  CHECK(fails(500, "oops").code == errc::unavailable);
  CHECK(fails(429, "").code == errc::unavailable);

  const error gone = fails(
      400,
      R"({"error":{"message":"Unsupported get request. Object with ID '1208364939724125' does not )"
      R"(exist, cannot be loaded due to missing permissions, or does not support this operation.",)"
      R"("type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"A2"}})");
  CHECK(gone.code == errc::undeliverable);
  CHECK(gone.detail.starts_with("(#100) Unsupported get request."));
  const error expired =
      fails(401, R"({"error":{"message":"Error validating access token: Session has )"
                 R"(expired","type":"OAuthException","code":190,"fbtrace_id":"A3"}})");
  CHECK(expired.code == errc::undeliverable);

  // A 2xx without a URL to download from.
  CHECK(fails(200, R"({"messaging_product":"whatsapp","id":"1"})").code == errc::undeliverable);
  CHECK(fails(200, R"({"url":"ftp://lookaside.fbsbx.com/a"})").code == errc::undeliverable);
  CHECK(fails(200, R"({"url":42})").code == errc::undeliverable);
  CHECK(fails(200, "not json").code == errc::undeliverable);
}

TEST_CASE("whatsapp: no outbound token, nothing to fetch with") {
  for (const auto& cfg : {channel("whatsapp", std::nullopt),
                          channel("whatsapp", outbound_map{{"api_base", "https://x.example"}})}) {
    const error first = failure(first_fetch_step(cfg, "whatsapp", "1208364939724125"));
    CHECK(first.code == errc::undeliverable);
    CHECK(first.detail == "the channel has no outbound token to fetch media with");
    CHECK(failure(next_fetch_step(cfg, "whatsapp", {200, {}, media_answer})).code ==
          errc::undeliverable);
  }
}

TEST_CASE("telegram: getFile with the bot token, then the file_path it answers") {
  auto step = first_fetch_step(telegram, "telegram", "AgACAgQAAxkBAAIEn2c1-large");
  REQUIRE(step.has_value());
  CHECK(step->call.method == "GET");
  CHECK(step->call.url ==
        "https://api.telegram.org/bot123:ABC/getFile?file_id=AgACAgQAAxkBAAIEn2c1-large");
  CHECK(step->call.headers.empty());
  CHECK_FALSE(step->is_file);
  CHECK(first_fetch_step(telegram, "telegram", "a b&c=d/e")->call.url ==
        "https://api.telegram.org/bot123:ABC/getFile?file_id=a%20b%26c%3Dd%2Fe");

  auto file = next_fetch_step(telegram, "telegram",
                              {200,
                               {},
                               R"({"ok":true,"result":{"file_id":"AgACAgQAAxkBAAIEn2c1-large",)"
                               R"("file_unique_id":"AQADw7sxG8Tt","file_size":84122,)"
                               R"("file_path":"photos/file_1.jpg"}})"});
  REQUIRE(file.has_value());
  CHECK(file->call.method == "GET");
  CHECK(file->call.url == "https://api.telegram.org/file/bot123:ABC/photos/file_1.jpg");
  CHECK(file->is_file);
  CHECK(file->size == 84122);
  CHECK(file->sha256_hex.empty());

  const auto local =
      channel("telegram", outbound_map{{"token", "t"}, {"api_base", "http://127.0.0.1:9"}});
  CHECK(first_fetch_step(local, "telegram", "f")->call.url ==
        "http://127.0.0.1:9/bott/getFile?file_id=f");
  CHECK(next_fetch_step(local, "telegram",
                        {200, {}, R"({"ok":true,"result":{"file_path":"documents/file_7.pdf"}})"})
            ->call.url == "http://127.0.0.1:9/file/bott/documents/file_7.pdf");
}

TEST_CASE("telegram: getFile's refusals give up, its limits and 5xx pass") {
  const auto fails = [](unsigned status, std::string body) {
    return lookup_error(telegram, status, std::move(body));
  };
  // Over 20 MB, a bot cannot download the file at all.
  const error big =
      fails(400, R"({"ok":false,"error_code":400,"description":"Bad Request: file is too big"})");
  CHECK(big.code == errc::undeliverable);
  CHECK(big.detail == "Bad Request: file is too big");
  CHECK(fails(400, R"({"ok":false,"error_code":400,"description":"Bad Request: wrong file_id or )"
                   R"(the file is temporarily unavailable"})")
            .code == errc::undeliverable);
  CHECK(fails(404, R"({"ok":false,"error_code":404,"description":"Not Found"})").code ==
        errc::undeliverable);
  CHECK(fails(401, R"({"ok":false,"error_code":401,"description":"Unauthorized"})").code ==
        errc::undeliverable);
  const error limited = fails(429, R"({"ok":false,"error_code":429,"description":"Too Many )"
                                   R"(Requests: retry after 5","parameters":{"retry_after":5}})");
  CHECK(limited.code == errc::unavailable);
  CHECK(limited.detail == "Too Many Requests: retry after 5");
  CHECK(fails(502, "<html>Bad Gateway</html>").code == errc::unavailable);
  // A 2xx that names no file.
  CHECK(fails(200, R"({"ok":true,"result":{"file_id":"f","file_unique_id":"u"}})").code ==
        errc::undeliverable);
  CHECK(fails(200, R"({"ok":true,"result":true})").code == errc::undeliverable);
  CHECK(fails(200, "").code == errc::undeliverable);
}

TEST_CASE("telegram: no outbound token, nothing to fetch with") {
  const auto cfg = channel("telegram", std::nullopt);
  const error e = failure(first_fetch_step(cfg, "telegram", "f"));
  CHECK(e.code == errc::undeliverable);
  CHECK(e.detail == "the channel has no outbound token to fetch media with");
  CHECK(failure(next_fetch_step(cfg, "telegram",
                                {200, {}, R"({"ok":true,"result":{"file_path":"a/b"}})"}))
            .code == errc::undeliverable);
}

TEST_CASE("twilio: the MediaUrl with the account's credentials, redirects followed") {
  const std::string media =
      "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages/"
      "MM1f2e3d4c5b6a79881706f5e4d3c2b1a0/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  auto step = first_fetch_step(twilio, "twilio", media);
  REQUIRE(step.has_value());
  CHECK(step->call.method == "GET");
  CHECK(step->call.url == media);
  CHECK(step->call.username == "AC0123");
  CHECK(step->call.password == "tw-1");
  CHECK(step->call.headers.empty());
  CHECK(step->is_file);
  CHECK(step->follow_redirects);  // to Twilio's storage, without the credentials
  // The credentials go to Twilio's API host only (api_base in tests), never elsewhere.
  const error elsewhere = failure(first_fetch_step(twilio, "twilio", "http://127.0.0.1:9/m"));
  CHECK(elsewhere.code == errc::undeliverable);
  CHECK(elsewhere.detail == "the media URL is not on Twilio's API host");
  CHECK(failure(first_fetch_step(twilio, "twilio", "https://api.twilio.com.evil.example/m")).code ==
        errc::undeliverable);
  auto local = channel("twilio", outbound_map{{"account_sid", "AC0123"},
                                              {"token", "tw-1"},
                                              {"api_base", "http://127.0.0.1:9"}});
  CHECK(first_fetch_step(local, "twilio", "http://127.0.0.1:9/m").has_value());

  for (const std::string_view bad :
       {"ftp://api.twilio.com/m", "file:///etc/passwd", "/2010-04-01/m", "https://", "not a url"}) {
    CAPTURE(bad);
    CHECK(failure(first_fetch_step(twilio, "twilio", bad)).code == errc::undeliverable);
  }
  const error no_sid = failure(
      first_fetch_step(channel("twilio", outbound_map{{"token", "tw-1"}}), "twilio", media));
  CHECK(no_sid.code == errc::undeliverable);
  CHECK(no_sid.detail == "the channel has no outbound account_sid to fetch media with");
  CHECK(failure(first_fetch_step(channel("twilio", std::nullopt), "twilio", media)).code ==
        errc::undeliverable);
  // One request: there is no lookup to answer.
  CHECK(failure(next_fetch_step(twilio, "twilio", {200, {}, ""})).code == errc::internal);
}

TEST_CASE("url: fetched as it is on any channel, http and https only") {
  const std::string cdn =
      "https://scontent.xx.fbcdn.net/v/t1.15752-9/"
      "461230987_1022934_n.jpg?_nc_cat=1&oh=00_A&oe=6A1B";
  for (const char* type : {"messenger", "instagram", "chat", "whatsapp", "telegram", "twilio"}) {
    CAPTURE(type);
    auto step = first_fetch_step(channel(type, std::nullopt), "url", cdn);
    REQUIRE(step.has_value());
    CHECK(step->call.method == "GET");
    CHECK(step->call.url == cdn);
    CHECK(step->call.headers.empty());
    CHECK(step->call.username.empty());
    CHECK(step->is_file);
    CHECK(step->follow_redirects);
  }
  const auto chat = channel("chat", std::nullopt);
  CHECK(first_fetch_step(chat, "url", "http://chat.example/f/1.png").has_value());
  for (const std::string_view bad :
       {"file:///etc/passwd", "ftp://chat.example/f", "gopher://x/", "javascript:alert(1)",
        "data:image/png;base64,AAAA", "//chat.example/f", "/f/1.png", "https:///f", "no url"}) {
    CAPTURE(bad);
    const error e = failure(first_fetch_step(chat, "url", bad));
    CHECK(e.code == errc::undeliverable);
    CHECK(e.detail == "only http and https URLs are fetched");
  }
  CHECK(failure(next_fetch_step(chat, "url", {200, {}, ""})).code == errc::internal);
}

TEST_CASE("a kind the channel's type does not fetch, an unknown kind, an empty reference") {
  const error other = failure(first_fetch_step(telegram, "whatsapp", "1208364939724125"));
  CHECK(other.code == errc::undeliverable);
  CHECK(other.detail == "a telegram channel does not fetch whatsapp media");
  CHECK(failure(first_fetch_step(whatsapp, "telegram", "f")).code == errc::undeliverable);
  CHECK(failure(first_fetch_step(channel("messenger", outbound_map{{"token", "EAAP"}}), "twilio",
                                 "https://api.twilio.com/m"))
            .code == errc::undeliverable);
  CHECK(failure(next_fetch_step(twilio, "whatsapp", {200, {}, media_answer})).code ==
        errc::undeliverable);

  const error unknown = failure(first_fetch_step(whatsapp, "dropbox", "x"));
  CHECK(unknown.code == errc::undeliverable);
  CHECK(unknown.detail == "no fetch kind is called \"dropbox\"");
  CHECK(failure(first_fetch_step(whatsapp, "", "x")).code == errc::undeliverable);
  CHECK(failure(next_fetch_step(whatsapp, "dropbox", {200, {}, ""})).code == errc::undeliverable);

  CHECK(failure(first_fetch_step(whatsapp, "whatsapp", "")).code == errc::undeliverable);
  CHECK(failure(first_fetch_step(whatsapp, "url", "")).code == errc::undeliverable);
}

TEST_CASE("fetchable_url and size_at") {
  CHECK(fetchable_url("https://x.example/a"));
  CHECK(fetchable_url("HTTP://x.example:8080/a?b#c"));
  CHECK_FALSE(fetchable_url(""));
  CHECK_FALSE(fetchable_url("https:x.example/a"));
  CHECK_FALSE(fetchable_url("wss://x.example/a"));

  const auto o = boost::json::parse(R"({"n":12,"s":"34","neg":-1,"sneg":"-1","x":"12a",)"
                                    R"("e":"","f":1.5,"b":true,"big":"99999999999999999999"})")
                     .as_object();
  CHECK(size_at(o, "n") == 12);
  CHECK(size_at(o, "s") == 34);
  for (const char* key : {"neg", "sneg", "x", "e", "f", "b", "big", "absent"}) {
    CAPTURE(key);
    CHECK_FALSE(size_at(o, key).has_value());
  }
}

}  // namespace sb
