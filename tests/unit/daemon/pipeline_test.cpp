// The request pipeline against a fake ingest sink (store/ingest_sink.hpp): what reaches the
// store, and when the reply is sent, without a socket, a database or a broker.
#include "daemon/pipeline.hpp"
#include "channels/chat/chat.hpp"
#include "store/ingest_sink.hpp"
#include "tests/unit/channels/requests.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sb {
namespace {

using fixtures::request;

constexpr millis test_now = 1'795'341'630'000;
const std::string chat_key = "chat-secret-A: 32 bytes of key!!";

// Keeps what the pipeline hands it; the test decides when (and how) a commit ends.
class fake_sink final : public ingest_sink {
 public:
  void submit(ingest_request req, callback done) override {
    requests.push_back(std::move(req));
    pending.push_back(std::move(done));
  }
  void remember(seen_signature s) override { remembered.push_back(std::move(s)); }
  std::int64_t backlog() const noexcept override { return backlog_value; }

  std::vector<ingest_request> requests;
  std::vector<callback> pending;
  std::vector<seen_signature> remembered;
  std::int64_t backlog_value = 0;
};

std::shared_ptr<const config> chat_config() {
  auto cfg = std::make_shared<config>();
  channel ch;
  ch.config.name = "web-chat";
  ch.config.type = "chat";
  ch.config.secrets = {fixtures::whsec(chat_key)};
  ch.type = find_channel_type("chat");
  ch.handler = std::move(*make_chat_adapter(ch.config));
  cfg->channels.push_back(std::move(ch));
  cfg->store.max_backlog = 100;
  routing_table table;
  table.skills.push_back(skill_config{.name = "general"});
  table.routes.push_back(route{.skill = "general"});
  cfg->routing = std::make_shared<const routing_table>(std::move(table));
  return cfg;
}

request chat_post(const std::string& id, std::string_view key = chat_key) {
  return fixtures::standard_webhooks_post(
      {.target = "/v1/webhooks/web-chat", .now = test_now},
      R"({"id":")" + id + R"(","visitor":{"id":"v-1"},"text":"hi"})", key, test_now / 1000,
      "msg_" + id);
}

struct harness {
  config_holder holder{chat_config()};
  fake_sink sink;
  pipeline pipe{holder, sink};

  std::optional<http_reply> reply;  // the last request's, once the pipeline sent it

  // The reply, if the pipeline sent one by the time handle() returned.
  std::optional<http_reply> handle(request& r) {
    reply.reset();
    auto view = r.view();
    view.peer = "127.0.0.1";
    pipe.handle(view, [this](http_reply out) { reply = std::move(out); });
    return reply;
  }
};

std::string error_name(const http_reply& r) {
  return std::string(boost::json::parse(r.body).at("error").as_string());
}

}  // namespace

TEST_CASE("pipeline: a signed webhook is answered only once the sink has stored it") {
  harness h;
  request r = chat_post("m-1");
  CHECK_FALSE(h.handle(r));  // nothing promised before the commit
  REQUIRE(h.sink.requests.size() == 1);
  const ingest_request& req = h.sink.requests[0];
  CHECK(req.channel == "web-chat");
  CHECK(req.channel_type == "chat");
  REQUIRE(req.messages.size() == 1);
  CHECK(req.messages[0].provider_id == "m-1");
  // Prepared on the HTTP side: ids and message JSON, off the writer thread.
  REQUIRE(req.prepared.size() == 1);
  CHECK_FALSE(req.prepared[0].id.empty());
  CHECK(req.seen.has_value());  // the signature, remembered with the commit
  h.sink.pending[0](
      ingest_outcome{{{req.prepared[0].id, "c-1", "k-1", "general"}}, 0, 0, 0, false});
  REQUIRE(h.reply);
  CHECK(h.reply->status == 202);
  CHECK(h.reply->body.find(req.prepared[0].id) != std::string::npos);
}

TEST_CASE("pipeline: a failed commit answers its error and the signature is kept apart") {
  harness h;
  request r = chat_post("m-2");
  CHECK_FALSE(h.handle(r));
  REQUIRE(h.sink.pending.size() == 1);
  h.sink.pending[0](error{errc::unavailable, "disk full"});
  REQUIRE(h.reply);
  CHECK(h.reply->status == 503);
  // Rolled back with the batch, the signature's first use must still be remembered.
  CHECK(h.sink.remembered.size() == 1);
}

TEST_CASE("pipeline: refusals never reach the sink") {
  harness h;
  const auto refused = [&](request r, unsigned status, std::string_view name) {
    auto reply = h.handle(r);
    REQUIRE(reply);
    CHECK(reply->status == status);
    CHECK(error_name(*reply) == name);
  };
  refused(chat_post("m-3", "another key of thirty-two bytes!"), 401, "bad_signature");
  request unknown = chat_post("m-4");
  unknown.target = "/v1/webhooks/nobody";
  refused(unknown, 404, "unknown_channel");
  request get = chat_post("m-5");
  get.method = "GET";
  refused(get, 405, "method_not_allowed");
  CHECK(h.sink.requests.empty());
}

TEST_CASE("pipeline: at the backlog bound or draining, 503 and nothing is submitted") {
  harness h;
  h.sink.backlog_value = 100;  // store.max_backlog
  request r = chat_post("m-6");
  auto reply = h.handle(r);
  REQUIRE(reply);
  CHECK(reply->status == 503);
  CHECK(h.sink.requests.empty());
  CHECK(h.sink.remembered.size() == 1);  // its retry must be recognised after a restart

  h.sink.backlog_value = 99;
  h.pipe.set_draining(true);
  request again = chat_post("m-7");
  reply = h.handle(again);
  REQUIRE(reply);
  CHECK(reply->status == 503);
  CHECK(h.sink.requests.empty());
  CHECK(h.pipe.not_ready() == "shutting down");

  h.pipe.set_draining(false);
  request last = chat_post("m-8");
  CHECK_FALSE(h.handle(last));  // waits for its commit
  CHECK(h.sink.requests.size() == 1);
}

TEST_CASE("pipeline: check_head gives the channel's body limit or refuses at once") {
  harness h;
  request r = chat_post("m-9");
  r.body.clear();
  auto head = r.view();
  head.peer = "127.0.0.1";
  auto v = h.pipe.check_head(head);
  CHECK_FALSE(v.refusal);
  CHECK(v.body_limit == h.holder.get()->server.max_body_bytes);

  r.target = "/v1/webhooks/nobody";
  head = r.view();
  head.peer = "127.0.0.1";
  v = h.pipe.check_head(head);
  REQUIRE(v.refusal);
  CHECK(v.refusal->status == 404);
}

TEST_CASE("pipeline: a blocked sender's webhook is answered 200 and nothing reaches the sink") {
  harness h;
  auto cfg = std::make_shared<config>(*h.holder.get());
  auto list = parse_identity_list("chat:web-chat:v-1\n", "blocked.txt");
  REQUIRE(list.list);
  cfg->server.blocklist = std::make_shared<const identity_list>(std::move(*list.list));
  h.holder.set(cfg);
  request r = chat_post("m-blocked");
  auto reply = h.handle(r);
  REQUIRE(reply);  // answered at once: nothing to commit
  CHECK(reply->status == 200);
  CHECK(boost::json::parse(reply->body).at("ignored").as_int64() == 1);
  CHECK(h.sink.requests.empty());
  CHECK(h.sink.remembered.size() == 1);  // its signature is still remembered
  // Another visitor passes.
  request other = fixtures::standard_webhooks_post(
      {.target = "/v1/webhooks/web-chat", .now = test_now},
      R"({"id":"m-ok","visitor":{"id":"v-2"},"text":"hi"})", chat_key, test_now / 1000, "msg_ok");
  CHECK_FALSE(h.handle(other));
  CHECK(h.sink.requests.size() == 1);
}

}  // namespace sb
