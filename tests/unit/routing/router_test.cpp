#include "routing/rules.hpp"

#include "routing/identity_list.hpp"
#include "routing/schedule.hpp"

#include <doctest/doctest.h>
#include <re2/re2.h>
#include <boost/json/object.hpp>

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
    const auto d = decide({m, "web-chat", "chat"}, fresh, 0, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 5);
    CHECK(d.route_index == 1);
    CHECK_FALSE(d.sticky);
    CHECK(d.reason == "route #2 (line 32): text_matches \"(?i)refund|invoice|charge\"");
  }
  SUBCASE("an earlier route wins over a later one that also matches") {
    const auto m = text_message("refund please");  // route #1 (callback) and #2 both match
    const auto d = decide({m, "ivr", "callback"}, fresh, 0, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 0);
    CHECK(d.route_index == 0);
    CHECK(d.reason == "route #1 (line 30): channel_type \"callback\"");
  }
  SUBCASE("all conditions of a route must hold") {
    const auto m = text_message("URGENT: site down");
    // channel matches, type matches, text matches → route #3
    auto d = decide({m, "web-chat", "chat"}, fresh, 0, t);
    CHECK(d.skill == "support");
    CHECK(d.route_index == 2);
    CHECK(d.reason ==
          "route #3 (line 35): channel \"web-chat\" and channel_type \"chat\" and text_matches "
          "\"(?i)urgent\"");
    // another channel of the same type → not route #3
    d = decide({m, "other-chat", "chat"}, fresh, 0, t);
    CHECK(d.skill == "general");
    CHECK(d.route_index == 3);
    // the right channel, text not matching → default
    const auto calm = text_message("hello there");
    d = decide({calm, "web-chat", "chat"}, fresh, 0, t);
    CHECK(d.skill == "general");
  }
  SUBCASE("default route catches everything else") {
    const auto m = text_message("");
    const auto d = decide({m, "support-mail", "mailgun"}, fresh, 0, t);
    CHECK(d.skill == "general");
    CHECK(d.priority == 0);
    CHECK(d.route_index == 3);
    CHECK(d.reason == "route #4 (line 38): default");
  }
  SUBCASE("text only: the subject is not matched") {
    auto m = text_message("hello");
    m.subject = "Refund";
    const auto d = decide({m, "support-mail", "mailgun"}, fresh, 0, t);
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
    CHECK(decide({lower, "c", "chat"}, fresh, 0, cs).skill == "billing");
    CHECK(decide({upper, "c", "chat"}, fresh, 0, cs).skill == "general");
  }
  SUBCASE("UTF-8 text") {
    routing_table u;
    u.skills = {{"billing", "q.b", "classic", 0, 1}, {"general", "q.g", "classic", 0, 2}};
    u.routes.push_back(
        make_route(cond(std::nullopt, std::nullopt, re("(?i)rēķin")), "billing", 0, 5));
    u.routes.push_back(make_route(std::nullopt, "general", 0, 7));
    const auto m = text_message("Mans RĒĶINS ir nepareizs");
    CHECK(decide({m, "c", "chat"}, fresh, 0, u).skill == "billing");
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
    const auto d = decide({m, "web-chat", "chat"}, conv, 0, t);
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
    const auto d = decide({m, "web-chat", "chat"}, billing, 0, t);
    CHECK(d.skill == "billing");
    CHECK(d.priority == 7);
    CHECK(d.sticky);
  }
  SUBCASE("reroute: true moves the conversation") {
    const auto m = text_message("this is urgent");
    const auto d = decide({m, "web-chat", "chat"}, conv, 0, t);
    CHECK(d.skill == "support");
    CHECK(d.priority == 3);
    CHECK_FALSE(d.sticky);
    CHECK(d.route_index == 2);
  }
  SUBCASE("a new conversation follows the route") {
    const auto m = text_message("refund");
    const auto d = decide({m, "web-chat", "chat"}, conversation_state{}, 0, t);
    CHECK(d.skill == "billing");
    CHECK_FALSE(d.sticky);
  }
  SUBCASE("a skill removed by a reload is not kept") {
    conversation_state gone = conv;
    gone.skill = "retired";
    const auto m = text_message("refund");
    const auto d = decide({m, "web-chat", "chat"}, gone, 0, t);
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
    const auto d = decide({m, "web-chat", "chat"}, high, 0, t);
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
  const auto d = decide({m, "y", "chat"}, conversation_state{}, 0, t);
  CHECK(d.skill.empty());
  CHECK(d.route_index == -1);
  CHECK(d.reason == "no route matched");
}

// ---------------------------------------------------------------------------------------------
// Every condition, each alone: a two-route table (the condition → vip, else general).

namespace {

routing_table one_condition(route_condition c, bool reroute = false) {
  routing_table t;
  t.skills = {{"vip", "q.v", "classic", 9, 1}, {"general", "q.g", "classic", 0, 2}};
  t.routes.push_back(make_route(std::move(c), "vip", 4, 10, reroute));
  t.routes.push_back(make_route(std::nullopt, "general", 0, 12));
  return t;
}

// The skill chosen for a fresh conversation at `now`.
std::string pick(const routing_table& t, const inbound_message& m, std::string_view channel = "c",
                 std::string_view type = "chat", millis now = 0) {
  return decide({m, channel, type}, conversation_state{}, now, t).skill;
}

std::shared_ptr<const schedule> riga_office_hours() {
  auto s = std::make_shared<schedule>();
  s->name = "office";
  s->timezone = "Europe/Riga";
  std::string problem;
  s->zone = find_time_zone("Europe/Riga", problem);
  REQUIRE(s->zone != nullptr);
  for (int d = 0; d < 5; ++d) s->days[static_cast<std::size_t>(d)].push_back({9 * 60, 18 * 60});
  return s;
}

millis at(const char* rfc3339) {
  const auto t = parse_time(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

}  // namespace

TEST_CASE("conditions: channel_kind") {
  route_condition c;
  c.channel_kind = "phone";
  const auto t = one_condition(c);
  const auto m = text_message("hi");
  CHECK(pick(t, m, "ivr", "callback") == "vip");
  CHECK(pick(t, m, "sms", "twilio") == "vip");
  CHECK(pick(t, m, "web-chat", "chat") == "general");
  CHECK(pick(t, m, "mail", "mailgun") == "general");
  CHECK(pick(t, m, "x", "no-such-type") == "general");
}

TEST_CASE("conditions: recipient (any of, case-insensitive)") {
  route_condition c;
  c.recipient = {"sales@example.com", "+37167000000"};
  const auto t = one_condition(c);
  auto m = text_message("hi");
  m.recipient = "Sales@Example.com";
  CHECK(pick(t, m) == "vip");
  m.recipient = "+37167000000";
  CHECK(pick(t, m) == "vip");
  m.recipient = "support@example.com";
  CHECK(pick(t, m) == "general");
  m.recipient.clear();
  CHECK(pick(t, m) == "general");
}

TEST_CASE("conditions: subject_matches") {
  route_condition c;
  c.subject_matches = re("(?i)^urgent");
  const auto t = one_condition(c);
  auto m = text_message("urgent in the text only");
  CHECK(pick(t, m) == "general");
  m.subject = "URGENT: printer on fire";
  CHECK(pick(t, m) == "vip");
  m.subject = "Re: urgent";
  CHECK(pick(t, m) == "general");
}

TEST_CASE("conditions: ivr_digits") {
  route_condition c;
  c.ivr_digits = {"1", "21"};
  const auto t = one_condition(c);
  auto m = text_message("callback");
  CHECK(pick(t, m) == "general");  // no digits at all
  m.extra["callback"] = boost::json::object{{"ivr_digits", "1"}};
  CHECK(ivr_digits_of(m) == "1");
  CHECK(pick(t, m) == "vip");
  m.extra["callback"] = boost::json::object{{"ivr_digits", "2"}};
  CHECK(pick(t, m) == "general");
  m.extra["callback"] = boost::json::object{{"ivr_digits", nullptr}};  // how callback writes none
  CHECK(ivr_digits_of(m).empty());
  CHECK(pick(t, m) == "general");
  m.extra.erase("callback");
  m.extra["call"] = boost::json::object{{"digits", "21"}};
  CHECK(pick(t, m) == "vip");
  m.extra["callback"] = "not an object";
  CHECK(ivr_digits_of(m) == "21");
}

TEST_CASE("conditions: language (given or detected)") {
  route_condition c;
  c.language = {"lv", "lt"};
  const auto t = one_condition(c);
  auto m = text_message("Labdien, man ir jautājums par savu rēķinu, lūdzu palīdziet.");
  CHECK(pick(t, m) == "vip");  // detected
  m.text = "Laba diena, turiu klausimą dėl sąskaitos, prašau padėti.";
  CHECK(pick(t, m) == "vip");
  m.text = "Hello, I have a question about my invoice, could you please help me?";
  CHECK(pick(t, m) == "general");
  m.text = "ok";
  CHECK(pick(t, m) == "general");  // unknown language matches no language condition
  m.language = "lv";               // the provider's hint
  CHECK(pick(t, m) == "vip");
  // The caller's precomputed language wins: decide() does not detect again.
  const auto d =
      decide({m, "c", "chat", std::optional<std::string>("en")}, conversation_state{}, 0, t);
  CHECK(d.skill == "general");
  const auto unknown =
      decide({m, "c", "chat", std::optional<std::string>()}, conversation_state{}, 0, t);
  CHECK(unknown.skill == "general");
  const auto lt =
      decide({m, "c", "chat", std::optional<std::string>("lt")}, conversation_state{}, 0, t);
  CHECK(lt.skill == "vip");
  CHECK(lt.reason == "route #1 (line 10): language [lv, lt] (message: lt)");
}

TEST_CASE("conditions: identity_type") {
  route_condition c;
  c.identity_type = {"whatsapp"};
  const auto t = one_condition(c);
  auto m = text_message("hi");
  CHECK(pick(t, m) == "general");
  m.identities = {{"phone", "+37120000000"}};
  CHECK(pick(t, m) == "general");
  m.identities.push_back({"whatsapp", "37120000000"});
  CHECK(pick(t, m) == "vip");
}

TEST_CASE("conditions: customer_in") {
  auto parsed = parse_identity_list("email:boss@example.com\nphone:+37120000001\n", "vip.txt");
  REQUIRE(parsed.list.has_value());
  route_condition c;
  c.customer_in = std::make_shared<const identity_list>(std::move(*parsed.list));
  const auto t = one_condition(c);
  auto m = text_message("hi");
  CHECK(pick(t, m) == "general");
  m.identities = {{"email", "someone@example.com"}};
  CHECK(pick(t, m) == "general");
  m.identities.push_back({"phone", "+37120000001"});
  CHECK(pick(t, m) == "vip");
  const auto d = decide({m, "c", "chat"}, conversation_state{}, 0, t);
  CHECK(d.reason == "route #1 (line 10): customer_in \"vip.txt\"");
}

TEST_CASE("conditions: during / outside a schedule read the clock given") {
  const auto office = riga_office_hours();
  const auto m = text_message("hi");
  const millis open = at("2026-03-30T06:00:00Z");    // Mon 09:00 EEST
  const millis closed = at("2026-03-27T06:00:00Z");  // Fri 08:00 EET: same UTC hour
  SUBCASE("during") {
    route_condition c;
    c.during = office;
    const auto t = one_condition(c);
    CHECK(pick(t, m, "c", "chat", open) == "vip");
    CHECK(pick(t, m, "c", "chat", closed) == "general");
    CHECK(decide({m, "c", "chat"}, conversation_state{}, open, t).reason ==
          "route #1 (line 10): during office");
  }
  SUBCASE("outside") {
    route_condition c;
    c.outside = office;
    const auto t = one_condition(c);
    CHECK(pick(t, m, "c", "chat", open) == "general");
    CHECK(pick(t, m, "c", "chat", closed) == "vip");
    CHECK(pick(t, m, "c", "chat", at("2026-03-28T12:00:00Z")) == "vip");  // Saturday
  }
}

TEST_CASE("conditions: first_message") {
  route_condition c;
  c.first_message = true;
  const auto t = one_condition(c, /*reroute=*/true);
  const auto m = text_message("hi");
  conversation_state fresh;
  conversation_state follow_up;
  follow_up.is_new = false;
  CHECK(decide({m, "c", "chat"}, fresh, 0, t).skill == "vip");
  CHECK(decide({m, "c", "chat"}, follow_up, 0, t).skill == "general");
  route_condition later;
  later.first_message = false;
  const auto t2 = one_condition(later, /*reroute=*/true);
  CHECK(decide({m, "c", "chat"}, fresh, 0, t2).skill == "general");
  CHECK(decide({m, "c", "chat"}, follow_up, 0, t2).skill == "vip");
}

// An out-of-office answered by an agent starts an autoresponder loop: routes send them apart.
TEST_CASE("conditions: auto_reply") {
  route_condition c;
  c.auto_reply = true;
  const auto t = one_condition(c);
  auto oof = text_message("I am away until Monday");
  oof.extra["auto_reply"] = true;
  oof.extra["auto_reply_reason"] = "Auto-Submitted: auto-replied";
  auto person = text_message("where is my order?");
  person.extra["auto_reply"] = false;
  const auto chat = text_message("hi");  // no flag at all: not a machine's
  CHECK(decide({oof, "c", "mime"}, {}, 0, t).skill == "vip");
  CHECK(decide({person, "c", "mime"}, {}, 0, t).skill == "general");
  CHECK(decide({chat, "c", "chat"}, {}, 0, t).skill == "general");
  route_condition not_auto;
  not_auto.auto_reply = false;
  const auto t2 = one_condition(not_auto);
  CHECK(decide({chat, "c", "chat"}, {}, 0, t2).skill == "vip");
  CHECK(decide({oof, "c", "mime"}, {}, 0, t2).skill == "general");
  CHECK(decide({oof, "c", "mime"}, {}, 0, t).reason.ends_with("auto_reply true"));
}

TEST_CASE("conditions: all given must hold, with a description of each") {
  auto parsed = parse_identity_list("email:boss@example.com\n", "/etc/sb/vip");
  REQUIRE(parsed.list.has_value());
  route_condition c;
  c.channel = "mail";
  c.channel_type = "mailgun";
  c.channel_kind = "email";
  c.recipient = {"help@example.com"};
  c.text_matches = re("(?i)refund");
  c.subject_matches = re("(?i)invoice");
  c.language = {"en"};
  c.identity_type = {"email"};
  c.customer_in = std::make_shared<const identity_list>(std::move(*parsed.list));
  c.during = riga_office_hours();
  c.first_message = true;
  const auto t = one_condition(c);
  inbound_message m;
  m.recipient = "help@example.com";
  m.subject = "Invoice 42";
  m.text = "Hello, I would like a refund for the invoice I received last week, please.";
  m.identities = {{"email", "boss@example.com"}};
  const millis open = at("2026-03-30T06:00:00Z");
  const auto d = decide({m, "mail", "mailgun"}, conversation_state{}, open, t);
  CHECK(d.skill == "vip");
  CHECK(d.reason ==
        "route #1 (line 10): channel \"mail\" and channel_type \"mailgun\" and channel_kind "
        "\"email\" and recipient \"help@example.com\" and text_matches \"(?i)refund\" and "
        "subject_matches \"(?i)invoice\" and language \"en\" (message: en) and identity_type "
        "\"email\" and customer_in \"/etc/sb/vip\" and during office and first_message true");
  // Take any one away and the route no longer matches.
  CHECK(pick(t, m, "mail", "mailgun", at("2026-03-28T12:00:00Z")) == "general");
  CHECK(pick(t, m, "other", "mailgun", open) == "general");
  auto no_vip = m;
  no_vip.identities = {{"email", "someone@example.com"}};
  CHECK(pick(t, no_vip, "mail", "mailgun", open) == "general");
  auto no_subject = m;
  no_subject.subject = "Hello";
  CHECK(pick(t, no_subject, "mail", "mailgun", open) == "general");
  auto german = m;
  german.language = "de";
  CHECK(pick(t, german, "mail", "mailgun", open) == "general");
  conversation_state old;
  old.is_new = false;
  CHECK(decide({m, "mail", "mailgun"}, old, open, t).skill == "general");
}

TEST_CASE("decide: skill changes are reported") {
  const auto t = example_table();
  const auto m = text_message("refund");
  SUBCASE("a first skill is a change") {
    const auto d = decide({m, "web-chat", "chat"}, conversation_state{}, 0, t);
    CHECK(d.skill == "billing");
    CHECK(d.skill_changed);
    CHECK_FALSE(d.previous_skill.has_value());
  }
  SUBCASE("a sticky follow-up is not") {
    conversation_state conv{false, "general", 0};
    const auto d = decide({m, "web-chat", "chat"}, conv, 0, t);
    CHECK(d.sticky);
    CHECK_FALSE(d.skill_changed);
    CHECK(d.previous_skill == "general");
  }
  SUBCASE("a reroute to another skill is") {
    conversation_state conv{false, "general", 0};
    const auto urgent = text_message("urgent!");
    const auto d = decide({urgent, "web-chat", "chat"}, conv, 0, t);
    CHECK(d.skill == "support");
    CHECK(d.skill_changed);
    CHECK(d.previous_skill == "general");
  }
  SUBCASE("a reroute to the same skill is not") {
    conversation_state conv{false, "support", 3};
    const auto urgent = text_message("urgent!");
    const auto d = decide({urgent, "web-chat", "chat"}, conv, 0, t);
    CHECK(d.skill == "support");
    CHECK_FALSE(d.skill_changed);
  }
  SUBCASE("a skill removed by a reload is") {
    conversation_state conv{false, "retired", 0};
    const auto d = decide({m, "web-chat", "chat"}, conv, 0, t);
    CHECK(d.skill == "billing");
    CHECK(d.skill_changed);
    CHECK(d.previous_skill == "retired");
  }
}

TEST_CASE("decide: rule order with several new conditions; the first match wins") {
  // The common set-up: VIPs first, then after-hours, then by language, then the rest.
  auto parsed = parse_identity_list("phone:+37120000001\n", "vip");
  REQUIRE(parsed.list.has_value());
  routing_table t;
  t.skills = {{"vip", "q.v", "classic", 9, 1},
              {"night", "q.n", "classic", 0, 2},
              {"baltic", "q.b", "classic", 0, 3},
              {"general", "q.g", "classic", 0, 4}};
  route_condition vip;
  vip.customer_in = std::make_shared<const identity_list>(std::move(*parsed.list));
  route_condition night;
  night.outside = riga_office_hours();
  route_condition baltic;
  baltic.language = {"lv", "lt"};
  t.routes = {make_route(vip, "vip", 9, 10), make_route(night, "night", 0, 12),
              make_route(baltic, "baltic", 0, 14), make_route(std::nullopt, "general", 0, 16)};
  const millis open = at("2026-03-30T06:00:00Z");
  const millis closed = at("2026-03-30T16:00:00Z");
  auto m = text_message("Labdien, man ir jautājums par savu rēķinu, lūdzu palīdziet.");
  CHECK(pick(t, m, "c", "chat", open) == "baltic");
  CHECK(pick(t, m, "c", "chat", closed) == "night");
  m.identities = {{"phone", "+37120000001"}};
  const auto d = decide({m, "c", "chat"}, conversation_state{}, closed, t);
  CHECK(d.skill == "vip");
  CHECK(d.priority == 9);
  CHECK(d.route_index == 0);
  m.identities.clear();
  m.text = "Hello, I have a question about my invoice, could you please help me?";
  CHECK(pick(t, m, "c", "chat", open) == "general");
}
