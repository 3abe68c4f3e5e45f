#include "replies/reply.hpp"

#include "replies/channels.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <iterator>
#include <string>

namespace sb {
namespace {

namespace json = boost::json;

// tests/data/replies/cases.json: the cases the JSON Schema is held to as well
// (tests/schema/reply_schema_test.py).
json::object cases_file() {
  std::ifstream in(SB_TEST_DATA_DIR "/replies/cases.json", std::ios::binary);
  REQUIRE(in.good());
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return json::parse(text).as_object();
}

std::string body_of(const json::object& c) {
  if (const json::value* raw = c.if_contains("raw")) return std::string(raw->as_string());
  return json::serialize(c.at("body"));
}

reply_source source_of(const json::object& c) {
  return c.at("source").as_string() == "http" ? reply_source::http : reply_source::queue;
}

const std::string conversation = "0194f7a2-8c1e-7b3d-9a4f-1c2d3e4f5a6b";

TEST_CASE("every case of cases.json: accepted, or refused with exactly its detail") {
  const json::object file = cases_file();
  const std::string path_id(file.at("conversation_id").as_string());
  const json::array& cases = file.at("cases").as_array();
  CHECK(cases.size() >= 30);
  for (const json::value& v : cases) {
    const json::object& c = v.as_object();
    const std::string name(c.at("name").as_string());
    const std::string expect(c.at("expect").as_string());
    CAPTURE(name);
    const reply_source source = source_of(c);
    auto r = parse_reply(body_of(c), source, source == reply_source::http ? path_id : "");
    if (expect == "ok") {
      if (!r) FAIL_CHECK("refused: " << r.error().detail);
      REQUIRE(r.has_value());
      CHECK(r->conversation_id == path_id);
    } else {
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == errc::malformed);
      CHECK(r.error().detail == expect);
    }
  }
}

TEST_CASE("the documented example, field by field") {
  auto r = parse_reply(
      R"({"schema":"switchboard.reply/v1","conversation_id":")" + conversation +
          R"(","text":"Labdien! Pasūtījums #4471 ir ceļā.","agent":{"id":"a-7","name":"Ieva"},)"
          R"("channel":"tg","in_reply_to":"0194f7a2-8c1f-7000-8000-0123456789ab",)"
          R"("attachments":[{"url":"https://files.example/a/receipt.pdf","name":"receipt.pdf",)"
          R"("content_type":"application/pdf"},{"url":"http://files.example/b.png"}]})",
      reply_source::queue);
  REQUIRE(r.has_value());
  CHECK(r->conversation_id == conversation);
  CHECK(r->text == "Labdien! Pasūtījums #4471 ir ceļā.");
  CHECK(r->agent.id == "a-7");
  CHECK(r->agent.name == "Ieva");
  CHECK(r->channel == "tg");
  CHECK(r->in_reply_to == "0194f7a2-8c1f-7000-8000-0123456789ab");
  REQUIRE(r->attachments.size() == 2);
  CHECK(r->attachments[0].url == "https://files.example/a/receipt.pdf");
  CHECK(r->attachments[0].name == "receipt.pdf");
  CHECK(r->attachments[0].content_type == "application/pdf");
  CHECK(r->attachments[1].url == "http://files.example/b.png");
  CHECK(r->attachments[1].name.empty());
  CHECK(r->attachments[1].content_type.empty());
}

TEST_CASE("absent and blank optional fields are absent; the text is kept as sent") {
  auto r = parse_reply(R"({"text":"  two spaces first","agent":{"id":"a-7","name":"  "},)"
                       R"("channel":" ","in_reply_to":null})",
                       reply_source::http, conversation);
  REQUIRE(r.has_value());
  CHECK(r->text == "  two spaces first");
  CHECK(r->agent.name.empty());
  CHECK_FALSE(r->channel.has_value());
  CHECK_FALSE(r->in_reply_to.has_value());
  CHECK(r->attachments.empty());
}

TEST_CASE("HTTP: the conversation in the path must be an id") {
  auto r = parse_reply(R"({"text":"hi","agent":{"id":"a-7"}})", reply_source::http, "latest");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().detail == "the conversation id is not a Switchboard id (a UUIDv7)");
}

TEST_CASE("limits: text, field and URL bytes, the attachment count") {
  const reply_limits limits;
  const auto with_text = [&](std::size_t n) {
    return parse_reply(R"({"text":")" + std::string(n, 'x') + R"(","agent":{"id":"a-7"}})",
                       reply_source::http, conversation);
  };
  CHECK(with_text(limits.text_bytes).has_value());
  auto over = with_text(limits.text_bytes + 1);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().detail == "field text is longer than 65536 bytes");
  // Bytes, not characters: 2-byte letters count twice.
  std::string latvian;
  for (std::size_t i = 0; i < limits.text_bytes / 2 + 1; ++i) latvian += "ā";
  auto wide = parse_reply(R"({"text":")" + latvian + R"(","agent":{"id":"a-7"}})",
                          reply_source::http, conversation);
  REQUIRE_FALSE(wide.has_value());
  CHECK(wide.error().detail == "field text is longer than 65536 bytes");

  auto long_agent = parse_reply(
      R"({"text":"hi","agent":{"id":")" + std::string(limits.field_bytes + 1, 'a') + R"("}})",
      reply_source::http, conversation);
  REQUIRE_FALSE(long_agent.has_value());
  CHECK(long_agent.error().detail == "field agent.id is longer than 256 bytes");

  auto long_url = parse_reply(R"({"agent":{"id":"a-7"},"attachments":[{"url":"https://x.example/)" +
                                  std::string(limits.url_bytes, 'u') + R"("}]})",
                              reply_source::http, conversation);
  REQUIRE_FALSE(long_url.has_value());
  CHECK(long_url.error().detail == "field attachments[0].url is longer than 2048 bytes");

  std::string ten = R"({"agent":{"id":"a-7"},"attachments":[)";
  for (int i = 0; i < 10; ++i)
    ten += std::string(i ? "," : "") + R"({"url":"https://x.example/f"})";
  CHECK(parse_reply(ten + "]}", reply_source::http, conversation).has_value());
}

TEST_CASE("the body is bounded before it is parsed") {
  const reply_limits limits;
  const std::string reply = R"({"text":"hi","agent":{"id":"a-7"}})";
  const std::string at_limit = reply + std::string(limits.body_bytes - reply.size(), ' ');
  CHECK(parse_reply(at_limit, reply_source::http, conversation).has_value());
  auto over = parse_reply(at_limit + " ", reply_source::http, conversation);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().code == errc::too_large);  // 413 over HTTP
  CHECK(over.error().detail == "the reply is larger than 524288 bytes");
}

TEST_CASE("an unknown field is named in printable ASCII: controls and other bytes are ?") {
  auto r = parse_reply(R"({"text":"hi","agent":{"id":"a-7"},"a\u001b[31mb\u00e9":1})",
                       reply_source::http, conversation);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().detail == "field a?[31mb?? is not part of switchboard.reply/v1");
}

TEST_CASE("an unknown field is named, cut to 64 bytes, never with its value") {
  const std::string key(100, 'k');
  auto r = parse_reply(R"({"text":"hi","agent":{"id":"a-7"},")" + key + R"(":"s3cret"})",
                       reply_source::http, conversation);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().detail ==
        "field " + std::string(64, 'k') + " is not part of switchboard.reply/v1");
  CHECK(r.error().detail.find("s3cret") == std::string::npos);
}

TEST_CASE("bad input never throws: truncations of a valid reply are refused") {
  const std::string valid =
      R"({"schema":"switchboard.reply/v1","conversation_id":")" + conversation +
      R"(","text":"hi","agent":{"id":"a-7"},"attachments":[{"url":"https://x.example/a"}]})";
  REQUIRE(parse_reply(valid, reply_source::queue).has_value());
  for (std::size_t n = 0; n < valid.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(parse_reply(valid.substr(0, n), reply_source::queue).has_value());
  }
}

}  // namespace
}  // namespace sb

namespace sb {

TEST_CASE("which channels send replies, and why one does not") {
  const auto make = [](std::string name, std::string type, bool outbound) {
    channel c;
    c.config.name = std::move(name);
    c.config.type = type;
    c.type = find_channel_type(type);
    if (outbound) c.config.outbound.emplace();
    return c;
  };
  const std::vector<channel> channels{make("tg", "telegram", true), make("tg2", "telegram", false),
                                      make("sms", "twilio", true), make("cb", "callback", false)};
  const auto sends = sending_channels(channels);
  CHECK(sends.size() == 2);
  CHECK(sends.contains("tg"));
  CHECK(sends.contains("sms"));
  CHECK_FALSE(cannot_send(channels, "tg"));
  CHECK_FALSE(cannot_send(channels, "sms"));
  CHECK(cannot_send(channels, "tg2") ==
        "channel tg2 has no outbound: section, so it sends no replies");
  CHECK(cannot_send(channels, "cb") == "channel cb is of type callback, which cannot send replies");
  CHECK(cannot_send(channels, "nope") == "no channel named nope");
}

TEST_CASE("the providers' windows") {
  constexpr millis hour = 3'600'000;
  const reply_channel wa{"whatsapp"}, tw{"twilio"}, fb{"messenger"}, fb_agent{"messenger", true},
      tg{"telegram"};
  CHECK(reply_window(wa, "whatsapp") == 24 * hour);
  CHECK(reply_window(tw, "whatsapp") == 24 * hour);
  CHECK(reply_window(tw, "phone") == 0);
  CHECK(reply_window(fb, "messenger") == 24 * hour);
  CHECK(reply_window(fb_agent, "messenger") == 7 * 24 * hour);
  CHECK(reply_window(tg, "telegram") == 0);
  CHECK(check_window("wa", wa, "whatsapp", 0, 24 * hour).code == errc::ok);
  const error late = check_window("wa", wa, "whatsapp", 0, 24 * hour + 1);
  CHECK(late.code == errc::window_closed);
  CHECK(late.detail ==
        "channel wa (whatsapp) takes replies for 24 hours after the customer's "
        "last message, which came at 1970-01-01T00:00:00Z; answer on another "
        "channel");
  CHECK(check_window("fb", fb_agent, "messenger", 0, 8 * 24 * hour).detail.find("for 7 days") !=
        std::string::npos);
}

}  // namespace sb
