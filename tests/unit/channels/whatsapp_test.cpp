#include "channels/whatsapp/whatsapp.hpp"

#include "channels/meta/meta.hpp"
#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sb {
namespace {

using namespace fixtures;

const std::string app_secret = "5b1f0e3d2c9a8b7f6e5d4c3b2a190817";
const std::string business = "15550783881";

const meta_test_channel wa{"wa-support", "whatsapp", app_secret, "wa-verify-918"};

SB_ADAPTER_STEPS(make_whatsapp_adapter, wa.config(), whole_result, refusal)

// One message in one change of one entry.
std::string one(const std::string& message, const std::string& field = "messages",
                const std::string& list = "messages") {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":")" +
         field +
         R"(","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ann Lee"},"wa_id":"15550102000"}],")" +
         list + R"(":[)" + message + "]}}]}]}";
}

const std::vector<identity> ann{{"whatsapp", "15550102000"}, {"phone", "+15550102000"}};

TEST_CASE("a batch of text messages from two senders; statuses and templates ignored") {
  request r = wa.signed_post(wa.fixture("text_batch.json"));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 3);  // two statuses, one template status update
  REQUIRE(res.messages.size() == 2);

  const inbound_message& m = res.messages[0];
  CHECK(m.provider_id == "wamid.HBgLMzcxMjYxMjM0NTYVAgASGBQzQUI0RjE2QTlBNzE3QjQ1QjdEMQA=");
  CHECK(m.text == "Labdien! Kad atvērsiet veikalu Rīgā? 🛍️");
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.identities ==
        std::vector<identity>{{"whatsapp", "37126123456"}, {"phone", "+37126123456"}});
  CHECK(m.recipient == business);
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK(m.sent_at == 1'795'341'600'000);
  const auto& wa = m.extra.at("whatsapp").as_object();
  CHECK(wa.at("type").as_string() == "text");
  CHECK(wa.at("phone_number_id").as_string() == "106540352242922");
  CHECK_FALSE(wa.contains("media_ids"));

  const inbound_message& reply = res.messages[1];
  CHECK(reply.sender_name == "Ann Lee");
  CHECK(reply.identities == ann);
  CHECK(reply.extra.at("reply_to").as_string() ==
        "wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
}

TEST_CASE("media, location, interactive replies, buttons, stickers; reactions ignored") {
  request r = wa.signed_post(wa.fixture("media_batch.json"));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 1);  // the reaction
  REQUIRE(res.messages.size() == 9);
  for (const auto& m : res.messages) CHECK(m.identities == ann);

  SUBCASE("an image with a caption") {
    const inbound_message& m = res.messages[0];
    CHECK(m.text == "Bojātā kaste 📦");
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "image");
    CHECK(m.attachments[0].content_type == "image/jpeg");
    CHECK(m.attachments[0].url.empty());
    CHECK_FALSE(m.attachments[0].size.has_value());
    CHECK(m.attachments[0].fetch_kind == "whatsapp");  // fetched by its media id
    CHECK(m.attachments[0].fetch_ref == "1208364939724125");
    const auto& wa = m.extra.at("whatsapp").as_object();
    CHECK(wa.at("type").as_string() == "image");
    CHECK(wa.at("media_ids").as_array() == boost::json::array{"1208364939724125"});
  }
  SUBCASE("a document keeps its file name") {
    const inbound_message& m = res.messages[1];
    CHECK(m.text.empty());
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].name == "rēķins-4471.pdf");
    CHECK(m.attachments[0].content_type == "application/pdf");
    CHECK(m.attachments[0].fetch_kind == "whatsapp");
    CHECK(m.attachments[0].fetch_ref == "871203948571029");
  }
  SUBCASE("a voice note") {
    const inbound_message& m = res.messages[2];
    CHECK(m.attachments.at(0).name == "audio");
    CHECK(m.attachments.at(0).content_type == "audio/ogg; codecs=opus");
  }
  SUBCASE("a location") {
    const inbound_message& m = res.messages[3];
    CHECK(m.text ==
          "Location: Rīgas Centrāltirgus, Nēģu iela 7, Rīga, LV-1050 (56.949600, 24.105200)");
    CHECK(m.generated_text_from == 0);  // Switchboard's wording: no language from it
    const auto& loc = m.extra.at("location").as_object();
    CHECK(loc.at("latitude").as_double() == doctest::Approx(56.9496));
    CHECK(loc.at("longitude").as_double() == doctest::Approx(24.1052));
    CHECK(loc.at("name").as_string() == "Rīgas Centrāltirgus");
  }
  SUBCASE("a reply button") {
    const inbound_message& m = res.messages[4];
    CHECK(m.text == "Jā, atmaksāt");
    const auto& in = m.extra.at("interactive").as_object();
    CHECK(in.at("type").as_string() == "button_reply");
    CHECK(in.at("id").as_string() == "refund_yes");
    CHECK(m.extra.at("reply_to").as_string() ==
          "wamid.HBgLMTU1NTAxMDIwMDAVAgARGBJCUVRUT05NRVNTQUdFMDAwMQA=");
  }
  SUBCASE("a list row") {
    const inbound_message& m = res.messages[5];
    CHECK(m.text == "Otrdien 14:00");
    const auto& in = m.extra.at("interactive").as_object();
    CHECK(in.at("type").as_string() == "list_reply");
    CHECK(in.at("id").as_string() == "slot_2");
    CHECK(in.at("description").as_string() == "Piegāde no 14:00 līdz 16:00");
  }
  SUBCASE("a template's quick-reply button") {
    const inbound_message& m = res.messages[6];
    CHECK(m.text == "Call me back");
    const auto& in = m.extra.at("interactive").as_object();
    CHECK(in.at("type").as_string() == "button");
    CHECK(in.at("id").as_string() == "CALLBACK_REQUEST");
  }
  SUBCASE("a sticker") { CHECK(res.messages[7].attachments.at(0).content_type == "image/webp"); }
  SUBCASE("an unsupported message is kept and marked") {
    const inbound_message& m = res.messages[8];
    CHECK(m.extra.at("unsupported").as_bool());
    CHECK(m.text.empty());
  }
}

TEST_CASE("statuses are no messages; they report on the business's sent messages") {
  request r = wa.signed_post(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"1"},"statuses":[)"
      R"({"id":"wamid.A","status":"sent","timestamp":"1795341606","recipient_id":"15550102000"},)"
      R"({"id":"wamid.A","status":"delivered","timestamp":"1795341607","recipient_id":"15550102000"},)"
      R"({"id":"wamid.B","status":"read","timestamp":"1795341608","recipient_id":"15550102000"},)"
      R"({"id":"wamid.A","status":"failed","timestamp":"1795341608","recipient_id":"15550102000","errors":[{"code":131047,"title":"Re-engagement message","error_data":{"details":"More than 24 hours"}}]},)"
      R"({"id":"wamid.C","status":"deleted","timestamp":"1795341609"},)"
      R"({"status":"read","timestamp":"1795341609"},)"
      R"("not an object"]}}]}]})");
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 7);
  CHECK(res.unreadable.empty());  // a receipt that cannot be read is skipped, not kept
  REQUIRE(res.statuses.size() == 4);
  CHECK(res.statuses[0].provider_id == "wamid.A");
  CHECK(res.statuses[0].status == "sent");
  CHECK(res.statuses[0].at == 1'795'341'606'000);
  CHECK(res.statuses[1].status == "delivered");
  CHECK(res.statuses[2].provider_id == "wamid.B");
  CHECK(res.statuses[2].status == "read");
  CHECK(res.statuses[3].status == "failed");
  CHECK(res.statuses[3].reason == "(#131047) Re-engagement message: More than 24 hours");
}

TEST_CASE("the business's own messages from the WhatsApp Business app are outbound") {
  request r = wa.signed_post(one(
      R"({"from":"15550783881","to":"15550102000","id":"wamid.ECHO1","timestamp":"1795341620","type":"text","text":{"body":"Sveiki, Ann!"}})",
      "smb_message_echoes", "message_echoes"));
  const inbound_message m = accepted(r).messages.at(0);
  CHECK(m.direction == "outbound");
  CHECK(m.identities == ann);
  CHECK(m.sender_name.empty());
  CHECK(m.text == "Sveiki, Ann!");
}

TEST_CASE("a sender id that is not a phone number is a whatsapp identity only") {
  request r = wa.signed_post(one(
      R"({"from":"US.13491208655302741918","id":"wamid.U1","timestamp":"1795341620","type":"text","text":{"body":"hi"}})"));
  const inbound_message m = accepted(r).messages.at(0);
  CHECK(m.identities == std::vector<identity>{{"whatsapp", "US.13491208655302741918"}});
}

TEST_CASE("forwarded messages, ad referrals, shared contacts, unknown types") {
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.F1","timestamp":"1795341620","type":"text","text":{"body":"skaties"},"context":{"forwarded":true},)"
      R"("referral":{"source_url":"https://fb.me/abc","source_type":"ad","source_id":"120212345","headline":"Ziemas izpārdošana"}},)"
      R"({"from":"15550102000","id":"wamid.C1","timestamp":"1795341621","type":"contacts","contacts":[{"name":{"formatted_name":"Pēteris Liepa","first_name":"Pēteris"},"phones":[{"phone":"+371 2000 0000","type":"CELL"}]}]},)"
      R"({"from":"15550102000","id":"wamid.O1","timestamp":"1795341622","type":"order","order":{"catalog_id":"1","product_items":[]}})"));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 3);
  CHECK(res.messages[0].extra.at("forwarded").as_bool());
  CHECK_FALSE(res.messages[0].extra.contains("reply_to"));
  CHECK(res.messages[0].extra.at("referral").as_object().at("source_type").as_string() == "ad");
  CHECK(res.messages[1].extra.at("contacts").as_array().size() == 1);
  CHECK(res.messages[1].text == "Contact: Pēteris Liepa, +371 2000 0000");
  CHECK(res.messages[2].extra.at("whatsapp").as_object().at("type").as_string() == "order");
}

// Shapes from Meta's webhook reference (messages/order, messages/location) and pywa's fixtures.
TEST_CASE("an order keeps its items, as data and as text; an unnamed pin is its coordinates") {
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.ORD","timestamp":"1795341622","type":"order","order":{"catalog_id":"354160437058781","text":"Ar piegādi, lūdzu","product_items":[)"
      R"({"product_retailer_id":"HAMBURGER","quantity":3,"item_price":30,"currency":"EUR"},)"
      R"({"product_retailer_id":"SODA","quantity":2,"item_price":1.5,"currency":"EUR"}]}},)"
      R"({"from":"15550102000","id":"wamid.PIN","timestamp":"1795341623","type":"location","location":{"latitude":56.9496,"longitude":24.1052}})"));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 2);
  const inbound_message& order = res.messages[0];
  CHECK(order.text == "Ar piegādi, lūdzu\n3 × HAMBURGER (30 EUR)\n2 × SODA (1.5 EUR)");
  CHECK(order.generated_text_from == std::string("Ar piegādi, lūdzu\n").size());
  CHECK(order.extra.at("order").as_object().at("product_items").as_array().size() == 2);
  CHECK(res.messages[1].text == "Location: 56.949600, 24.105200");
}

// Meta's "Business-scoped user IDs" page: a user who adopted a username may come with
// from_user_id (a BSUID) and no from; contacts[] then has user_id and no wa_id.
TEST_CASE("business-scoped user ids: with and without the phone number") {
  const auto batch = [](const std::string& contact, const std::string& message) {
    return R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"1"},"contacts":[)" +
           contact + R"(],"messages":[)" + message + "]}}]}]}";
  };
  SUBCASE("both: every identity, the number first") {
    request r = wa.signed_post(batch(
        R"({"profile":{"name":"Ann Lee"},"wa_id":"15550102000","user_id":"US.13491208655302741918"})",
        R"({"from":"15550102000","from_user_id":"US.13491208655302741918","id":"wamid.B1","timestamp":"1795341620","type":"text","text":{"body":"hi"}})"));
    const inbound_message m = only_message(accepted(r));
    CHECK(m.identities == std::vector<identity>{{"whatsapp", "15550102000"},
                                                {"phone", "+15550102000"},
                                                {"whatsapp_bsuid", "US.13491208655302741918"}});
    CHECK(m.sender_name == "Ann Lee");
  }
  SUBCASE("no number: the BSUID is the sender, the contact found by it") {
    request r = wa.signed_post(batch(
        R"({"profile":{"name":"Sheena Nelson","username":"@realsheenanelson"},"user_id":"US.13491208655302741918","parent_user_id":"US.ENT.11815799212886844830"})",
        R"({"from_user_id":"US.13491208655302741918","from_parent_user_id":"US.ENT.11815799212886844830","id":"wamid.B2","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}})"));
    const inbound_message m = only_message(accepted(r));
    CHECK(m.identities == std::vector<identity>{{"whatsapp_bsuid", "US.13491208655302741918"}});
    CHECK(m.sender_name == "Sheena Nelson");
    CHECK(m.extra.at("whatsapp").as_object().at("username").as_string() == "@realsheenanelson");
  }
  SUBCASE("an echo to a BSUID") {
    request r = wa.signed_post(one(
        R"({"from":"15550783881","to_user_id":"US.13491208655302741918","id":"wamid.E2","timestamp":"1795341620","type":"text","text":{"body":"Yes, in blue"}})",
        "smb_message_echoes", "message_echoes"));
    const inbound_message m = only_message(accepted(r));
    CHECK(m.direction == "outbound");
    CHECK(m.identities == std::vector<identity>{{"whatsapp_bsuid", "US.13491208655302741918"}});
  }
}

// Issue #18: the senders' profiles are indexed (a batch of thousands of messages and profiles
// was quadratic): each message still finds the first profile naming its sender.
TEST_CASE("a batch of many senders: each message gets its own sender's profile, the first one") {
  std::string contacts, messages;
  for (int i = 0; i < 300; ++i) {
    const std::string wa = std::to_string(15550100000 + i);
    contacts +=
        R"({"profile":{"name":"Sender )" + std::to_string(i) + R"("},"wa_id":")" + wa + R"("},)";
    messages += R"({"from":")" + wa + R"(","id":"wamid.M)" + std::to_string(i) +
                R"(","timestamp":"1795341620","type":"text","text":{"body":"hi"}},)";
  }
  // A second profile of sender 7 (ignored: the first wins), and one found only by its BSUID,
  // listed before the profile with its number.
  contacts += R"({"profile":{"name":"Not this one"},"wa_id":"15550100007"},)";
  contacts += R"({"profile":{"name":"By BSUID"},"user_id":"US.1"},)";
  contacts += R"({"profile":{"name":"By number"},"wa_id":"15550999999"})";
  messages +=
      R"({"from":"15550999999","from_user_id":"US.1","id":"wamid.B","timestamp":"1795341620","type":"text","text":{"body":"hi"}})";
  request r = wa.signed_post(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"1"},"contacts":[)" +
      contacts + R"(],"messages":[)" + messages + "]}}]}]}");
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 301);
  for (int i = 0; i < 300; ++i) CHECK(res.messages[i].sender_name == "Sender " + std::to_string(i));
  CHECK(res.messages[300].sender_name == "By BSUID");
}

// Meta's webhook reference, messages/edit and messages/revoke (WhatsApp Business app numbers).
TEST_CASE("edits are stored beside the original; revokes and reactions are not messages") {
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.EDIT1","timestamp":"1795341630","type":"edit","edit":{"original_message_id":"wamid.ORIG","message":{"type":"text","text":{"body":"see you at 7, not 6"}}}},)"
      R"({"from":"15550102000","id":"wamid.EDIT2","timestamp":"1795341631","type":"edit","edit":{"original_message_id":"wamid.IMG","message":{"type":"image","image":{"id":"1234567890","mime_type":"image/jpeg","caption":"the right box"}}}},)"
      R"({"from":"15550102000","id":"wamid.REV","timestamp":"1795341632","type":"revoke","revoke":{"original_message_id":"wamid.ORIG"}},)"
      R"({"from":"15550102000","id":"wamid.REA","timestamp":"1795341633","type":"reaction","reaction":{"message_id":"wamid.ORIG"}})"));
  const parse_result res = accepted(r);
  CHECK(res.ignored == 2);
  REQUIRE(res.messages.size() == 2);
  CHECK(res.messages[0].provider_id == "wamid.EDIT1");
  CHECK(res.messages[0].text == "see you at 7, not 6");
  CHECK(res.messages[0].extra.at("edited").as_bool());
  CHECK(res.messages[0].extra.at("original_id").as_string() == "wamid.ORIG");
  CHECK(res.messages[1].text == "the right box");
  CHECK(res.messages[1].attachments.size() == 1);
  CHECK(res.messages[1].extra.at("whatsapp").as_object().at("media_ids").as_array().size() == 1);

  SUBCASE("the business's own edit, from the app, is an outbound edit") {
    request e = wa.signed_post(one(
        R"({"from":"15550783881","to":"15550102000","id":"wamid.EE","timestamp":"1795341640","type":"edit","edit":{"original_message_id":"wamid.ECHO1","message":{"type":"text","text":{"body":"Text was edited"}}}},)"
        R"({"from":"15550783881","to":"15550102000","id":"wamid.ER","timestamp":"1795341641","type":"revoke","revoke":{"original_message_id":"wamid.ECHO1"}})",
        "smb_message_echoes", "message_echoes"));
    const parse_result echoes = accepted(e);
    CHECK(echoes.ignored == 1);
    const inbound_message m = echoes.messages.at(0);
    CHECK(m.direction == "outbound");
    CHECK(m.text == "Text was edited");
    CHECK(m.extra.at("edited").as_bool());
  }
}

// Meta's webhook reference, messages/group: group_id on the message.
TEST_CASE("a group message is public and names its group") {
  request r = wa.signed_post(one(
      R"({"from":"15550102000","group_id":"Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD","id":"wamid.G1","timestamp":"1795341620","type":"text","text":{"body":"Hi everyone"}})"));
  const inbound_message m = only_message(accepted(r));
  CHECK(m.visibility == "public");
  CHECK(m.identities == ann);
  CHECK(m.extra.at("whatsapp").as_object().at("group_id").as_string() ==
        "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD");
}

TEST_CASE("system notices and welcome requests are not messages") {
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.S1","timestamp":"1795341620","type":"system","system":{"body":"User A changed from 15550102000 to 15550102001","wa_id":"15550102001","type":"user_changed_number"}},)"
      R"({"from":"15550102000","id":"wamid.W1","timestamp":"1795341620","type":"request_welcome"})"));
  const parse_result res = accepted(r);
  CHECK(res.messages.empty());
  CHECK(res.ignored == 2);
}

TEST_CASE("an unreadable whatsapp event is kept, naming the field; the rest of the batch is read") {
  const std::string at = "entry[0].changes[0].value.messages[0]";
  const std::string field = "field " + at + ".";
  // {body, path of the event kept, reason}
  const std::tuple<std::string, std::string, std::string> cases[] = {
      {one(R"({"id":"wamid.1","timestamp":"1","type":"text","text":{"body":"x"}})"), at,
       field + "from (or " + field.substr(6) + "from_user_id) is required"},
      {one(R"({"from":"15550102000","timestamp":"1","type":"text","text":{"body":"x"}})"), at,
       field + "id is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1"})"), at,
       field + "type is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"soon","type":"text","text":{"body":"x"}})"),
       at, field + "timestamp must be a unix time (an integer)"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"text"})"), at,
       field + "text is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"text","text":{"body":1}})"),
       at, field + "text.body must be a string"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"image","image":{"mime_type":"image/jpeg"}})"),
       at, field + "image.id is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"location","location":{"latitude":"56.9","longitude":24.1}})"),
       at, field + "location.latitude must be a number"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"location","location":{"longitude":24.1}})"),
       at, field + "location.latitude is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"location","location":{"latitude":91,"longitude":24.1}})"),
       at, field + "location holds coordinates out of range"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"interactive","interactive":{"button_reply":{}}})"),
       at, field + "interactive.type is required"},
      // WhatsApp Web reconnects resend an interactive message without its object (pywa's
      // fixture interactive_message_with_err).
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"interactive"})"), at,
       field + "interactive is required"},
      {one(R"({"from":"15550102000","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"x"},"context":"wamid.0"})"),
       at, field + "context must be an object"},
      {one(R"({"from":"15550\u000102000","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"x"}})"),
       at, field + "from contains a control character"},
      {one(R"("wamid.1")"), at, "field " + at + " must be an object"},
      {R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":{}}}]}]})",
       "entry[0].changes[0]", "field entry[0].changes[0].value.messages must be an array"},
      {R"({"object":"whatsapp_business_account","entry":[{"changes":{}}]})", "entry[0]",
       "field entry[0].changes must be an array"},
  };
  for (const auto& [body, path, reason] : cases) {
    CAPTURE(body);
    request r = wa.signed_post(body);
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == path);
    CHECK(u.reason == reason);
    CHECK_FALSE(u.event.empty());  // the event's JSON, for the operator who looks at it
  }

  // The messages beside an unreadable one are stored: one event never costs the others.
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.OK1","timestamp":"1795341605","type":"text","text":{"body":"first"}},)"
      R"({"from":"15550102000","id":"wamid.BAD","timestamp":"1795341606","type":"interactive"},)"
      R"({"from":"15550102000","id":"wamid.OK2","timestamp":"1795341607","type":"text","text":{"body":"third"}})"));
  const parse_result res = accepted(r);
  REQUIRE(res.messages.size() == 2);
  CHECK(res.messages[0].text == "first");
  CHECK(res.messages[1].text == "third");
  REQUIRE(res.unreadable.size() == 1);
  CHECK(res.unreadable[0].path == "entry[0].changes[0].value.messages[1]");
  CHECK(res.unreadable[0].event.find("wamid.BAD") != std::string::npos);
}

TEST_CASE("envelopes that are not WhatsApp's are refused") {
  request r = wa.signed_post(R"({"object":"page","entry":[]})");
  const error e = refused(r);
  CHECK(e.code == errc::malformed);
  CHECK(e.detail ==
        "field object is \"page\"; channel type whatsapp takes \"whatsapp_business_account\"");
}

TEST_CASE("a contact profile that cannot be read costs its name, not the message") {
  request r = wa.signed_post(
      R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"contacts":[{"wa_id":"15550102000","profile":{"name":5}}],"messages":[{"from":"15550102000","id":"wamid.N","timestamp":"1","type":"text","text":{"body":"hi"}}]}}]}]})");
  const inbound_message m = only_message(accepted(r));
  CHECK(m.text == "hi");
  CHECK(m.sender_name.empty());
}

TEST_CASE("truncated bodies are malformed") {
  const std::string full = wa.fixture("media_batch.json");
  for (std::size_t cut : {std::size_t{1}, full.size() / 3, full.size() - 3}) {
    CAPTURE(cut);
    request r = wa.signed_post(full.substr(0, cut));
    CHECK(refused(r).detail == "body is not valid JSON (UTF-8)");
  }
}

TEST_CASE("a message near WhatsApp's size limit is read whole") {
  const std::string text(2'500'000, 'a');
  request r = wa.signed_post(one(
      R"({"from":"15550102000","id":"wamid.BIG","timestamp":"1795341620","type":"text","text":{"body":")" +
      text + R"("}})"));
  CHECK(accepted(r).messages.at(0).text.size() == text.size());
}

TEST_CASE("whatsapp signature failures") {
  request r = wa.signed_post(wa.fixture("text_batch.json"));
  SUBCASE("wrong app") {
    r = wa.signed_post(wa.fixture("text_batch.json"), "an-entirely-different-app-secret");
    CHECK(refused(r).code == errc::bad_signature);
  }
  SUBCASE("a status flipped after signing") {
    const auto pos = r.body.find("\"delivered\"");
    r.body.replace(pos, 11, "\"failed!!!\"");
    CHECK(refused(r).detail == "signature does not match");
  }
  SUBCASE("rotated secrets") {
    CHECK(accepted(r, wa.config({"the-new-secret-00112233445566", app_secret})).messages.size() ==
          2);
  }
}

}  // namespace
}  // namespace sb
