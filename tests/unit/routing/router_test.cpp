#include "routing/rules.hpp"

#include <doctest/doctest.h>
#include <re2/re2.h>

#include <memory>
#include <string>

namespace {

using namespace sb;

std::shared_ptr<const re2::RE2> re(const std::string& pattern) {
  auto r = std::make_shared<const re2::RE2>(pattern);
  REQUIRE(r->ok());
  return r;
}

route make_route(std::optional<route_condition> when, std::string skill, int priority, int line,
                 bool reroute = false) {
  route r;
  r.when = std::move(when);
  r.skill = std::move(skill);
  r.priority = priority;
  r.line = line;
  r.reroute = reroute;
  return r;
}

route_condition cond(std::optional<std::string> channel, std::optional<std::string> type,
                     std::shared_ptr<const re2::RE2> text = nullptr) {
  route_condition c;
  c.channel = std::move(channel);
  c.channel_type = std::move(type);
  c.text_matches = std::move(text);
  return c;
}

// The architecture's example table: callbacks to billing, money words to billing at priority 5,
// web-chat's urgent words to support (rerouting), everything else to general.
routing_table example_table() {
  routing_table t;
  t.skills = {{"billing", "switchboard.billing", "classic", 10, 20},
              {"general", "switchboard.general", "classic", 0, 24},
              {"support", "switchboard.support", "classic", 5, 25}};
  t.routes.push_back(make_route(cond(std::nullopt, "callback"), "billing", 0, 30));
  t.routes.push_back(make_route(cond(std::nullopt, std::nullopt, re("(?i)refund|invoice|charge")),
                                "billing", 5, 32));
  t.routes.push_back(make_route(cond("web-chat", "chat", re("(?i)urgent")), "support", 3, 35,
                                /*reroute=*/true));
  t.routes.push_back(make_route(std::nullopt, "general", 0, 38));
  return t;
}

inbound_message text_message(std::string text) {
  inbound_message m;
  m.text = std::move(text);
  return m;
}

}  // namespace

TEST_CASE("routing_table::find_skill") {
  const auto t = example_table();
  REQUIRE(t.find_skill("billing") != nullptr);
  CHECK(t.find_skill("billing")->max_priority == 10);
  CHECK(t.find_skill("general")->queue == "switchboard.general");
  CHECK(t.find_skill("nope") == nullptr);
  CHECK(t.find_skill("") == nullptr);
}

TEST_CASE("decide: first match wins, conditions AND, default route") {
  const auto t = example_table();
  const conversation_state fresh;

  SUBCASE("text condition, case-insensitive regex, partial match") {
    const auto m = text_message("Hi, my INVOICE is wrong");
    const auto d = decide({m, "web-chat", "chat"}, fresh, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 5);
    CHECK(d.route_index == 1);
    CHECK_FALSE(d.sticky);
    CHECK(d.reason == "route #2 (line 32): text_matches \"(?i)refund|invoice|charge\"");
  }
  SUBCASE("an earlier route wins over a later one that also matches") {
    const auto m = text_message("refund please");  // route #1 (callback) and #2 both match
    const auto d = decide({m, "ivr", "callback"}, fresh, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 0);
    CHECK(d.route_index == 0);
    CHECK(d.reason == "route #1 (line 30): channel_type \"callback\"");
  }
  SUBCASE("all conditions of a route must hold") {
    const auto m = text_message("URGENT: site down");
    // channel matches, type matches, text matches → route #3
    auto d = decide({m, "web-chat", "chat"}, fresh, t);
    CHECK(d.skill == "support");
    CHECK(d.route_index == 2);
    CHECK(d.reason ==
          "route #3 (line 35): channel \"web-chat\" and channel_type \"chat\" and text_matches "
          "\"(?i)urgent\"");
    // another channel of the same type → not route #3
    d = decide({m, "other-chat", "chat"}, fresh, t);
    CHECK(d.skill == "general");
    CHECK(d.route_index == 3);
    // the right channel, text not matching → default
    const auto calm = text_message("hello there");
    d = decide({calm, "web-chat", "chat"}, fresh, t);
    CHECK(d.skill == "general");
  }
  SUBCASE("default route catches everything else") {
    const auto m = text_message("");
    const auto d = decide({m, "support-mail", "mailgun"}, fresh, t);
    CHECK(d.skill == "general");
    CHECK(d.priority == 0);
    CHECK(d.route_index == 3);
    CHECK(d.reason == "route #4 (line 38): default");
  }
  SUBCASE("text only: the subject is not matched") {
    auto m = text_message("hello");
    m.subject = "Refund";
    const auto d = decide({m, "support-mail", "mailgun"}, fresh, t);
    CHECK(d.skill == "general");
  }
  SUBCASE("regex is case-sensitive without (?i)") {
    routing_table cs;
    cs.skills = {{"billing", "q.b", "classic", 0, 1}, {"general", "q.g", "classic", 0, 2}};
    cs.routes.push_back(
        make_route(cond(std::nullopt, std::nullopt, re("refund")), "billing", 0, 5));
    cs.routes.push_back(make_route(std::nullopt, "general", 0, 7));
    const auto lower = text_message("a refund");
    const auto upper = text_message("A REFUND");
    CHECK(decide({lower, "c", "chat"}, fresh, cs).skill == "billing");
    CHECK(decide({upper, "c", "chat"}, fresh, cs).skill == "general");
  }
  SUBCASE("UTF-8 text") {
    routing_table u;
    u.skills = {{"billing", "q.b", "classic", 0, 1}, {"general", "q.g", "classic", 0, 2}};
    u.routes.push_back(
        make_route(cond(std::nullopt, std::nullopt, re("(?i)rēķin")), "billing", 0, 5));
    u.routes.push_back(make_route(std::nullopt, "general", 0, 7));
    const auto m = text_message("Mans RĒĶINS ir nepareizs");
    CHECK(decide({m, "c", "chat"}, fresh, u).skill == "billing");
  }
}

TEST_CASE("decide: stickiness") {
  const auto t = example_table();
  conversation_state conv;
  conv.is_new = false;
  conv.skill = "general";
  conv.priority = 0;

  SUBCASE("a follow-up keeps the conversation's skill when the route has no reroute") {
    const auto m = text_message("and the invoice too");
    const auto d = decide({m, "web-chat", "chat"}, conv, t);
    CHECK(d.skill == "general");
    CHECK(d.priority == 0);
    CHECK(d.sticky);
    CHECK(d.route_index == 1);  // the route that matched is still reported
    CHECK(d.reason.rfind("sticky: conversation already with skill general", 0) == 0);
    CHECK(d.reason.find("route #2 (line 32)") != std::string::npos);
  }
  SUBCASE("the conversation's priority is kept too") {
    conversation_state billing = conv;
    billing.skill = "billing";
    billing.priority = 7;
    const auto m = text_message("thanks!");
    const auto d = decide({m, "web-chat", "chat"}, billing, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 7);
    CHECK(d.sticky);
  }
  SUBCASE("reroute: true moves the conversation") {
    const auto m = text_message("this is urgent");
    const auto d = decide({m, "web-chat", "chat"}, conv, t);
    CHECK(d.skill == "support");
    CHECK(d.priority == 3);
    CHECK_FALSE(d.sticky);
    CHECK(d.route_index == 2);
  }
  SUBCASE("a new conversation follows the route") {
    const auto m = text_message("refund");
    const auto d = decide({m, "web-chat", "chat"}, conversation_state{}, t);
    CHECK(d.skill == "billing");
    CHECK_FALSE(d.sticky);
  }
  SUBCASE("a skill removed by a reload is not kept") {
    conversation_state gone = conv;
    gone.skill = "retired";
    const auto m = text_message("refund");
    const auto d = decide({m, "web-chat", "chat"}, gone, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 5);
    CHECK_FALSE(d.sticky);
    CHECK(d.reason.find("retired is no longer configured") != std::string::npos);
  }
  SUBCASE("a kept priority is clamped to the skill's current max_priority") {
    conversation_state high = conv;
    high.skill = "support";  // max_priority 5
    high.priority = 9;
    const auto m = text_message("hello");
    const auto d = decide({m, "web-chat", "chat"}, high, t);
    CHECK(d.skill == "support");
    CHECK(d.priority == 5);
    CHECK(d.sticky);
  }
}

TEST_CASE("decide: a table without a default route reports no match") {
  routing_table t;
  t.skills = {{"billing", "q.b", "classic", 0, 1}};
  t.routes.push_back(make_route(cond("x", std::nullopt), "billing", 0, 3));
  const auto m = text_message("hi");
  const auto d = decide({m, "y", "chat"}, conversation_state{}, t);
  CHECK(d.skill.empty());
  CHECK(d.route_index == -1);
  CHECK(d.reason == "no route matched");
}
