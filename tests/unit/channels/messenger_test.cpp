#include "channels/messenger/messenger.hpp"

#include "channels/meta/meta.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

const std::string app_secret = "3c9a41e7b2d85f6094ae1b7c2d3e4f50";
const std::string other_secret = "the instagram app's secret, not ours";
const std::string page = "104872915532871";

const meta_test_channel fb{"fb-page", "messenger", app_secret, "verify-me-7731"};

SB_ADAPTER_STEPS(make_messenger_adapter, fb.config(), whole_result, refusal)

// One messaging event in a page batch.
std::string batch(const std::string& event) {
  return R"({"object":"page","entry":[{"id":")" + page + R"(","time":1795341601204,"messaging":[)" +
         event + "]}]}";
}
std::string message_event(const std::string& message,
                          const std::string& sender = "7034519946284417",
                          const std::string& recipient = page) {
  return R"({"sender":{"id":")" + sender + R"("},"recipient":{"id":")" + recipient +
         R"("},"timestamp":1795341600125,"message":)" + message + "}";
}
std::string feed(const std::string& value) {
  return R"({"object":"page","entry":[{"id":")" + page +
         R"(","time":1795341700,"changes":[{"field":"feed","value":)" + value + "}]}]}";
}

// ---- config -------------------------------------------------------------------------------------

TEST_CASE("a messenger channel needs a verify_token") {
  channel_config cfg = fb.config();
  cfg.options.clear();
  auto a = make_messenger_adapter(cfg);
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error().detail.starts_with("channel type messenger needs verify_token"));
}

// ---- a batch of Messenger events -----------------------------------------------------------

TEST_CASE("a batch of several entries and events becomes several messages") {
  request r = fb.signed_post(fb.fixture("messaging_batch.json"));
  const parse_result res = accepted(r);
  // delivery, read and reaction are not messages
  CHECK(res.ignored == 3);
  REQUIRE(res.messages.size() == 6);

  SUBCASE("a text message") {
    const inbound_message& m = res.messages[0];
    CHECK(m.provider_id == "m_Rk3vXq1aYbCz9PdWuTe0LsNpQ2hJ7fGx8yKmVn4oBrAiE5cD6");
    CHECK(m.direction == "inbound");
    CHECK(m.visibility == "private");
    CHECK(m.text == "Labdien! Mans pasūtījums #4471 vēl nav atnācis 📦 — kur tas ir?");
    CHECK(m.identities == std::vector<identity>{{"messenger", page + ":7034519946284417"}});
    CHECK(m.recipient == page);
    CHECK(m.sent_at == 1'795'341'600'125);
    CHECK(m.sender_name.empty());  // Messenger sends no names; the Graph API has them
    CHECK(m.attachments.empty());
    CHECK(m.extra.empty());
  }
  SUBCASE("attachments") {
    const inbound_message& m = res.messages[1];
    CHECK(m.text.empty());
    REQUIRE(m.attachments.size() == 2);
    CHECK(m.attachments[0].name == "461230987_1022934_n.jpg");
    CHECK(m.attachments[0].content_type == "image/jpeg");
    CHECK(m.attachments[0].url.starts_with("https://scontent.xx.fbcdn.net/v/t1.15752-9/"));
    CHECK_FALSE(m.attachments[0].size.has_value());
    CHECK(m.attachments[1].name == "rekins_4471.pdf");
    CHECK(m.attachments[1].content_type == "application/pdf");
    for (const attachment& a : m.attachments) {  // Meta's CDN URLs, fetched as they are
      CHECK(a.fetch_kind == "url");
      CHECK(a.fetch_ref == a.url);
    }
  }
  SUBCASE("an echo is outbound, filed under the customer it was sent to") {
    const inbound_message& m = res.messages[2];
    CHECK(m.direction == "outbound");
    CHECK(m.identities == std::vector<identity>{{"messenger", page + ":7034519946284417"}});
    CHECK(m.text == "Paldies! Pārbaudām pasūtījumu #4471.");
    CHECK(m.provider_id == "m_Ua9xZs3cAdEb1RfYwVg2NuPrS4jL9hIz0aMoXp6qDtCkG7eF8");
    CHECK(m.sender_name.empty());
  }
  SUBCASE("a reply with a quick reply payload") {
    const inbound_message& m = res.messages[3];
    CHECK(m.extra.at("reply_to").as_string() ==
          "m_Ua9xZs3cAdEb1RfYwVg2NuPrS4jL9hIz0aMoXp6qDtCkG7eF8");
    CHECK(m.extra.at("quick_reply").as_string() == "ORDER_STATUS_WAIT");
  }
  SUBCASE("a postback is the customer tapping a button") {
    const inbound_message& m = res.messages[4];
    // Not the mid: Meta reuses the id of the message that holds the button for every tap.
    CHECK(m.provider_id.starts_with("postback:"));
    CHECK(m.text == "Runāt ar operatoru");
    CHECK(m.identities == std::vector<identity>{{"messenger", page + ":5519283746501928"}});
    const auto& pb = m.extra.at("postback").as_object();
    CHECK(pb.at("title").as_string() == "Runāt ar operatoru");
    CHECK(pb.at("payload").as_string() == "TALK_TO_AGENT");
  }
  SUBCASE("the second entry's message") {
    CHECK(res.messages[5].text == "Hello, I need help with a refund — 退款 please 🙏");
    CHECK(res.messages[5].sent_at == 1'795'341'627'110);
  }
}

TEST_CASE("a batch of receipts only is all ignored") {
  request r = fb.signed_post(batch(
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341621002,"delivery":{"mids":["m_1"],"watermark":1795341620330}},)"
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341622510,"read":{"watermark":1795341620330}},)"
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341622510,"optin":{"ref":"x"}},)"
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341622510,"referral":{"ref":"ad","source":"ADS","type":"OPEN_THREAD"}},)"
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341622510,"pass_thread_control":{"new_owner_app_id":"123"}})"));
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 5);
  // The receipts are statuses of what the page sent: the mid, and the watermarks for the
  // customer (sender "1" on page `page`).
  REQUIRE(res.statuses.size() == 3);
  CHECK(res.statuses[0].provider_id == "m_1");
  CHECK(res.statuses[0].status == "delivered");
  CHECK_FALSE(res.statuses[0].watermark_for);
  CHECK(res.statuses[1].provider_id.empty());
  CHECK(res.statuses[1].status == "delivered");
  CHECK(res.statuses[1].at == 1'795'341'620'330);
  CHECK(res.statuses[1].watermark_for == identity{"messenger", page + ":1"});
  CHECK(res.statuses[2].status == "read");
  CHECK(res.statuses[2].at == 1'795'341'620'330);
  CHECK(res.statuses[2].watermark_for == identity{"messenger", page + ":1"});
}

TEST_CASE("a receipt that cannot be read is skipped, not refused") {
  request r = fb.signed_post(batch(
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1795341621002,"delivery":{"mids":[7],"watermark":"soon"}},)"
      R"({"recipient":{"id":"2"},"timestamp":1795341622510,"read":{"watermark":1795341620330}})"));
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.statuses.empty());
  CHECK(res.ignored == 2);
}

TEST_CASE("standby events are the same messages while another app owns the thread") {
  request r =
      fb.signed_post(R"({"object":"page","entry":[{"id":")" + page + R"(","time":1,"standby":[)" +
                     message_event(R"({"mid":"m_sb1","text":"vai kāds te ir?"})") + "]}]}");
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 1);
  CHECK(res.messages[0].text == "vai kāds te ir?");
  CHECK(res.messages[0].extra.at("standby").as_bool());
}

TEST_CASE("unsent messages are ignored; unsupported ones are kept and marked") {
  // Meta's older documentation wrote the flag as the string "true" (nyaruka/courier#415).
  request r = fb.signed_post(batch(message_event(R"({"mid":"m_1","is_deleted":true})") + "," +
                                   message_event(R"({"mid":"m_1s","is_deleted":"true"})") + "," +
                                   message_event(R"({"mid":"m_2","is_unsupported":true})")));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 2);
  REQUIRE(res.messages.size() == 1);
  CHECK(res.messages[0].provider_id == "m_2");
  CHECK(res.messages[0].extra.at("unsupported").as_bool());
}

// A real "Get Started" postback has no mid (fbsamples/original-coast-clothing#19); where there is
// one, it names the message holding the button and repeats on every tap (Chatwoot's
// postback_builder.rb). Each tap is a message; Meta's retry of one tap is a duplicate.
TEST_CASE("every postback tap is its own message, with or without a mid") {
  const auto tap = [](const std::string& sender, long long ms, const std::string& postback) {
    return R"({"sender":{"id":")" + sender + R"("},"recipient":{"id":")" + page +
           R"("},"timestamp":)" + std::to_string(ms) + R"(,"postback":)" + postback + "}";
  };
  const std::string get_started =
      R"({"title":"Get Started","payload":"GET_STARTED","referral":{"ref":"winter","source":"SHORTLINK","type":"OPEN_THREAD"}})";
  const std::string menu = R"({"mid":"m_BUTTONS","title":"Talk to us","payload":"TALK"})";
  request r = fb.signed_post(
      batch(tap("101", 1795341600000, get_started) + "," + tap("102", 1795341600000, get_started) +
            "," + tap("101", 1795341700000, menu) + "," + tap("101", 1795341800000, menu)));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 4);
  std::set<std::string> ids;
  for (const auto& m : res.messages) {
    CHECK_FALSE(m.provider_id.empty());
    ids.insert(m.provider_id);
  }
  CHECK(ids.size() == 4);
  CHECK(res.messages[0].text == "Get Started");
  CHECK(res.messages[0].extra.at("referral").as_object().at("ref").as_string() == "winter");
  CHECK(res.messages[2].extra.at("postback").as_object().at("mid").as_string() == "m_BUTTONS");

  // An event with a message and a postback is the message (fuzz_channel_messenger found this
  // threw: fuzz/regressions/fuzz_channel_messenger/message-and-postback-in-one-event).
  request both = fb.signed_post(batch(
      R"({"sender":{"id":"101"},"recipient":{"id":")" + page +
      R"("},"timestamp":1795341900000,"message":{"mid":"m_BOTH","text":"hi"},"postback":{"title":"x"}})"));
  CHECK(only_message(accepted(both)).provider_id == "m_BOTH");

  // The same delivery again (Meta's retry): the same ids.
  request again = fb.signed_post(batch(tap("101", 1795341600000, get_started)));
  CHECK(accepted(again).messages.at(0).provider_id == res.messages[0].provider_id);
}

// A shared location as real payloads carried it (messenger4j#90, botframework-sdk#331).
TEST_CASE("a location attachment is the message's location, not a file") {
  request r = fb.signed_post(batch(message_event(
      R"({"mid":"m_LOC","attachments":[{"title":"Pizza Hut","url":"https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps","type":"location","payload":{"coordinates":{"lat":50.028785664162,"long":19.953454057473}}}]})")));
  const inbound_message m = only_message(accepted(r));
  CHECK(m.attachments.empty());
  CHECK(m.text == "Location: Pizza Hut (50.028786, 19.953454)");
  const auto& loc = m.extra.at("location").as_object();
  CHECK(loc.at("latitude").as_double() == doctest::Approx(50.028785664162));
  CHECK(loc.at("name").as_string() == "Pizza Hut");

  request pin = fb.signed_post(batch(message_event(
      R"({"mid":"m_PIN","attachments":[{"title":"Ann's Location","type":"location","payload":{"coordinates":{"lat":56.9,"long":24.1}}}]})")));
  CHECK(only_message(accepted(pin)).text == "Location: 56.900000, 24.100000");
  request named = fb.signed_post(batch(message_event(
      R"({"mid":"m_NAMED","attachments":[{"title":"Downtown Location","type":"location","payload":{"coordinates":{"lat":56.9,"long":24.1}}}]})")));
  CHECK(only_message(accepted(named)).text == "Location: Downtown Location (56.900000, 24.100000)");
}

TEST_CASE("an edited message is kept beside the original") {
  request r = fb.signed_post(batch(
      R"({"sender":{"id":"7034519946284417"},"recipient":{"id":")" + page +
      R"("},"timestamp":1795341640000,"message_edit":{"mid":"m_Rk3v","text":"Pasūtījums #4472, ne #4471","num_edit":1}})"));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 1);
  const inbound_message& m = res.messages[0];
  CHECK(m.provider_id == "m_Rk3v:edited:1");
  CHECK(m.text == "Pasūtījums #4472, ne #4471");
  CHECK(m.extra.at("edited").as_bool());
  CHECK(m.extra.at("original_id").as_string() == "m_Rk3v");
}

TEST_CASE("a chat-plugin guest without a PSID is known by user_ref") {
  request r =
      fb.signed_post(batch(R"({"sender":{"user_ref":"guest-8812"},"recipient":{"id":")" + page +
                           R"("},"timestamp":1795341600125,"message":{"mid":"m_g","text":"hi"}})"));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 1);
  CHECK(res.messages[0].identities.front().value == page + ":guest-8812");
}

TEST_CASE("timestamps in seconds (Meta's dashboard test events) are read as seconds") {
  request r = fb.signed_post(batch(
      R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":"1795341600","message":{"mid":"m","text":"t"}})"));
  CHECK(accepted(r).messages.at(0).sent_at == 1'795'341'600'000);
}

TEST_CASE("text escapes and unicode are kept") {
  request r = fb.signed_post(batch(message_event(
      R"({"mid":"m_u","text":"r\u0113\u0137ins \ud83e\uddfe \"x\"\n日本語 👨‍👩‍👧"})")));
  CHECK(accepted(r).messages.at(0).text == "rēķins 🧾 \"x\"\n日本語 👨‍👩‍👧");
}

TEST_CASE("fallback and template attachments") {
  request r = fb.signed_post(batch(message_event(
      R"({"mid":"m_f","attachments":[)"
      R"({"type":"fallback","title":"Zilais Veikals — ziemas kolekcija","url":"https://l.facebook.com/l.php?u=https%3A%2F%2Fzilais.example","payload":null},)"
      R"({"type":"template","payload":{"template_type":"generic","elements":[{"title":"Jaka","buttons":[{"type":"postback","title":"Pirkt","payload":"BUY"}]}]}},)"
      R"({"type":"audio","payload":{"url":"https://cdn.fbsbx.com/v/t59.3654-21/audioclip-1795341600-4711.mp4?_nc_cat=1"}},)"
      R"({"type":"sticker","payload":{"url":"https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png","sticker_id":369239263222822}}]})")));
  const inbound_message m = accepted(r).messages.at(0);
  REQUIRE(m.attachments.size() == 4);
  CHECK(m.attachments[0].name == "Zilais Veikals — ziemas kolekcija");
  CHECK(m.attachments[0].url == "https://l.facebook.com/l.php?u=https%3A%2F%2Fzilais.example");
  CHECK(m.attachments[0].fetch_kind.empty());  // a shared link, not a file
  CHECK(m.attachments[1].name == "template");
  CHECK(m.attachments[1].url.empty());
  CHECK(m.attachments[1].fetch_kind.empty());
  CHECK(m.attachments[2].name == "audioclip-1795341600-4711.mp4");
  CHECK(m.attachments[2].content_type == "video/mp4");
  CHECK(m.attachments[2].fetch_kind == "url");
  CHECK(m.attachments[2].fetch_ref ==
        "https://cdn.fbsbx.com/v/t59.3654-21/audioclip-1795341600-4711.mp4?_nc_cat=1");
  CHECK(m.attachments[3].content_type == "image/png");
  CHECK(m.attachments[3].fetch_kind == "url");
}

// ---- page comments -------------------------------------------------------------------------

TEST_CASE("page comments are public messages") {
  request r = fb.signed_post(fb.fixture("feed_comments.json"));
  const parse_result res = accepted(r);
  // remove, a reaction, and a ratings change are not messages
  CHECK(res.ignored == 3);
  REQUIRE(res.messages.size() == 4);

  SUBCASE("a customer's comment") {
    const inbound_message& m = res.messages[0];
    CHECK(m.visibility == "public");
    CHECK(m.direction == "inbound");
    CHECK(m.provider_id == "912345678901234_1187364529018273");
    CHECK(m.identities == std::vector<identity>{{"messenger", page + ":6120918273645512"}});
    CHECK(m.sender_name == "Līga Ozola");
    CHECK(m.text == "Kad būs pieejams zilais izmērs M? 💙");
    CHECK(m.sent_at == 1'795'341'690'000);
    CHECK(m.recipient == page);
    const auto& post = m.extra.at("post").as_object();
    CHECK(post.at("post_id").as_string() == "104872915532871_912345678901234");
    CHECK(post.at("comment_id").as_string() == "912345678901234_1187364529018273");
    // A top-level comment answers the post, not another comment.
    CHECK_FALSE(m.extra.contains("reply_to"));
  }
  SUBCASE("the page's own reply is outbound") {
    const inbound_message& m = res.messages[1];
    CHECK(m.direction == "outbound");
    CHECK(m.visibility == "public");
    CHECK(m.identities == std::vector<identity>{{"messenger", page + ":" + page}});
    CHECK(m.sender_name.empty());
    CHECK(m.extra.at("reply_to").as_string() == "912345678901234_1187364529018273");
  }
  SUBCASE("an edit is a message of its own, with a provider id of its own") {
    const inbound_message& m = res.messages[2];
    CHECK(m.text == "Kad būs pieejams zilais izmērs M vai L? 💙");
    CHECK(m.provider_id.starts_with("912345678901234_1187364529018273:edited:"));
    CHECK(m.provider_id != res.messages[0].provider_id);
    CHECK(m.extra.at("edited").as_bool());
    CHECK(m.extra.at("original_id").as_string() == "912345678901234_1187364529018273");
    CHECK(m.extra.at("post").as_object().at("comment_id").as_string() ==
          "912345678901234_1187364529018273");
  }
  SUBCASE("a comment with a photo") {
    const inbound_message& m = res.messages[3];
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "470012345_broken_item.png");
    CHECK(m.attachments[0].content_type == "image/png");
  }
}

TEST_CASE("edits: Meta's retry of one edit is the same id, a second edit another") {
  const std::string v1 =
      R"({"from":{"id":"61","name":"A"},"message":"first edit","post_id":"1_2","comment_id":"2_3","created_time":1795341690,"item":"comment","verb":"edited"})";
  const std::string v2 =
      R"({"from":{"id":"61","name":"A"},"message":"second edit","post_id":"1_2","comment_id":"2_3","created_time":1795341690,"item":"comment","verb":"edited"})";
  request a = fb.signed_post(feed(v1));
  request b = fb.signed_post(feed(v1));
  request c = fb.signed_post(feed(v2));
  const std::string id_a = accepted(a).messages.at(0).provider_id;
  CHECK(id_a == accepted(b).messages.at(0).provider_id);
  CHECK(id_a != accepted(c).messages.at(0).provider_id);
}

TEST_CASE("hidden comments and other feed items are ignored") {
  for (const std::string value :
       {R"({"item":"comment","verb":"hide","comment_id":"2_3","post_id":"1_2"})",
        R"({"item":"comment","verb":"remove","comment_id":"2_3","post_id":"1_2"})",
        R"({"item":"status","verb":"add","post_id":"1_2","message":"page post"})",
        R"({"item":"like","verb":"add","post_id":"1_2"})",
        R"({"item":"share","verb":"add","post_id":"1_2"})"}) {
    CAPTURE(value);
    request r = fb.signed_post(feed(value));
    const parse_result res = accepted(r);
    CHECK(res.messages.empty());
    CHECK(res.ignored == 1);
  }
}

TEST_CASE("a comment without from is an unknown customer of its own") {
  request r = fb.signed_post(feed(
      R"({"item":"comment","verb":"add","comment_id":"2_3","post_id":"1_2","message":"?","created_time":1795341690})"));
  const inbound_message m = accepted(r).messages.at(0);
  CHECK(m.identities == std::vector<identity>{{"messenger", page + ":comment:2_3"}});
  CHECK(m.direction == "inbound");
  CHECK(m.text == "?");
}

// ---- malformed events ----------------------------------------------------------------------

TEST_CASE("an event that cannot be read is kept, naming the field") {
  const std::pair<std::string, std::string_view> cases[] = {
      {batch(R"("x")"), "field entry[0].messaging[0] must be an object"},
      {batch(R"({"recipient":{"id":"2"},"timestamp":1,"message":{"mid":"m","text":"t"}})"),
       "field entry[0].messaging[0].sender is required"},
      {batch(R"({"sender":{},"recipient":{"id":"2"},"message":{"mid":"m","text":"t"}})"),
       "field entry[0].messaging[0].sender.id is required"},
      {batch(R"({"sender":{"id":"1"},"recipient":"2","message":{"mid":"m","text":"t"}})"),
       "field entry[0].messaging[0].recipient must be an object"},
      {batch(R"({"sender":{"id":true},"recipient":{"id":"2"},"message":{"mid":"m"}})"),
       "field entry[0].messaging[0].sender.id must be a string"},
      {batch(message_event(R"("hello")")), "field entry[0].messaging[0].message must be an object"},
      {batch(message_event(R"({"mid":"m","text":5})")),
       "field entry[0].messaging[0].message.text must be a string"},
      {batch(message_event(R"({"mid":"m","is_echo":"yes"})")),
       "field entry[0].messaging[0].message.is_echo must be true or false"},
      {batch(message_event(R"({"mid":"m","attachments":{}})")),
       "field entry[0].messaging[0].message.attachments must be an array"},
      {batch(message_event(R"({"mid":"m","attachments":[{"type":"image","payload":{"url":7}}]})")),
       "field entry[0].messaging[0].message.attachments[0].payload.url must be a string"},
      {batch(message_event(R"({"mid":"m","reply_to":{"mid":[]}})")),
       "field entry[0].messaging[0].message.reply_to.mid must be a string"},
      {batch(
           R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":"yesterday","message":{"mid":"m"}})"),
       "field entry[0].messaging[0].timestamp must be a unix time (an integer)"},
      {batch(
           R"({"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1,"message_edit":{"text":"x"}})"),
       "field entry[0].messaging[0].message_edit.mid is required"},
      {batch(message_event(R"({"mid":")" + std::string(257, 'm') + R"("})")),
       "field entry[0].messaging[0].message.mid must be at most 256 bytes"},
      {feed(R"({"item":"comment","verb":"add","post_id":"1_2"})"),
       "field entry[0].changes[0].value.comment_id is required"},
      {feed(R"({"item":"comment","verb":"add","comment_id":"2_3","from":{"name":"x"}})"),
       "field entry[0].changes[0].value.from.id is required"},
      {feed(R"({"item":"comment","verb":"add","comment_id":"2_3","created_time":"2026-11-22"})"),
       "field entry[0].changes[0].value.created_time must be a unix time (an integer)"},
      {R"({"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":"x"}]}]})",
       "field entry[0].changes[0].value must be an object"},
  };
  for (const auto& [body, detail] : cases) {
    CAPTURE(body);
    request r = fb.signed_post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.reason == detail);
    CHECK(u.path == (detail.find("messaging[0]") != std::string_view::npos
                         ? "entry[0].messaging[0]"
                         : "entry[0].changes[0]"));
  }
}

TEST_CASE("truncated bodies are malformed, not half-read") {
  const std::string full = fb.fixture("messaging_batch.json");
  for (std::size_t cut : {full.size() / 4, full.size() / 2, full.size() - 2}) {
    CAPTURE(cut);
    request r = fb.signed_post(full.substr(0, cut));
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "body is not valid JSON (UTF-8)");
  }
}

TEST_CASE("at most 100 attachments per message") {
  std::string list;
  for (int i = 0; i < 101; ++i)
    list += (i ? "," : "") + R"({"type":"image","payload":{"url":"https://x.example/a.jpg"}})"s;
  request r = fb.signed_post(batch(message_event(R"({"mid":"m","attachments":[)" + list + "]}")));
  CHECK(kept_unreadable(receive(r)).reason ==
        "field entry[0].messaging[0].message.attachments has more than 100 entries");
}

TEST_CASE("signature failures on a real batch") {
  request r = fb.signed_post(fb.fixture("messaging_batch.json"));
  SUBCASE("signed by another app") {
    r = fb.signed_post(fb.fixture("messaging_batch.json"), other_secret);
    CHECK(refused(r).code == errc::bad_signature);
  }
  SUBCASE("one event removed after signing") {
    const auto at = r.body.find("\"reaction\"");
    r.body.replace(at, 10, "\"reactio_\"");
    CHECK(refused(r).detail == "signature does not match");
  }
  SUBCASE("rotated: the new secret listed first, Meta still signing with the old one") {
    const channel_config rotating = fb.config({"new-app-secret-0123456789abcdef", app_secret});
    CHECK(accepted(r, rotating).messages.size() == 6);
  }
}

}  // namespace
}  // namespace sb
