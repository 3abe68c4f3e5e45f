#include "daemon/route_command.hpp"

#include "daemon/config.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <string>

namespace {

using sb::route_input;

constexpr sb::millis monday_noon_riga = 1'795'428'000'000;  // 2026-11-23T10:00:00Z, 12:00 in Riga
constexpr sb::millis sunday_noon_riga = monday_noon_riga - 86'400'000;

const char* const config_yaml = R"(channels:
  - name: web-chat
    type: chat
    secret: "whsec_c2VjcmV0LWZvci1sb2NhbC10ZXN0aW5nLW9ubHk="
  - name: ivr
    type: callback
    secret: "whsec_c2VjcmV0LWZvci1sb2NhbC10ZXN0aW5nLW9ubHk="
  - name: mail
    type: mime
    secret: "a-mime-secret-of-enough-length"
schedules:
  office:
    timezone: Europe/Riga
    hours:
      mon-fri: "09:00-18:00"
skills:
  - name: general
  - name: billing
    queue: billing.q
    max_priority: 10
  - name: night
  - name: robots
routes:
  - when: {auto_reply: true}
    skill: robots
  - when: {channel_type: callback, ivr_digits: "1"}
    skill: billing
    priority: 7
  - when: {text_matches: "(?i)invoice"}
    skill: billing
    priority: 5
  - when: {outside: office}
    skill: night
  - skill: general
)";

sb::config load() {
  auto l = sb::parse_config(config_yaml, "route.yaml");
  const std::string first_error = l.errors.empty() ? std::string() : l.errors.front();
  INFO(first_error);
  REQUIRE(l.cfg);
  return std::move(*l.cfg);
}

struct outcome {
  sb::routing_decision decision;
  std::string explained;
};

outcome route(const sb::config& cfg, std::string_view input_json, sb::millis now) {
  auto in = sb::parse_route_input(boost::json::parse(input_json), cfg, now);
  const std::string problem = in.has_value() ? std::string() : in.error().detail;
  INFO(problem);
  REQUIRE(in.has_value());
  std::optional<std::optional<std::string>> lang;
  if (in->language_given) lang = in->message.language;
  auto d = sb::decide({in->message, in->channel, in->channel_type, lang}, in->conversation, in->at,
                      *cfg.routing);
  return {d, sb::explain_route(*in, d, cfg)};
}

std::string error_of(const sb::config& cfg, std::string_view input_json) {
  auto in = sb::parse_route_input(boost::json::parse(input_json), cfg, monday_noon_riga);
  REQUIRE_FALSE(in.has_value());
  return in.error().detail;
}

}  // namespace

TEST_CASE("route command: a hand-written message, each route in turn") {
  const auto cfg = load();
  auto o = route(cfg, R"({"channel":"ivr","ivr_digits":"1","text":"call me"})", monday_noon_riga);
  CHECK(o.decision.skill == "billing");
  CHECK(o.decision.priority == 7);
  CHECK(o.explained.find("queue:    billing.q") != std::string::npos);
  CHECK(o.explained.find("route #2 (line 26)") != std::string::npos);
  CHECK(o.explained.find("ivr_digits \"1\"") != std::string::npos);

  o = route(cfg, R"({"channel":"web-chat","text":"my INVOICE is wrong","language":"en"})",
            monday_noon_riga);
  CHECK(o.decision.skill == "billing");
  CHECK(o.decision.route_index == 2);
  CHECK(o.explained.find("language: en (from the input)") != std::string::npos);

  // Sunday is outside the office's hours; received_at in the input sets the clock.
  o = route(cfg, R"({"channel":"web-chat","text":"hello","received_at":"2026-11-22T10:00:00Z"})",
            monday_noon_riga);
  CHECK(o.decision.skill == "night");
  CHECK(o.explained.find("outside office") != std::string::npos);
  CHECK(o.explained.find("at:       2026-11-22T10:00:00Z") != std::string::npos);
  CHECK(route(cfg, R"({"channel":"web-chat","text":"hello"})", sunday_noon_riga).decision.skill ==
        "night");
  CHECK(route(cfg, R"({"channel":"web-chat","text":"hello"})", monday_noon_riga).decision.skill ==
        "general");
  // A consumed out-of-office: the payload's auto_reply flag decides.
  o = route(cfg, R"({"channel":"mail","text":"away","auto_reply":true})", monday_noon_riga);
  CHECK(o.decision.skill == "robots");
  CHECK(o.explained.find("auto_reply true") != std::string::npos);
  CHECK(route(cfg, R"({"channel":"mail","text":"away","auto_reply":false})", monday_noon_riga)
            .decision.skill == "general");
}

TEST_CASE("route command: a conversation with a skill keeps it (stickiness is shown)") {
  const auto cfg = load();
  auto o = route(cfg,
                 R"({"channel":"web-chat","text":"about my invoice",
                     "conversation":{"skill":"general"}})",
                 monday_noon_riga);
  CHECK(o.decision.skill == "general");
  CHECK(o.decision.sticky);
  CHECK(o.explained.find("sticky: conversation already with skill general") != std::string::npos);
  CHECK(o.explained.find("conversation: with skill general") != std::string::npos);
}

TEST_CASE("route command: a consumed payload is routed as a new or a continuing conversation") {
  const auto cfg = load();
  const std::string message =
      R"("message":{"channel":"web-chat","channel_type":"chat","text":"invoice 42 is wrong",
          "language":"en","received_at":"2026-11-23T10:00:00Z","from":{"type":"chat","value":"web-chat:v-1","name":null},
          "callback":null})";
  // message_count 1: the message opened the conversation, so the routes decide.
  auto o = route(cfg,
                 R"({"schema":"switchboard.conversation/v1","conversation":{"skill":"billing",
                     "message_count":1,"priority":5},"customer":{"identities":[{"type":"chat",
                     "value":"web-chat:v-1"}]},)" + message + "}",
                 sunday_noon_riga);
  CHECK(o.decision.skill == "billing");
  CHECK_FALSE(o.decision.sticky);
  CHECK(o.explained.find("conversation: new") != std::string::npos);
  // A later message of a conversation with skill general stays there.
  o = route(cfg,
            R"({"conversation":{"skill":"general","message_count":4,"priority":0},)" + message + "}",
            sunday_noon_riga);
  CHECK(o.decision.skill == "general");
  CHECK(o.decision.sticky);
}

TEST_CASE("route command: bad input names the field") {
  const auto cfg = load();
  CHECK(error_of(cfg, "[1,2]") == "the input must be a JSON object");
  CHECK(error_of(cfg, R"({"text":"x"})") == "channel is required");
  CHECK(error_of(cfg, R"({"channel":"sms","text":"x"})") ==
        "channel \"sms\" is not in the config; channels: web-chat, ivr, mail");
  CHECK(error_of(cfg, R"({"message":{"channel":"web-chat","text":7}})") ==
        "message.text must be a string");
  CHECK(error_of(cfg, R"({"channel":"web-chat","received_at":"yesterday"})") ==
        "received_at must be an RFC 3339 date-time");
  CHECK(error_of(cfg, R"({"channel":"web-chat","language":"english"})") ==
        "language must be an ISO 639-1 code such as \"en\"");
  CHECK(error_of(cfg, R"({"channel":"web-chat","identities":[{"type":"email"}]})") ==
        "identities items must be {\"type\": ..., \"value\": ...}");
  CHECK(error_of(cfg, R"({"channel":"web-chat","conversation":"billing"})") ==
        "conversation must be an object");
}
