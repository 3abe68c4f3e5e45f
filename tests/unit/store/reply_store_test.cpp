// Agents' replies in the store (store.hpp, reply_request): the thread, the delivery row, the
// idempotency key, the channel and the message answered, the providers' windows, and the
// refusals that write nothing.
#include "store/reader.hpp"
#include "store/writer.hpp"
#include "store_fixture.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <future>
#include <set>
#include <utility>

using namespace sb;
using namespace sb::test;

namespace {

constexpr millis hour = 60 * minute;

reply text_reply(std::string conversation, std::string text) {
  reply r;
  r.conversation_id = std::move(conversation);
  r.text = std::move(text);
  r.agent = {"a-7", "Ieva"};
  return r;
}

std::shared_ptr<const reply_channels> sending(reply_channels c) {
  return std::make_shared<const reply_channels>(std::move(c));
}

const auto chat_sends = sending({{"web-chat", {"chat"}}});

ingest_request reply_request_at(millis at, reply r, std::string key,
                                std::shared_ptr<const reply_channels> channels = chat_sends) {
  ingest_request req;
  req.received_at = at;
  req.reply = reply_request{std::move(r), std::move(key), std::move(channels), {}, {}};
  return req;
}

// A message of the customer's on another channel (`type`), from `identity`.
ingest_request on_channel(millis at, std::string channel, std::string type, std::string id,
                          identity from, std::string text = "hello") {
  inbound_message m;
  m.provider_id = std::move(id);
  m.identities.push_back(std::move(from));
  m.text = std::move(text);
  ingest_request r = request(at, {m});
  r.channel = std::move(channel);
  r.channel_type = std::move(type);
  return r;
}

struct reply_fixture : fixture {
  result<ingest_outcome> send(ingest_request r) {
    ingest_request* p = &r;
    auto res = store->commit(std::span<ingest_request* const>(&p, 1), {});
    REQUIRE(res.outcomes.size() == 1);
    return std::move(res.outcomes[0]);
  }
  reply_receipt sent(ingest_request r) {
    auto out = send(std::move(r));
    INFO((out ? std::string() : out.error().detail));
    REQUIRE(out.has_value());
    REQUIRE(out->reply.has_value());
    return *out->reply;
  }
  error refused(ingest_request r) {
    auto out = send(std::move(r));
    REQUIRE_FALSE(out.has_value());
    return out.error();
  }
  // A conversation with one chat message from visitor v-1 at t0.
  std::string chat_conversation() {
    return ingest(request(t0, {chat_message("m-1", "v-1", "hi")})).accepted[0].conversation_id;
  }
  // Two customers (by email, by phone), each with a conversation: [0] the older.
  std::pair<accepted_message, accepted_message> two_customers() {
    auto email_only = chat_message("m-1", "v-1", "one");
    email_only.identities = {{"email", "ann@example.com"}};
    auto phone_only = chat_message("m-2", "v-2", "two");
    phone_only.identities = {{"phone", "+15550102000"}};
    return {ingest(request(t0, {email_only})).accepted[0],
            ingest(request(t0 + minute, {phone_only})).accepted[0]};
  }
  // A message proving both are one person: the second merged into the first.
  void prove_one(millis at) {
    auto both = chat_message("m-both", "v-3", "both");
    both.identities = {{"email", "ann@example.com"}, {"phone", "+15550102000"}};
    ingest(request(at, {both}));
  }
  boost::json::array thread(const std::string& conversation) {
    auto reader = open_sqlite_reader(opts.path);
    REQUIRE(reader.has_value());
    auto conv = (*reader)->conversation(conversation);
    REQUIRE(conv);
    return boost::json::parse(*conv).at("thread").as_array();
  }
};

}  // namespace

TEST_CASE("a reply joins the thread as an outbound message with its delivery row") {
  reply_fixture f;
  const auto first = f.ingest(request(t0, {chat_message("m-1", "v-1", "Where is my order?")}));
  const accepted_message& asked = first.accepted[0];

  const auto receipt =
      f.sent(reply_request_at(t0 + minute, text_reply(asked.conversation_id, "On its way"), "k-1"));
  CHECK(receipt.conversation_id == asked.conversation_id);
  CHECK(receipt.channel == "web-chat");
  CHECK(receipt.status == "queued");
  CHECK_FALSE(receipt.replayed);
  CHECK(receipt.message_id.size() == 36);

  const auto thread = f.thread(asked.conversation_id);
  REQUIRE(thread.size() == 2);
  const auto& m = thread[1].as_object();
  CHECK(m.at("id").as_string() == receipt.message_id);
  CHECK(m.at("direction") == "outbound");
  CHECK(m.at("channel") == "web-chat");
  CHECK(m.at("channel_type") == "chat");
  CHECK(m.at("text") == "On its way");
  CHECK(m.at("from").at("type") == "agent");
  CHECK(m.at("from").at("value") == "a-7");
  CHECK(m.at("from").at("name") == "Ieva");
  CHECK(m.at("author").at("id") == "a-7");
  CHECK(m.at("author").at("name") == "Ieva");
  CHECK(m.at("answers").as_string() == asked.message_id);
  CHECK(m.at("recipient") == "web-chat:v-1");
  CHECK(m.at("status") == "queued");
  CHECK(m.at("provider_id") == "reply:k-1");
  CHECK(m.at("subject").is_null());  // not an e-mail

  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'queued' AND channel = "
                "'web-chat' AND channel_type = 'chat' AND attempts = 0 AND answers = '" +
                asked.message_id + "' AND message_id = '" + receipt.message_id + "'") == 1);
  CHECK(f.store->outbox_size() == 1);  // a reply is not routed to a skill queue

  // The customer's next message carries the whole exchange.
  const auto next = f.ingest(request(t0 + 2 * minute, {chat_message("m-2", "v-1", "Thanks!")}));
  CHECK(next.accepted[0].conversation_id == asked.conversation_id);
  const auto payload = boost::json::parse(f.outbox().back().body);
  const auto& t = payload.at("thread").as_array();
  REQUIRE(t.size() == 3);
  CHECK(t[1].at("id").as_string() == receipt.message_id);
  CHECK(t[1].at("direction") == "outbound");
  CHECK(payload.at("conversation").at("message_count") == 3);
  CHECK(payload.at("message").at("text") == "Thanks!");
}

TEST_CASE("the same key answers the same reply; another reply under it is refused") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto first = f.sent(reply_request_at(t0 + 1, text_reply(conv, "hello"), "k-1"));
  const auto again = f.sent(reply_request_at(t0 + 2, text_reply(conv, "hello"), "k-1"));
  CHECK(again.replayed);
  CHECK(again.message_id == first.message_id);
  CHECK(again.channel == "web-chat");
  CHECK(again.status == "queued");
  CHECK(f.count("SELECT count(*) FROM messages WHERE direction = 'outbound'") == 1);

  const error e = f.refused(reply_request_at(t0 + 3, text_reply(conv, "hello again"), "k-1"));
  CHECK(e.code == errc::conflict);
  CHECK(e.detail.find("another reply") != std::string::npos);
  CHECK(f.count("SELECT count(*) FROM messages") == 2);
  CHECK(f.count("SELECT count(*) FROM deliveries") == 1);

  // A new key is a new reply, even with the same text.
  const auto other = f.sent(reply_request_at(t0 + 4, text_reply(conv, "hello"), "k-2"));
  CHECK(other.message_id != first.message_id);
  CHECK(f.thread(conv).size() == 3);
}

TEST_CASE("a refused reply writes nothing, and the requests around it in its batch commit") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  std::vector<ingest_request> reqs;
  reqs.push_back(request(t0 + 1, {chat_message("m-2", "v-2", "another customer")}));
  reqs.push_back(reply_request_at(t0 + 2, text_reply("no-such-conversation", "x"), "k-1"));
  reqs.push_back(reply_request_at(t0 + 3, text_reply(conv, "ok"), "k-2"));
  reqs.push_back(request(t0 + 4, {chat_message("m-3", "v-1", "and me")}));
  std::vector<ingest_request*> ptrs;
  for (auto& r : reqs) ptrs.push_back(&r);
  const auto res = f.store->commit(ptrs, {});
  REQUIRE(res.outcomes.size() == 4);
  CHECK(res.outcomes[0].has_value());
  REQUIRE_FALSE(res.outcomes[1].has_value());
  CHECK(res.outcomes[1].error().code == errc::not_found);
  REQUIRE(res.outcomes[2].has_value());
  CHECK(res.outcomes[2]->reply->status == "queued");
  CHECK(res.outcomes[3].has_value());
  CHECK(res.outbox_added == 2);
  CHECK(f.count("SELECT count(*) FROM reply_keys") == 1);
  CHECK(f.count("SELECT count(*) FROM messages") == 4);
  // The reply is 2nd in its thread, the customer's next message 3rd.
  CHECK(f.count("SELECT seq FROM messages WHERE provider_id = 'm-3'") == 3);
}

TEST_CASE("the channel: the one named, else the customer's latest on one that sends replies") {
  reply_fixture f;
  const identity visitor{"chat", "web-chat:v-1"};
  const auto conv = f.chat_conversation();
  // Later the same customer asks for a phone call: no text channel back.
  f.ingest(on_channel(t0 + minute, "cb", "callback", "c-1", visitor, "call me"));

  SUBCASE("a callback request is passed over") {
    CHECK(f.sent(reply_request_at(t0 + hour, text_reply(conv, "x"), "k")).channel == "web-chat");
  }
  SUBCASE("a channel named that sends") {
    auto r = text_reply(conv, "x");
    r.channel = "web-chat";
    CHECK(f.sent(reply_request_at(t0 + hour, r, "k")).channel == "web-chat");
  }
  SUBCASE("a channel named that does not send") {
    auto r = text_reply(conv, "x");
    r.channel = "cb";
    const error e = f.refused(reply_request_at(t0 + hour, r, "k"));
    CHECK(e.code == errc::undeliverable);
    CHECK(e.detail.find("channel cb sends no replies") != std::string::npos);
  }
  SUBCASE("a channel that sends, where the customer never wrote") {
    auto r = text_reply(conv, "x");
    r.channel = "other-chat";
    const error e = f.refused(reply_request_at(
        t0 + hour, r, "k", sending({{"web-chat", {"chat"}}, {"other-chat", {"chat"}}})));
    CHECK(e.code == errc::undeliverable);
    CHECK(e.detail.find("has written nothing on channel other-chat") != std::string::npos);
  }
  SUBCASE("no channel sends") {
    const error e = f.refused(reply_request_at(t0 + hour, text_reply(conv, "x"), "k", sending({})));
    CHECK(e.code == errc::undeliverable);
    CHECK(e.detail.find("no channel sends replies") != std::string::npos);
  }
  SUBCASE("the customer wrote on none that sends") {
    const error e = f.refused(
        reply_request_at(t0 + hour, text_reply(conv, "x"), "k", sending({{"tg", {"telegram"}}})));
    CHECK(e.code == errc::undeliverable);
    CHECK(e.detail.find("no channel that sends replies (tg)") != std::string::npos);
  }
  CHECK(f.count("SELECT count(*) FROM deliveries") <= 1);
}

TEST_CASE("in_reply_to names the customer's message answered, on its channel") {
  reply_fixture f;
  const auto first = f.ingest(request(t0, {chat_message("m-1", "v-1", "one")})).accepted[0];
  f.ingest(request(t0 + 1, {chat_message("m-2", "v-1", "two")}));
  const auto elsewhere = f.ingest(request(t0 + 2, {chat_message("m-3", "v-9", "x")})).accepted[0];

  auto r = text_reply(first.conversation_id, "about one");
  r.in_reply_to = first.message_id;
  const auto receipt = f.sent(reply_request_at(t0 + 3, r, "k-1"));
  CHECK(f.thread(first.conversation_id)[2].at("answers").as_string() == first.message_id);

  SUBCASE("an unknown message") { r.in_reply_to = "0190c0de-0000-7000-8000-000000000000"; }
  SUBCASE("another conversation's") { r.in_reply_to = elsewhere.message_id; }
  SUBCASE("the agent's own reply") { r.in_reply_to = receipt.message_id; }
  const error e = f.refused(reply_request_at(t0 + 4, r, "k-2"));
  CHECK(e.code == errc::malformed);
  CHECK(e.detail == "in_reply_to names no customer's message of this conversation");
}

TEST_CASE("a reply to a merged conversation joins the one that absorbed it") {
  reply_fixture f;
  const auto [a, b] = f.two_customers();
  f.prove_one(t0 + 2 * minute);

  const auto receipt = f.sent(reply_request_at(t0 + hour, text_reply(b.conversation_id, "x"), "k"));
  CHECK(receipt.conversation_id == a.conversation_id);
  const auto thread = f.thread(a.conversation_id);
  REQUIRE(thread.size() == 4);
  CHECK(thread[3].at("id").as_string() == receipt.message_id);
  CHECK(thread[3].at("answers").as_string() == thread[2].at("id").as_string());
}

TEST_CASE("a reply outside the provider's window is refused with window_closed") {
  reply_fixture f;
  const auto channels = sending({{"wa", {"whatsapp"}},
                                 {"fb", {"messenger", true}},
                                 {"ig", {"instagram"}},
                                 {"sms", {"twilio"}},
                                 {"tg", {"telegram"}}});
  struct row {
    const char* channel;
    const char* type;
    identity from;
    millis open_for;  // 0: no window
  };
  const row rows[] = {
      {"wa", "whatsapp", {"whatsapp", "15550102000"}, 24 * hour},
      {"fb", "messenger", {"messenger", "p:1"}, 7 * 24 * hour},  // HUMAN_AGENT tag
      {"ig", "instagram", {"instagram", "p:2"}, 24 * hour},
      {"sms", "twilio", {"whatsapp", "15550102001"}, 24 * hour},  // WhatsApp via Twilio
      {"sms", "twilio", {"phone", "+15550102002"}, 0},            // SMS: no window
      {"tg", "telegram", {"telegram", "42"}, 0},
  };
  int n = 0;
  for (const row& r : rows) {
    CAPTURE(r.channel);
    CAPTURE(r.from.type);
    ++n;
    const millis at = t0 + n * 30 * 24 * hour;  // a customer of their own each time
    const auto conv = f.ingest(on_channel(at, r.channel, r.type, "p-" + std::to_string(n), r.from))
                          .accepted[0]
                          .conversation_id;
    const std::string key = "k-" + std::to_string(n);
    if (r.open_for == 0) {
      CHECK(f.sent(reply_request_at(at + 20 * 24 * hour, text_reply(conv, "x"), key, channels))
                .status == "queued");
      continue;
    }
    const error e = f.refused(
        reply_request_at(at + r.open_for + 1, text_reply(conv, "late"), key + "-late", channels));
    CHECK(e.code == errc::window_closed);
    CHECK(e.detail.find(std::string("channel ") + r.channel) != std::string::npos);
    CHECK(f.sent(reply_request_at(at + r.open_for, text_reply(conv, "in time"), key, channels))
              .channel == r.channel);
  }
  CHECK(f.count("SELECT count(*) FROM reply_keys WHERE key LIKE '%-late'") == 0);
}

TEST_CASE("an e-mail reply's subject is Re: the one it answers") {
  reply_fixture f;
  const auto channels = sending({{"mail", {"mailgun"}}});
  const auto send_to = [&](const std::string& id, const std::string& subject) {
    auto r = on_channel(t0, "mail", "mailgun", id, {"email", id + "@example.com"});
    r.messages[0].subject = subject;
    const auto conv = f.ingest(std::move(r)).accepted[0].conversation_id;
    f.sent(reply_request_at(t0 + 1, text_reply(conv, "x"), "k-" + id, channels));
    return f.thread(conv)[1];
  };
  CHECK(send_to("a", "Invoice 42").at("subject") == "Re: Invoice 42");
  CHECK(send_to("b", "RE: Invoice 43").at("subject") == "RE: Invoice 43");
  CHECK(send_to("c", "").at("subject").is_null());
  CHECK(send_to("d", "x").at("recipient") == "d@example.com");
}

TEST_CASE("the customer's e-mail answer to a sent reply joins its conversation, even reopened") {
  reply_fixture f;
  const auto channels = sending({{"mail", {"mime"}}, {"mg", {"mailgun"}}});
  const auto mail = [&](millis at, const std::string& id, const std::string& in_reply_to) {
    auto r =
        on_channel(at, "mail", "mime", id + " from ann@example.com", {"email", "ann@example.com"});
    r.messages[0].extra["email"] = boost::json::object{
        {"message_id", id}, {"in_reply_to", in_reply_to}, {"references", boost::json::array{}}};
    return r;
  };
  const auto conv = f.ingest(mail(t0, "c-1@example.org", "")).accepted[0].conversation_id;
  const auto receipt = f.sent(reply_request_at(t0 + 1, text_reply(conv, "x"), "k-1", channels));
  // Sent over SMTP: the provider id is the reply's own Message-ID.
  std::vector<delivery_update> us{
      {receipt.message_id, "sent", t0 + 2, 0, receipt.message_id + "@acme.example", "", true}};
  CHECK(f.store->commit({}, {}, {}, us).settled);
  // Eight days later (past reopen_after), an answer to our reply joins the same conversation;
  // a new mail that names nothing opens a new one.
  const millis later = t0 + 8 * 24 * hour;
  const auto answer =
      f.ingest(mail(later, "c-2@example.org", receipt.message_id + "@acme.example"));
  CHECK(answer.accepted[0].conversation_id == conv);
  const auto fresh = f.ingest(mail(later + 8 * 24 * hour, "c-3@example.org", ""));
  CHECK(fresh.accepted[0].conversation_id != conv);
}

TEST_CASE("the group writer commits replies with the webhooks of its batch") {
  reply_fixture f;
  const auto conv =
      f.ingest(request(t0, {chat_message("m-0", "v-1", "hi")})).accepted[0].conversation_id;
  group_writer writer(*f.store, {});
  writer.start();
  std::vector<std::future<result<ingest_outcome>>> answers;
  for (int i = 0; i < 40; ++i) {
    auto p = std::make_shared<std::promise<result<ingest_outcome>>>();
    answers.push_back(p->get_future());
    auto done = [p](result<ingest_outcome> r) { p->set_value(std::move(r)); };
    if (i % 2 == 0)
      writer.submit(reply_request_at(t0 + i + 1, text_reply(conv, "r" + std::to_string(i % 10)),
                                     "k-" + std::to_string(i % 10)),
                    done);
    else
      writer.submit(request(t0 + i + 1, {chat_message("m-" + std::to_string(i), "v-1", "m")}),
                    done);
  }
  std::set<std::string> replies;
  int replayed = 0;
  for (auto& a : answers) {
    auto r = a.get();
    REQUIRE(r.has_value());
    if (!r->reply) continue;
    replies.insert(r->reply->message_id);
    replayed += r->reply->replayed ? 1 : 0;
  }
  writer.stop();
  // Keys k-0, k-2, ..., k-8 each came four times with the same reply: once committed, three
  // times answered as committed.
  CHECK(replies.size() == 5);
  CHECK(replayed == 15);
  CHECK(f.count("SELECT count(*) FROM deliveries") == 5);
  CHECK(f.count("SELECT message_count FROM conversations WHERE id = '" + conv + "'") == 26);
  CHECK(f.count("SELECT count(DISTINCT seq) FROM messages WHERE conversation_id = '" + conv +
                "'") == 26);
}

TEST_CASE("a delivery's status moves only forward") {
  struct row {
    const char* from;
    const char* to;
    bool moves;
  };
  const row rows[] = {
      {"queued", "sent", true},     {"queued", "delivered", true}, {"queued", "read", true},
      {"sent", "delivered", true},  {"delivered", "read", true},   {"queued", "failed", true},
      {"sent", "failed", true},     {"sent", "queued", false},     {"read", "delivered", false},
      {"delivered", "sent", false}, {"read", "failed", false},     {"delivered", "failed", false},
      {"failed", "sent", false},    {"failed", "read", false},     {"sent", "sent", false},
      {"queued", "bogus", false},
  };
  for (const row& r : rows) {
    CAPTURE(r.from);
    CAPTURE(r.to);
    CHECK(status_moves_forward(r.from, r.to) == r.moves);
  }
}

TEST_CASE("delivery rows: due when their time comes, moved forward by what attempts say") {
  reply_fixture f;
  const auto asked = f.ingest(request(t0, {chat_message("m-1", "v-1", "hi")})).accepted[0];
  const auto receipt =
      f.sent(reply_request_at(t0 + 1, text_reply(asked.conversation_id, "hello"), "k-1"));
  auto reader = f.store->open_delivery_reader();
  REQUIRE(reader.has_value());
  delivery_reader& r = **reader;
  CHECK(r.backlog().queued == 1);
  CHECK(r.backlog().oldest == t0 + 1);
  CHECK(r.due(t0, 10).empty());  // committed at t0 + 1
  auto due = r.due(t0 + 1, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].message_id == receipt.message_id);
  CHECK(due[0].conversation_id == asked.conversation_id);
  CHECK(due[0].channel == "web-chat");
  CHECK(due[0].channel_type == "chat");
  CHECK(due[0].attempts == 0);
  CHECK(due[0].created_at == t0 + 1);
  CHECK(boost::json::parse(due[0].reply).at("text") == "hello");
  CHECK(boost::json::parse(due[0].answers).at("id").as_string() == asked.message_id);

  const auto record = [&](delivery_update u) {
    std::vector<delivery_update> us{std::move(u)};
    const auto res = f.store->commit({}, {}, {}, us);
    CHECK(res.settled);
    return res.handed;
  };
  const auto body_of = [&]() {
    const auto thread = f.thread(asked.conversation_id);
    REQUIRE(thread.size() >= 2);
    CHECK(thread[1].at("id").as_string() == receipt.message_id);
    return thread[1].as_object();
  };

  // A failed attempt to try again later.
  record({receipt.message_id, "queued", t0 + 2, t0 + 60'000, "", "HTTP 503", true});
  CHECK(r.due(t0 + 59'999, 10).empty());
  due = r.due(t0 + 60'000, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].attempts == 1);
  CHECK(body_of().at("status") == "queued");

  // Sent: no longer due; the thread says so, and when.
  const auto handed = record({receipt.message_id, "sent", t0 + 61'000, 0, "wamid.1", "", true});
  CHECK(handed.changed_threads == std::vector<std::string>{asked.conversation_id});
  CHECK(r.due(t0 + 100'000, 10).empty());
  CHECK(r.backlog().queued == 0);
  CHECK(body_of().at("status") == "sent");
  CHECK(body_of().at("sent_at").as_string() == format_time(t0 + 61'000));
  CHECK(f.count("SELECT attempts FROM deliveries WHERE provider_message_id = 'wamid.1'") == 2);

  // Read before delivered (webhooks out of order): read stays.
  record({receipt.message_id, "read", t0 + 63'000, 0, "", "", false});
  record({receipt.message_id, "delivered", t0 + 64'000, 0, "", "", false});
  record({receipt.message_id, "failed", t0 + 65'000, 0, "", "too late", false});
  record({receipt.message_id, "queued", t0 + 66'000, t0 + 70'000, "", "x", true});
  CHECK(body_of().at("status") == "read");
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'read' AND attempts = 2") == 1);
  CHECK(r.due(t0 + 100'000, 10).empty());

  // A failure from queued keeps the provider's reason.
  const auto other =
      f.sent(reply_request_at(t0 + 2, text_reply(asked.conversation_id, "again"), "k-2"));
  record({other.message_id, "failed", t0 + 3, 0, "", "(#100) Invalid parameter", true});
  const auto thread = f.thread(asked.conversation_id);
  const auto& failed = thread.back().as_object();
  CHECK(failed.at("id").as_string() == other.message_id);
  CHECK(failed.at("status") == "failed");
  CHECK(failed.at("failure_reason") == "(#100) Invalid parameter");
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE reason = '(#100) Invalid parameter'") == 1);

  // An update for a delivery the store does not have is skipped.
  record({"0190c0de-0000-7000-8000-000000000000", "sent", t0, 0, "", "", true});

  // Each move forward was an event, in the transaction that made it; none for what did not
  // move (a retry, delivered after read, failed after read, an unknown reply).
  auto events = f.store->open_event_reader();
  REQUIRE(events.has_value());
  const auto rows = (*events)->fetch(0, 100);
  std::vector<std::string> keys;
  for (const auto& row : rows) keys.push_back(row.routing_key);
  CHECK(keys == std::vector<std::string>{"message.status.sent", "message.status.read",
                                         "message.status.failed"});
  REQUIRE(rows.size() == 3);
  const auto sent = boost::json::parse(rows[0].body).as_object();
  CHECK(sent.at("schema") == "switchboard.event/v1");
  CHECK(sent.at("id").as_string() == rows[0].id);
  CHECK(sent.at("type") == "message.status.sent");
  CHECK(sent.at("message_id").as_string() == receipt.message_id);
  CHECK(sent.at("conversation_id").as_string() == asked.conversation_id);
  CHECK(sent.at("channel") == "web-chat");
  CHECK(sent.at("previous_status") == "queued");
  CHECK(sent.at("provider_message_id") == "wamid.1");
  CHECK(sent.at("reason").is_null());
  CHECK(sent.at("attempts") == 2);
  CHECK(sent.at("occurred_at").as_string() == format_time(t0 + 61'000));
  CHECK(rows[0].created_at == t0 + 61'000);
  const auto read = boost::json::parse(rows[1].body).as_object();
  CHECK(read.at("previous_status") == "sent");
  CHECK(read.at("provider_message_id") == "wamid.1");  // as stored: the report named none
  const auto gone = boost::json::parse(rows[2].body).as_object();
  CHECK(gone.at("message_id").as_string() == other.message_id);
  CHECK(gone.at("reason") == "(#100) Invalid parameter");
  CHECK(gone.at("provider_message_id").is_null());
  CHECK((*events)->backlog() == 3);
  CHECK((*events)->fetch(rows[0].seq, 100).size() == 2);

  // The broker confirmed the first two: deleted with the next transaction.
  const std::vector<std::int64_t> published{rows[0].seq, rows[1].seq};
  CHECK(f.store->commit({}, {}, {}, {}, published).settled);
  CHECK((*events)->backlog() == 1);
  CHECK((*events)->fetch(0, 100).front().seq == rows[2].seq);
}

TEST_CASE("a provider's status reports move the reply its send answered, in any order") {
  reply_fixture f;
  const auto wa = sending({{"wa", {"whatsapp"}}});
  const auto conv = f.ingest(on_channel(t0, "wa", "whatsapp", "wamid.IN", {"whatsapp", "1555"}))
                        .accepted[0]
                        .conversation_id;
  const auto receipt = f.sent(reply_request_at(t0 + 1, text_reply(conv, "hi"), "k", wa));
  std::vector<delivery_update> sent{{receipt.message_id, "sent", t0 + 2, 0, "wamid.OUT", "", true}};
  f.store->commit({}, {}, {}, sent);

  const auto report = [&](std::vector<delivery_status> statuses, std::string channel = "wa") {
    ingest_request r = request(t0 + 10, {});
    r.channel = std::move(channel);
    r.channel_type = "whatsapp";
    r.statuses = std::move(statuses);
    return f.send(std::move(r));
  };
  const auto status = [&] { return std::string(f.thread(conv).back().at("status").as_string()); };
  // Read arrives before delivered: read stays.
  REQUIRE(report({{"wamid.OUT", "read", t0 + 5'000, ""}}).has_value());
  CHECK(status() == "read");
  REQUIRE(report({{"wamid.OUT", "delivered", t0 + 4'000, ""}}).has_value());
  CHECK(status() == "read");
  // Another channel's id, an unknown id: nothing moves, nothing fails.
  REQUIRE(report({{"wamid.OUT", "failed", std::nullopt, "x"}}, "other").has_value());
  REQUIRE(report({{"wamid.NOPE", "read", std::nullopt, ""}}).has_value());
  CHECK(status() == "read");
  CHECK(f.count("SELECT attempts FROM deliveries WHERE provider_message_id = 'wamid.OUT'") == 1);
  CHECK(f.count("SELECT updated_at FROM deliveries WHERE provider_message_id = 'wamid.OUT'") ==
        t0 + 5'000);
}

TEST_CASE("a delivery update that fails part way is undone whole, and the others go on") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto a = f.sent(reply_request_at(t0 + 1, text_reply(conv, "a"), "ka"));
  const auto b = f.sent(reply_request_at(t0 + 2, text_reply(conv, "b"), "kb"));
  {
    // The event of reply a's move cannot be written (a constraint, as a failing statement).
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(f.opts.path.c_str(), &db) == SQLITE_OK);
    const std::string sql =
        "CREATE TRIGGER no_event BEFORE INSERT ON events WHEN NEW.body LIKE "
        "'%" +
        a.message_id + "%' BEGIN SELECT RAISE(ABORT, 'refused'); END";
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  std::vector<delivery_update> us{{a.message_id, "sent", t0 + 5, 0, "p-a", "", true},
                                  {b.message_id, "sent", t0 + 5, 0, "p-b", "", true}};
  CHECK(f.store->commit({}, {}, {}, us).settled);
  // a: nothing of its move stayed (status, thread, event); b: all of it.
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'queued' AND provider_message_id "
                "IS NULL AND message_id = '" +
                a.message_id + "'") == 1);
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'sent' AND message_id = '" +
                b.message_id + "'") == 1);
  CHECK(f.count("SELECT count(*) FROM events") == 1);
  const auto thread = f.thread(conv);
  CHECK(thread[1].at("status") == "queued");
  CHECK(thread[2].at("status") == "sent");
}

TEST_CASE("a report naming the reply's own id finds it before its send's answer is recorded") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto receipt = f.sent(reply_request_at(t0 + 1, text_reply(conv, "hi"), "k"));
  ingest_request r = request(t0 + 5, {});
  r.channel = "web-chat";
  r.channel_type = "chat";
  r.statuses = {{receipt.message_id, "delivered", t0 + 4, "", std::nullopt}};
  REQUIRE(f.send(std::move(r)).has_value());
  CHECK(f.thread(conv).back().at("status") == "delivered");
  // The attempt's own outcome, recorded later, does not move it back.
  std::vector<delivery_update> sent{{receipt.message_id, "sent", t0 + 6, 0, "", "", true}};
  f.store->commit({}, {}, {}, sent);
  CHECK(f.thread(conv).back().at("status") == "delivered");
}

TEST_CASE("a watermark receipt moves every reply to that customer sent up to it") {
  reply_fixture f;
  const auto fb = sending({{"fb", {"messenger"}}});
  const identity ann{"messenger", "PAGE:PSID-ANN"};
  const auto conv =
      f.ingest(on_channel(t0, "fb", "messenger", "m_in1", ann)).accepted[0].conversation_id;
  const auto other = f.ingest(on_channel(t0, "fb", "messenger", "m_in2", {"messenger", "PAGE:BEN"}))
                         .accepted[0]
                         .conversation_id;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const auto r = f.sent(reply_request_at(t0 + 1 + i, text_reply(conv, "r" + std::to_string(i)),
                                           "k" + std::to_string(i), fb));
    ids.push_back(r.message_id);
  }
  const auto ben = f.sent(reply_request_at(t0 + 1, text_reply(other, "b"), "kb", fb));
  // Sent at t0 + 10 s, + 20 s and + 30 s; Ben's at + 10 s.
  std::vector<delivery_update> sent;
  for (int i = 0; i < 3; ++i)
    sent.push_back(
        {ids[i], "sent", t0 + 10'000 * (i + 1), 0, "m_out" + std::to_string(i), "", true});
  sent.push_back({ben.message_id, "sent", t0 + 10'000, 0, "m_outb", "", true});
  f.store->commit({}, {}, {}, sent);

  const auto report = [&](std::vector<delivery_status> statuses) {
    ingest_request r = request(t0 + 60'000, {});
    r.channel = "fb";
    r.channel_type = "messenger";
    r.statuses = std::move(statuses);
    REQUIRE(f.send(std::move(r)).has_value());
  };
  const auto status_of = [&](const std::string& conversation, const std::string& id) {
    for (const auto& m : f.thread(conversation))
      if (m.at("id").as_string() == id) return std::string(m.at("status").as_string());
    return std::string("?");
  };
  // Delivered up to Meta's timestamp of the second reply (no earlier than our sent_at, when the
  // request began): the first two; the third, sent 10 s later, not; a reply sent 100 ms after
  // the watermark is outside a slack of 50 ms.
  report({{"", "delivered", t0 + 19'900, "", ann, 50}});
  CHECK(status_of(conv, ids[1]) == "sent");
  report({{"", "delivered", t0 + 20'000, "", ann, 0}});
  CHECK(status_of(conv, ids[0]) == "delivered");
  CHECK(status_of(conv, ids[1]) == "delivered");
  CHECK(status_of(conv, ids[2]) == "sent");
  CHECK(status_of(other, ben.message_id) == "sent");  // another customer's
  // Read up to the first: only it moves on; then a delivery receipt by mid for the third.
  report({{"", "read", t0 + 10'000, "", ann}, {"m_out2", "delivered", std::nullopt, "", {}}});
  CHECK(status_of(conv, ids[0]) == "read");
  CHECK(status_of(conv, ids[1]) == "delivered");
  CHECK(status_of(conv, ids[2]) == "delivered");
  // A watermark of another identity type, or on another channel: nothing moves.
  report({{"", "read", t0 + 60'000, "", identity{"instagram", "PAGE:PSID-ANN"}}});
  CHECK(status_of(conv, ids[2]) == "delivered");
  // Ann and Ben proven one customer: Ben's read receipt moves only the replies that went to
  // Ben's account, not those to Ann's, though they share a customer now.
  auto both = on_channel(t0 + 70'000, "fb", "messenger", "m_both", ann);
  both.messages[0].identities.push_back({"messenger", "PAGE:BEN"});
  f.ingest(std::move(both));
  report({{"", "read", t0 + 60'000, "", identity{"messenger", "PAGE:BEN"}}});
  CHECK(status_of(other, ben.message_id) == "read");
  CHECK(status_of(conv, ids[2]) == "delivered");
}

TEST_CASE("the provider's echo of a reply sent is not stored twice") {
  reply_fixture f;
  const auto fb = sending({{"fb", {"messenger"}}});
  const identity psid{"messenger", "1122:PSID-42"};
  const auto conv =
      f.ingest(on_channel(t0, "fb", "messenger", "m_IN", psid)).accepted[0].conversation_id;
  const auto receipt = f.sent(reply_request_at(t0 + 1, text_reply(conv, "hi"), "k", fb));
  std::vector<delivery_update> sent{{receipt.message_id, "sent", t0 + 2, 0, "m_OUT", "", true}};
  f.store->commit({}, {}, {}, sent);

  auto echo = on_channel(t0 + 3, "fb", "messenger", "m_OUT", psid, "hi");
  echo.messages[0].direction = "outbound";
  const auto out = f.ingest(std::move(echo));
  CHECK(out.accepted.empty());
  CHECK(out.duplicates == 1);
  // The page's own message from elsewhere (its inbox) is stored, outbound.
  auto other = on_channel(t0 + 4, "fb", "messenger", "m_INBOX", psid, "from the inbox");
  other.messages[0].direction = "outbound";
  CHECK(f.ingest(std::move(other)).accepted.size() == 1);
  const auto thread = f.thread(conv);
  REQUIRE(thread.size() == 3);
  CHECK(thread[1].at("id").as_string() == receipt.message_id);
  CHECK(thread[2].at("text") == "from the inbox");
}

// Found in review: a reply being sent when its customer was erased was still sent; its status
// update found no row and was dropped, so the echo of it came in as a new customer's message.
TEST_CASE("a reply sent while its customer was erased: its echo is not stored") {
  reply_fixture f;
  const auto fb = sending({{"fb", {"messenger"}}});
  const identity psid{"messenger", "1122:PSID-42"};
  const auto in = f.ingest(on_channel(t0, "fb", "messenger", "m_IN", psid)).accepted[0];
  const auto receipt =
      f.sent(reply_request_at(t0 + 1, text_reply(in.conversation_id, "hi"), "k", fb));
  REQUIRE(f.store->erase_customer(in.customer_id, t0 + 2).has_value());
  // The attempt started before the erasure ends after it: the provider took the reply.
  delivery_update sent{receipt.message_id, "sent", t0 + 3, 0, "m_OUT", "", true};
  sent.channel = "fb";
  REQUIRE(f.store->commit({}, {}, {}, std::span<const delivery_update>(&sent, 1)).settled);
  auto echo = on_channel(t0 + 4, "fb", "messenger", "m_OUT", psid, "hi");
  echo.messages[0].direction = "outbound";
  const auto out = f.ingest(std::move(echo));
  CHECK(out.accepted.empty());
  CHECK(out.duplicates == 1);
  CHECK(f.count("SELECT count(*) FROM customers") == 0);
}

// Found in review: a second reply answered with a provider id another reply holds stayed
// queued (UPDATE OR IGNORE), and was sent again at every poll.
TEST_CASE("a provider id another reply holds: the status still moves, without the id") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto a = f.sent(reply_request_at(t0 + 1, text_reply(conv, "one"), "k-1"));
  const auto b = f.sent(reply_request_at(t0 + 2, text_reply(conv, "two"), "k-2"));
  std::vector<delivery_update> sent{{a.message_id, "sent", t0 + 3, 0, "same", "", true},
                                    {b.message_id, "sent", t0 + 4, 0, "same", "", true}};
  CHECK(f.store->commit({}, {}, {}, sent).settled);
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 2);
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE provider_message_id = 'same'") == 1);
  auto reader = f.store->open_delivery_reader();
  REQUIRE(reader.has_value());
  CHECK((*reader)->due(t0 + 100'000, 10).empty());
}

// Found in review: a late duplicate attempt's failure turned a sent reply into failed.
TEST_CASE("an attempt's outcome applies only to a queued reply; a status report still moves it") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto r = f.sent(reply_request_at(t0 + 1, text_reply(conv, "one"), "k-1"));
  std::vector<delivery_update> updates{
      {r.message_id, "sent", t0 + 2, 0, "p-1", "", true},
      {r.message_id, "failed", t0 + 3, 0, "", "HTTP 400", true},  // a duplicate's attempt
      {r.message_id, "queued", t0 + 4, t0 + 9, "", "HTTP 503", true}};
  f.store->commit({}, {}, {}, updates);
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'sent' AND attempts = 1") == 1);
  std::vector<delivery_update> report{
      {r.message_id, "failed", t0 + 5, 0, "", "undeliverable", false}};
  f.store->commit({}, {}, {}, report);  // the provider says so after sending: it moves
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE status = 'failed'") == 1);
}

// Found in review: a merge moved the reply's message but not its delivery row.
TEST_CASE("a merge moves the delivery rows with the messages") {
  reply_fixture f;
  const auto [a, b] = f.two_customers();
  const auto in_b = f.sent(reply_request_at(t0 + 2 * minute, text_reply(b.conversation_id, "x"),
                                            "k", sending({{"web-chat", {"chat"}}})));
  CHECK(in_b.conversation_id == b.conversation_id);
  f.prove_one(t0 + 3 * minute);
  CHECK(f.count("SELECT count(*) FROM deliveries WHERE conversation_id = '" + a.conversation_id +
                "'") == 1);
  // The key's receipt names the conversation the reply is in now.
  CHECK(f.sent(reply_request_at(t0 + 4 * minute, text_reply(b.conversation_id, "x"), "k",
                                sending({{"web-chat", {"chat"}}})))
            .conversation_id == a.conversation_id);
}

TEST_CASE("the writer runs a delivery update's callback once it is committed") {
  reply_fixture f;
  const auto conv = f.chat_conversation();
  const auto r = f.sent(reply_request_at(t0 + 1, text_reply(conv, "one"), "k-1"));
  group_writer writer(*f.store, {});
  writer.start();
  std::promise<std::int64_t> seen;
  writer.record({{r.message_id, "sent", t0 + 2, 0, "p-1", "", true}}, [&] {
    // On the writer thread, after the commit: the row says sent already.
    seen.set_value(f.count("SELECT count(*) FROM deliveries WHERE status = 'sent'"));
  });
  CHECK(seen.get_future().get() == 1);
  writer.stop();
}
