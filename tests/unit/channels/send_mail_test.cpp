// Agents' replies as e-mail (channels/email/reply.hpp): the thread's headers, and the request
// each e-mail type builds (Mailgun, SendGrid, Postmark, SMTP), checked against the providers'
// documented formats, with their real answers read back.
#include "channels/email/email.hpp"
#include "channels/email/reply.hpp"
#include "channels/form.hpp"
#include "channels/mailgun/mailgun.hpp"
#include "channels/mime/mime.hpp"
#include "channels/postmark/postmark.hpp"
#include "channels/sendgrid/sendgrid.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <string>

namespace sb {
namespace {

namespace json = boost::json;

constexpr millis now = 1'796'000'000'000;  // 2026-11-30T00:53:20Z
constexpr std::string_view reply_id = "01a25072-b094-78e5-a546-ff2e70f03265";

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

const json::object reply =
    obj(R"({"text":"It ships today.\n.\nA line with a dot.","subject":"Re: Order 1042",)"
        R"("author":{"type":"agent","id":"a-7","name":"Ieva"},)"
        R"("attachments":[{"name":"r.pdf","url":"https://files.example/r.pdf"}]})");
const json::object answers =
    obj(R"({"from":{"type":"email","value":"ann@example.org"},"subject":"Order 1042",)"
        R"("email":{"message_id":"c-2@example.org","references":["c-1@example.org"]}})");

outgoing to(const json::object& a = answers) {
  return {reply_id, "01a25072-b08b-77b8-8a01-6ce34533e96f", "mail", reply, a, now};
}

channel_config mail(std::string type, std::map<std::string, std::string, std::less<>> o) {
  channel_config c;
  c.name = "mail";
  c.type = std::move(type);
  c.outbound = std::move(o);
  return c;
}

std::string header(const http_call& c, std::string_view name) {
  for (const auto& [k, v] : c.headers)
    if (k == name) return v;
  return "<absent>";
}

std::string field(const http_call& c, std::string_view name) {
  const auto f = parse_form(c.body);
  REQUIRE(f.has_value());
  const std::string* v = form_value(*f, name);
  return v ? *v : "<absent>";
}

}  // namespace

TEST_CASE("a reply as an e-mail: Re: subject, the thread's headers, a stable Message-ID") {
  const auto cfg = mail("mailgun", {{"from", "\"Acme Support\" <support@acme.example>"}});
  auto m = email::reply_mail_for(cfg, to());
  REQUIRE(m.has_value());
  CHECK(m->from.name == "Acme Support");
  CHECK(m->from.address == "support@acme.example");
  CHECK(m->to == "ann@example.org");
  CHECK(m->subject == "Re: Order 1042");
  CHECK(m->message_id == std::string(reply_id) + "@acme.example");
  CHECK(m->in_reply_to == "c-2@example.org");
  CHECK(m->references == std::vector<std::string>{"c-1@example.org", "c-2@example.org"});
  CHECK(email::references_header(*m) == "<c-1@example.org> <c-2@example.org>");
  CHECK(m->text == "It ships today.\n.\nA line with a dot.\nhttps://files.example/r.pdf");

  // Not an e-mail customer; outbound.from not one address.
  const auto chat = obj(R"({"from":{"type":"chat","value":"v-1"}})");
  CHECK(email::reply_mail_for(cfg, to(chat)).error().code == errc::undeliverable);
  CHECK(email::reply_mail_for(mail("mailgun", {{"from", "a@x.example, b@x.example"}}), to())
            .error()
            .code == errc::internal);
  CHECK(email::reply_mail_for(mail("mailgun", {{"from", "nobody"}}), to()).error().code ==
        errc::internal);
}

TEST_CASE("smtp: the mail GMime writes reads back as the same mail, and the relay's codes") {
  const auto cfg = mail("mime", {{"smtp_url", "smtp://127.0.0.1:2525"},
                                 {"from", "Acme Support <support@acme.example>"}});
  auto call = build_smtp_send(cfg, to());
  REQUIRE(call.has_value());
  CHECK(call->method == "SMTP");
  CHECK(call->url == "smtp://127.0.0.1:2525");
  CHECK(call->mail_from == "support@acme.example");
  CHECK(call->recipients == std::vector<std::string>{"ann@example.org"});
  CHECK_FALSE(call->require_tls);  // no credentials: STARTTLS when offered
  CHECK(call->message_id == std::string(reply_id) + "@acme.example");
  CHECK(call->body.find("\r\n") != std::string::npos);
  CHECK(call->body.find("\n") == call->body.find("\r\n") + 1);  // CRLF line ends
  auto parsed = email::parse_mime_message(call->body);
  REQUIRE(parsed.has_value());
  CHECK(parsed->subject == "Re: Order 1042");
  CHECK(parsed->message_id == call->message_id);
  CHECK(parsed->in_reply_to == "c-2@example.org");
  CHECK(parsed->references == std::vector<std::string>{"c-1@example.org", "c-2@example.org"});
  CHECK(parsed->to.front().address == "ann@example.org");
  CHECK(parsed->text.find("It ships today.") == 0);
  CHECK(parsed->sent_at == now);

  // Credentials go only over TLS, unless the relay is declared trusted.
  auto auth = mail("mime", {{"smtp_url", "smtp://relay.example"},
                            {"from", "support@acme.example"},
                            {"username", "sb"},
                            {"password", "pw"}});
  CHECK(build_smtp_send(auth, to())->require_tls);
  CHECK(build_smtp_send(auth, to())->username == "sb");
  auth.outbound->emplace("starttls", "optional");
  CHECK_FALSE(build_smtp_send(auth, to())->require_tls);

  CHECK(read_smtp_answer({250, {}, ""}).what == send_outcome::kind::sent);
  const auto refused = read_smtp_answer({550, {}, "Failed sending data to the peer"});
  CHECK(refused.what == send_outcome::kind::failed);
  CHECK(refused.reason == "SMTP 550: Failed sending data to the peer");
  CHECK(read_smtp_answer({451, {}, "Failed sending data to the peer"}).what ==
        send_outcome::kind::retry);
}

TEST_CASE("mailgun: the Messages API, form-encoded, with h: headers") {
  const auto cfg = mail("mailgun", {{"domain", "mg.acme.example"},
                                    {"token", "key-1"},
                                    {"from", "Acme Support <support@acme.example>"},
                                    {"api_base", "https://api.eu.mailgun.net"}});
  auto call = build_mailgun_send(cfg, to());
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.eu.mailgun.net/v3/mg.acme.example/messages");
  CHECK(call->username == "api");
  CHECK(call->password == "key-1");
  CHECK(header(*call, "Content-Type") == "application/x-www-form-urlencoded");
  CHECK(field(*call, "from") == "Acme Support <support@acme.example>");
  CHECK(field(*call, "to") == "ann@example.org");
  CHECK(field(*call, "subject") == "Re: Order 1042");
  CHECK(field(*call, "text").starts_with("It ships today."));
  CHECK(field(*call, "h:In-Reply-To") == "<c-2@example.org>");
  CHECK(field(*call, "h:References") == "<c-1@example.org> <c-2@example.org>");
  CHECK(field(*call, "h:Message-Id") == "<" + std::string(reply_id) + "@acme.example>");

  const auto ok = read_mailgun_answer(
      {200, {}, R"({"id":"<x-1@acme.example>","message":"Queued. Thank you."})"});
  CHECK(ok.what == send_outcome::kind::sent);
  CHECK(ok.provider_id == "x-1@acme.example");
  const auto bad = read_mailgun_answer({400, {}, R"({"message":"'from' parameter is missing"})"});
  CHECK(bad.what == send_outcome::kind::failed);
  CHECK(bad.reason == "'from' parameter is missing");
  CHECK(read_mailgun_answer({401, {}, "Forbidden"}).reason == "HTTP 401: Forbidden");
  CHECK(read_mailgun_answer({429, {}, R"({"message":"Too many requests"})"}).what ==
        send_outcome::kind::retry);
}

TEST_CASE("sendgrid: v3 mail/send, its id in X-Message-Id") {
  const auto cfg =
      mail("sendgrid", {{"token", "SG.k"}, {"from", "Acme Support <support@acme.example>"}});
  auto call = build_sendgrid_send(cfg, to());
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.sendgrid.com/v3/mail/send");
  CHECK(header(*call, "Authorization") == "Bearer SG.k");
  const auto body = obj(call->body);
  CHECK(body.at("personalizations") == json::parse(R"([{"to":[{"email":"ann@example.org"}]}])"));
  CHECK(body.at("from") ==
        json::parse(R"({"email":"support@acme.example","name":"Acme Support"})"));
  CHECK(body.at("subject") == "Re: Order 1042");
  CHECK(body.at("content").as_array()[0].at("type") == "text/plain");
  CHECK(body.at("headers") ==
        json::parse(R"({"In-Reply-To":"<c-2@example.org>",)"
                    R"("References":"<c-1@example.org> <c-2@example.org>"})"));

  http_response accepted{202, {}, ""};
  accepted.headers = {{"x-message-id", "W86EgYT6SQKk0lRflfLRsA"}};
  const auto ok = read_sendgrid_answer(accepted);
  CHECK(ok.what == send_outcome::kind::sent);
  CHECK(ok.provider_id == "W86EgYT6SQKk0lRflfLRsA");
  const auto bad =
      read_sendgrid_answer({400,
                            {},
                            R"({"errors":[{"message":"Does not contain a valid address.",)"
                            R"("field":"personalizations.0.to.0.email","help":null}]})"});
  CHECK(bad.what == send_outcome::kind::failed);
  CHECK(bad.reason == "personalizations.0.to.0.email: Does not contain a valid address.");
}

TEST_CASE("postmark: POST /email with the server token, ErrorCodes read") {
  const auto cfg = mail("postmark", {{"token", "pm-1"}, {"from", "support@acme.example"}});
  auto call = build_postmark_send(cfg, to());
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.postmarkapp.com/email");
  CHECK(header(*call, "X-Postmark-Server-Token") == "pm-1");
  CHECK(header(*call, "Accept") == "application/json");
  const auto body = obj(call->body);
  CHECK(body.at("From") == "support@acme.example");
  CHECK(body.at("To") == "ann@example.org");
  CHECK(body.at("Subject") == "Re: Order 1042");
  CHECK(body.at("MessageStream") == "outbound");
  CHECK(body.at("Headers") ==
        json::parse(R"([{"Name":"In-Reply-To","Value":"<c-2@example.org>"},)"
                    R"({"Name":"References","Value":"<c-1@example.org> <c-2@example.org>"}])"));

  const auto ok = read_postmark_answer(
      {200,
       {},
       R"({"To":"ann@example.org","SubmittedAt":"2026-11-30T00:53:21Z",)"
       R"("MessageID":"b7bc2f4a-e38e-4336-af7d-e6c392c2f817","ErrorCode":0,"Message":"OK"})"});
  CHECK(ok.what == send_outcome::kind::sent);
  CHECK(ok.provider_id == "b7bc2f4a-e38e-4336-af7d-e6c392c2f817");
  const auto inactive = read_postmark_answer(
      {422,
       {},
       R"({"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been )"
       R"(marked as inactive."})"});
  CHECK(inactive.what == send_outcome::kind::failed);
  CHECK(inactive.reason.starts_with("(406) You tried to send"));
  CHECK(read_postmark_answer({422, {}, R"({"ErrorCode":100,"Message":"Maintenance"})"}).what ==
        send_outcome::kind::retry);
}

}  // namespace sb
