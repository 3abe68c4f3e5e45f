// The outbound half of the channel types (channels/send.hpp): the request each builds for an
// agent's reply, checked against the provider's documented format, and the provider's real
// answers read back (sent with its id, retry with its wait, failed with its reason).
#include "channels/send.hpp"
#include "channels/chat/chat.hpp"
#include "channels/form.hpp"
#include "channels/instagram/instagram.hpp"
#include "channels/messenger/messenger.hpp"
#include "channels/standard_webhooks.hpp"
#include "channels/telegram/telegram.hpp"
#include "channels/twilio/twilio.hpp"
#include "channels/whatsapp/whatsapp.hpp"
#include "channels/x/x.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <string>

namespace sb {
namespace {

namespace json = boost::json;

constexpr millis now = 1'796'000'000'000;  // 2026-11-30T00:53:20Z

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

channel_config with_outbound(std::string type, std::map<std::string, std::string, std::less<>> o,
                             std::vector<std::string> secrets = {}) {
  channel_config c;
  c.name = "ch";
  c.type = std::move(type);
  c.secrets = std::move(secrets);
  c.outbound = std::move(o);
  return c;
}

const json::object reply =
    obj(R"({"id":"01a25072-b094-78e5-a546-ff2e70f03265","text":"It ships today.",)"
        R"("author":{"type":"agent","id":"a-7","name":"Ieva"},)"
        R"("attachments":[{"name":"r.pdf","content_type":"application/pdf","size":null,)"
        R"("url":"https://files.example/r.pdf"}]})");

outgoing to(const json::object& answers, std::string_view channel = "ch") {
  return {"01a25072-b094-78e5-a546-ff2e70f03265",
          "01a25072-b08b-77b8-8a01-6ce34533e96f",
          channel,
          reply,
          answers,
          now};
}

std::string header(const http_call& c, std::string_view name) {
  for (const auto& [k, v] : c.headers)
    if (k == name) return v;
  return "<absent>";
}

}  // namespace

TEST_CASE("chat: a Standard-Webhooks-signed switchboard.chat-reply/v1 POST") {
  const std::string secret = "whsec_c2VjcmV0LWZvci1sb2NhbC10ZXN0aW5nLW9ubHk=";
  const auto answers = obj(R"({"id":"m-1","from":{"type":"chat","value":"web-chat:v-42"},)"
                           R"("provider_id":"p-1","session_id":"s-77"})");
  const auto cfg = with_outbound("chat", {{"url", "https://chat.example/sb"}}, {secret});
  auto call = build_chat_send(cfg, to(answers, "web-chat"));
  REQUIRE(call.has_value());
  CHECK(call->method == "POST");
  CHECK(call->url == "https://chat.example/sb");
  CHECK(header(*call, "Content-Type") == "application/json");
  CHECK(header(*call, "webhook-id") == "01a25072-b094-78e5-a546-ff2e70f03265");
  CHECK(header(*call, "webhook-timestamp") == std::to_string(now / 1000));
  const auto body = obj(call->body);
  CHECK(body.at("schema") == "switchboard.chat-reply/v1");
  CHECK(body.at("visitor_id") == "v-42");
  CHECK(body.at("session_id") == "s-77");
  CHECK(body.at("text") == "It ships today.");
  CHECK(body.at("agent") == json::parse(R"({"id":"a-7","name":"Ieva"})"));
  CHECK(body.at("in_reply_to") == "p-1");
  CHECK(body.at("attachments").as_array().size() == 1);
  // The chat backend checks it with any Standard Webhooks library: here, our own verifier.
  const std::string id = header(*call, "webhook-id");
  const std::string ts = header(*call, "webhook-timestamp");
  const std::string sig = header(*call, "webhook-signature");
  const header_field headers[] = {
      {"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}};
  request_view req;
  req.method = "POST";
  req.headers = headers;
  req.body = call->body;
  req.now = now;
  const std::vector<std::string> keys{*decode_standard_webhooks_secret(secret)};
  CHECK(verify_standard_webhook(req, keys, std::chrono::seconds(300)).code == errc::ok);
  // outbound.secret, when given, signs instead.
  const std::string other = "whsec_b3RoZXItc2VjcmV0LWZvci1yZXBsaWVz";
  const auto cfg2 = with_outbound("chat", {{"url", "https://x/"}, {"secret", other}}, {secret});
  auto signed2 = build_chat_send(cfg2, to(answers, "web-chat"));
  REQUIRE(signed2.has_value());
  CHECK(header(*signed2, "webhook-signature") !=
        sign_standard_webhook(keys[0], header(*signed2, "webhook-id"), now / 1000, signed2->body));
  CHECK(header(*signed2, "webhook-signature") ==
        sign_standard_webhook(*decode_standard_webhooks_secret(other),
                              header(*signed2, "webhook-id"), now / 1000, signed2->body));

  // The reply's own id is its provider id (the backend's status reports name it), whatever
  // the backend answers.
  CHECK(call->message_id == "01a25072-b094-78e5-a546-ff2e70f03265");
  CHECK(read_chat_answer({202, {}, R"({"id":"cb-9"})"}).provider_id.empty());
  CHECK(read_chat_answer({204, {}, ""}).what == send_outcome::kind::sent);
  CHECK(read_chat_answer({503, {}, "down"}).what == send_outcome::kind::retry);
  const auto gone = read_chat_answer({410, {}, R"({"error":"session closed"})"});
  CHECK(gone.what == send_outcome::kind::failed);
  CHECK(gone.reason == R"(HTTP 410: {"error":"session closed"})");
}

TEST_CASE("telegram: sendMessage to the chat of the message answered") {
  const auto answers = obj(R"({"id":"m-1","from":{"type":"telegram","value":"111"},)"
                           R"("telegram":{"chat_id":-1001234,"message_id":77}})");
  const auto cfg = with_outbound("telegram", {{"token", "123:ABC"}});
  auto call = build_telegram_send(cfg, to(answers));
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.telegram.org/bot123:ABC/sendMessage");
  CHECK(header(*call, "Content-Type") == "application/json");
  CHECK(obj(call->body) ==
        obj(R"({"chat_id":-1001234,"text":"It ships today.\nhttps://files.example/r.pdf"})"));
  const auto local =
      with_outbound("telegram", {{"token", "t"}, {"api_base", "http://127.0.0.1:9"}});
  CHECK(build_telegram_send(local, to(answers))->url == "http://127.0.0.1:9/bott/sendMessage");

  const auto none = build_telegram_send(cfg, to(obj(R"({"id":"m-1"})")));
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == errc::undeliverable);

  const auto sent = read_telegram_answer(
      {200, {}, R"({"ok":true,"result":{"message_id":4242,"chat":{"id":-1001234},"text":"x"}})"});
  CHECK(sent.what == send_outcome::kind::sent);
  CHECK(sent.provider_id == "-1001234:4242");
  const auto slow = read_telegram_answer(
      {429,
       {},
       R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7",)"
       R"("parameters":{"retry_after":7}})"});
  CHECK(slow.what == send_outcome::kind::retry);
  CHECK(slow.retry_after == std::chrono::seconds(7));
  const auto blocked = read_telegram_answer(
      {403,
       {},
       R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})"});
  CHECK(blocked.what == send_outcome::kind::failed);
  CHECK(blocked.reason == "Forbidden: bot was blocked by the user");
}

TEST_CASE("whatsapp: a text message from the number the customer wrote to") {
  const auto answers = obj(R"({"id":"m-1","from":{"type":"whatsapp","value":"15550102000"},)"
                           R"("whatsapp":{"type":"text","phone_number_id":"106540352242922"}})");
  const auto cfg = with_outbound("whatsapp", {{"token", "EAAG"}});
  auto call = build_whatsapp_send(cfg, to(answers));
  REQUIRE(call.has_value());
  CHECK(call->url == "https://graph.facebook.com/v21.0/106540352242922/messages");
  CHECK(header(*call, "Authorization") == "Bearer EAAG");
  CHECK(obj(call->body) == obj(R"({"messaging_product":"whatsapp","recipient_type":"individual",)"
                               R"("to":"15550102000","type":"text","text":{"preview_url":false,)"
                               R"("body":"It ships today.\nhttps://files.example/r.pdf"}})"));
  const auto bsuid_only = obj(R"({"id":"m-1","from":{"type":"whatsapp_bsuid","value":"US.1"},)"
                              R"("whatsapp":{"phone_number_id":"1"}})");
  CHECK(build_whatsapp_send(cfg, to(bsuid_only)).error().code == errc::undeliverable);

  const auto sent = read_whatsapp_answer(
      {200,
       {},
       R"({"messaging_product":"whatsapp","contacts":[{"input":"15550102000","wa_id":"15550102000"}],)"
       R"("messages":[{"id":"wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]})"});
  CHECK(sent.what == send_outcome::kind::sent);
  CHECK(sent.provider_id == "wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
  const auto window = read_whatsapp_answer(
      {400,
       {},
       R"({"error":{"message":"(#131047) Re-engagement message","type":"OAuthException",)"
       R"("code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed )"
       R"(to send because more than 24 hours have passed since the customer last replied to )"
       R"(this number."},"fbtrace_id":"AbCd"}})"});
  CHECK(window.what == send_outcome::kind::failed);
  CHECK(
      window.reason.starts_with("window_closed: (#131047) Re-engagement message: "
                                "Message failed to send"));
  const auto pair_limit = read_whatsapp_answer(
      {400,
       {},
       R"({"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",)"
       R"("type":"OAuthException","code":131056,"fbtrace_id":"x"}})"});
  CHECK(pair_limit.what == send_outcome::kind::retry);
  const auto bad = read_whatsapp_answer(
      {400,
       {},
       R"({"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,)"
       R"("fbtrace_id":"y"}})"});
  CHECK(bad.what == send_outcome::kind::failed);
  CHECK(bad.reason == "(#100) Invalid parameter");
  CHECK(read_whatsapp_answer({500, {}, "oops"}).what == send_outcome::kind::retry);
}

TEST_CASE("messenger and instagram: the Send API, with the HUMAN_AGENT tag after 24 hours") {
  const auto answered_at = [](millis at) {
    return obj(R"({"id":"m-1","from":{"type":"messenger","value":"1122:PSID-42"},"received_at":")" +
               format_time(at) + R"("})");
  };
  const auto cfg = with_outbound("messenger", {{"token", "EAAP"}});
  auto call = build_messenger_send(cfg, to(answered_at(now - 3'600'000)));
  REQUIRE(call.has_value());
  CHECK(call->url == "https://graph.facebook.com/v21.0/me/messages");
  CHECK(header(*call, "Authorization") == "Bearer EAAP");
  CHECK(obj(call->body) ==
        obj(R"({"recipient":{"id":"PSID-42"},"messaging_type":"RESPONSE",)"
            R"("message":{"text":"It ships today.\nhttps://files.example/r.pdf"}})"));
  // Two days after the customer's message: tagged only where human_agent is on.
  const auto late = answered_at(now - 2 * 86'400'000);
  CHECK(obj(build_messenger_send(cfg, to(late))->body).at("messaging_type") == "RESPONSE");
  const auto agent = with_outbound("messenger", {{"token", "EAAP"}, {"human_agent", "true"}});
  const auto tagged = obj(build_messenger_send(agent, to(late))->body);
  CHECK(tagged.at("messaging_type") == "MESSAGE_TAG");
  CHECK(tagged.at("tag") == "HUMAN_AGENT");
  CHECK_FALSE(obj(build_messenger_send(agent, to(answered_at(now - 1000)))->body).contains("tag"));

  const auto ig = obj(R"({"id":"m-2","from":{"type":"instagram","value":"1784:IGSID-7"}})");
  auto ig_call = build_instagram_send(with_outbound("instagram", {{"token", "IGT"}}), to(ig));
  REQUIRE(ig_call.has_value());
  CHECK(obj(ig_call->body).at("recipient") == json::parse(R"({"id":"IGSID-7"})"));
  CHECK(build_instagram_send(cfg, to(answered_at(now))).error().code == errc::undeliverable);

  const auto sent = read_meta_send_answer(
      {200, {}, R"({"recipient_id":"PSID-42","message_id":"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM"})"});
  CHECK(sent.what == send_outcome::kind::sent);
  CHECK(sent.provider_id == "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM");
  const auto window = read_meta_send_answer(
      {400,
       {},
       R"({"error":{"message":"(#10) This message is sent outside of allowed window.",)"
       R"("type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"A"}})"});
  CHECK(window.what == send_outcome::kind::failed);
  CHECK(window.reason == "window_closed: (#10) This message is sent outside of allowed window.");
  const auto limited = read_meta_send_answer(
      {400,
       {},
       R"({"error":{"message":"(#613) Calls to this api have exceeded the rate limit.",)"
       R"("type":"OAuthException","code":613,"fbtrace_id":"B"}})"});
  CHECK(limited.what == send_outcome::kind::retry);
  const auto away = read_meta_send_answer(
      {400,
       {},
       R"({"error":{"message":"(#551) This person isn't available right now.",)"
       R"("type":"OAuthException","code":551,"error_subcode":1545041,"fbtrace_id":"C"}})"});
  CHECK(away.what == send_outcome::kind::failed);
  CHECK(away.reason == "(#551) This person isn't available right now.");
}

TEST_CASE(
    "twilio: the Messages API, SMS or WhatsApp as the customer wrote, with a status callback") {
  auto cfg = with_outbound("twilio", {{"account_sid", "AC0123"}, {"token", "tw-1"}});
  cfg.options.emplace("public_url", "https://sb.example/v1/webhooks/sms");
  const auto sms = obj(R"({"from":{"type":"phone","value":"+37120000001"},)"
                       R"("recipient":"+37126000000"})");
  auto call = build_twilio_send(cfg, to(sms));
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json");
  CHECK(call->username == "AC0123");
  CHECK(call->password == "tw-1");
  CHECK(header(*call, "Content-Type") == "application/x-www-form-urlencoded");
  const auto f = parse_form(call->body);
  REQUIRE(f.has_value());
  CHECK(*form_value(*f, "To") == "+37120000001");
  CHECK(*form_value(*f, "From") == "+37126000000");
  CHECK(*form_value(*f, "Body") == "It ships today.\nhttps://files.example/r.pdf");
  CHECK(*form_value(*f, "StatusCallback") == "https://sb.example/v1/webhooks/sms");

  const auto wa = obj(R"({"from":{"type":"whatsapp","value":"37120000001"},)"
                      R"("recipient":"+14155238886"})");
  const auto g = parse_form(build_twilio_send(cfg, to(wa))->body);
  CHECK(*form_value(*g, "To") == "whatsapp:+37120000001");
  CHECK(*form_value(*g, "From") == "whatsapp:+14155238886");
  CHECK(build_twilio_send(cfg, to(obj(R"({"from":{"type":"phone","value":"+3712"}})")))
            .error()
            .code == errc::undeliverable);  // no number it was sent to

  const auto ok = read_twilio_answer(
      {201, {}, R"({"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"})"});
  CHECK(ok.what == send_outcome::kind::sent);
  CHECK(ok.provider_id == "SM0123456789abcdef0123456789abcdef");
  const auto bad = read_twilio_answer(
      {400,
       {},
       R"({"code":21211,"message":"The 'To' number +3712 is not a valid phone number.",)"
       R"("more_info":"https://www.twilio.com/docs/errors/21211","status":400})"});
  CHECK(bad.what == send_outcome::kind::failed);
  CHECK(bad.reason == "(21211) The 'To' number +3712 is not a valid phone number.");
  CHECK(read_twilio_answer({429, {}, R"({"code":20429,"message":"Too Many Requests"})"}).what ==
        send_outcome::kind::retry);
  CHECK(read_twilio_answer({400, {}, R"({"code":63016,"message":"outside the window"})"})
            .reason.starts_with("window_closed: (63016)"));
}

TEST_CASE("x: a direct message, or a public reply to a mention; the rate limit's reset read") {
  const auto cfg = with_outbound("x", {{"token", "x-user-token"}});
  const auto dm = obj(R"({"from":{"type":"x","value":"2244994945"},"visibility":"private",)"
                      R"("provider_id":"1582838223385476098"})");
  auto call = build_x_send(cfg, to(dm));
  REQUIRE(call.has_value());
  CHECK(call->url == "https://api.x.com/2/dm_conversations/with/2244994945/messages");
  CHECK(header(*call, "Authorization") == "Bearer x-user-token");
  CHECK(obj(call->body) ==
        json::parse(R"({"text":"It ships today.\nhttps://files.example/r.pdf"})"));
  const auto mention = obj(R"({"from":{"type":"x","value":"2244994945"},"visibility":"public",)"
                           R"("provider_id":"1445880548472328192"})");
  auto post = build_x_send(cfg, to(mention));
  REQUIRE(post.has_value());
  CHECK(post->url == "https://api.x.com/2/tweets");
  CHECK(obj(post->body).at("reply") ==
        json::parse(R"({"in_reply_to_tweet_id":"1445880548472328192"})"));

  const auto ok = read_x_answer(
      {201, {}, R"({"data":{"dm_conversation_id":"1-2","dm_event_id":"1582838223385476099"}})"});
  CHECK(ok.what == send_outcome::kind::sent);
  CHECK(ok.provider_id == "1582838223385476099");
  CHECK(
      read_x_answer({201, {}, R"({"data":{"id":"1445880548472328193","text":"x"}})"}).provider_id ==
      "1445880548472328193");
  http_response limited{429,
                        {},
                        R"({"title":"Too Many Requests","detail":"Too Many Requests",)"
                        R"("type":"about:blank","status":429})"};
  limited.received_at = now;
  limited.headers = {{"x-rate-limit-reset", std::to_string(now / 1000 + 90)}};
  const auto wait = read_x_answer(limited);
  CHECK(wait.what == send_outcome::kind::retry);
  CHECK(wait.retry_after == std::chrono::seconds(90));
  const auto refused =
      read_x_answer({403,
                     {},
                     R"({"detail":"You cannot send messages to this user.","type":"about:blank",)"
                     R"("title":"Forbidden","status":403})"});
  CHECK(refused.what == send_outcome::kind::failed);
  CHECK(refused.reason == "Forbidden: You cannot send messages to this user.");
}

TEST_CASE("the status decides when the provider's body does not; Retry-After in both forms") {
  CHECK(classify_status({200, {}, ""}).what == send_outcome::kind::sent);
  for (unsigned s : {0u, 408u, 429u, 500u, 502u, 503u, 504u})
    CHECK(classify_status({s, {}, ""}).what == send_outcome::kind::retry);
  for (unsigned s : {400u, 401u, 403u, 404u, 410u, 413u, 422u})
    CHECK(classify_status({s, {}, ""}).what == send_outcome::kind::failed);
  CHECK(classify_status({404, {}, "no\nsuch"}).reason == "HTTP 404: no such");
  CHECK(parse_retry_after("120", now) == std::chrono::seconds(120));
  CHECK(parse_retry_after(" 0 ", now) == std::chrono::seconds(0));
  // 2026-11-30T09:34:00Z + 90 s as an IMF-fixdate.
  CHECK(parse_retry_after("Mon, 30 Nov 2026 09:35:30 GMT", 1'796'031'240'000) ==
        std::chrono::seconds(90));
  CHECK(parse_retry_after("Mon, 30 Nov 2026 09:30:00 GMT", 1'796'031'240'000) ==
        std::chrono::seconds(0));  // in the past: at once
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("", now));
  CHECK(utf8_length("Pasūtījums") == 10);
}

}  // namespace sb
