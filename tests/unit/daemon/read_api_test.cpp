// The read API (daemon/read_api.hpp) through the pipeline, as the HTTP server calls it, on a
// real SQLite store in a temporary directory with its group writer: the bearer token, the
// answers and errors of each resource, and a write (close) going through the writer thread.
#include "daemon/read_api.hpp"

#include "channels/crypto.hpp"
#include "daemon/pipeline.hpp"
#include "store/attachments.hpp"
#include "store/reader.hpp"
#include "store/sqlite_store.hpp"
#include "store/writer.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <filesystem>
#include <future>
#include <random>

namespace sb {
namespace {

const std::string token = "read-api-token-of-32-characters!";

struct api_harness {
  api_harness() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("sb-read-api-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    store_options o;
    o.path = (dir / "store.db").string();
    store = std::move(*sqlite_store::open(o));
    reader = std::move(*open_sqlite_reader(o.path));
    writer = std::make_unique<group_writer>(*store, nullptr);
    writer->start();
    auto cfg = std::make_shared<config>();
    const std::string tokens[] = {token};
    cfg->server.api_tokens = secret_set(tokens);
    routing_table table;
    table.skills.push_back(skill_config{.name = "general"});
    table.routes.push_back(route{.skill = "general"});
    cfg->routing = std::make_shared<const routing_table>(std::move(table));
    holder = std::make_unique<config_holder>(cfg);
    pipe = std::make_unique<pipeline>(*holder, *writer);
    pipe->set_blob_store(&store->blobs());
    api = std::make_unique<read_api>(*holder, *reader, *writer, *pipe, store->blobs());
    pipe->set_read_api(api.get());
  }
  ~api_harness() {
    writer->stop();
    std::filesystem::remove_all(dir);
  }

  // One request as the HTTP server makes it: check_head, then handle with its route; the
  // reply (writes answer from the writer thread: waited for).
  http_reply call(std::string_view method, std::string_view target,
                  std::optional<std::string> bearer = token) {
    std::vector<header_field> headers;
    const std::string auth = bearer ? "Bearer " + *bearer : std::string();
    if (bearer) headers.push_back({"Authorization", auth});
    request_view req{method, target, headers, {}, 1'795'341'630'000};
    req.peer = "127.0.0.1";
    auto verdict = pipe->check_head(req);
    if (verdict.refusal) return *verdict.refusal;
    std::promise<http_reply> p;
    pipe->handle(req, verdict.route, [&p](http_reply r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  // A customer's first message, committed through the writer, with these files kept.
  accepted_message ingest(const std::string& visitor, std::vector<attachment> files = {}) {
    ingest_request r;
    r.channel = "web-chat";
    r.channel_type = "chat";
    r.received_at = 1'795'341'600'000;
    inbound_message m;
    m.provider_id = "p-" + visitor;
    m.sender_name = "Ann Lee";
    m.identities.push_back({"chat", "web-chat:" + visitor});
    m.text = "hello";
    m.attachments = std::move(files);
    r.messages.push_back(std::move(m));
    REQUIRE(keep_attachments(store->blobs(), {}, channel_config{"web-chat", "chat"}, r.messages)
                .has_value());
    r.routing = holder->get()->routing;
    std::promise<result<ingest_outcome>> p;
    writer->submit(std::move(r), [&p](result<ingest_outcome> o) { p.set_value(std::move(o)); });
    auto out = p.get_future().get();
    REQUIRE(out.has_value());
    REQUIRE(out->accepted.size() == 1);
    return out->accepted[0];
  }

  std::filesystem::path dir;
  std::unique_ptr<sqlite_store> store;
  std::unique_ptr<store_reader> reader;
  std::unique_ptr<group_writer> writer;
  std::unique_ptr<config_holder> holder;
  std::unique_ptr<pipeline> pipe;
  std::unique_ptr<read_api> api;
};

boost::json::object body(const http_reply& r) { return boost::json::parse(r.body).as_object(); }

}  // namespace

TEST_CASE("read API: a bearer token from api_tokens_file, checked at the headers") {
  api_harness h;
  auto r = h.call("GET", "/v1/customers/x", std::nullopt);
  CHECK(r.status == 401);
  CHECK(body(r).at("error") == "unauthorized");
  CHECK(h.call("GET", "/v1/customers/x", std::string("wrong-token")).status == 401);
  CHECK(h.call("GET", "/v1/customers/x", std::string()).status == 401);
  CHECK(h.call("GET", "/v1/customers/x").status == 404);  // past the token: no such customer
  // Paths that are not the API's are not asked for a token.
  CHECK(h.call("GET", "/healthz", std::nullopt).status == 200);
}

TEST_CASE("read API: customers and conversations, found, missing and malformed") {
  api_harness h;
  const auto a = h.ingest("v-1");
  auto r = h.call("GET", "/v1/customers/" + a.customer_id);
  REQUIRE(r.status == 200);
  CHECK(body(r).at("id").as_string() == a.customer_id);
  r = h.call("GET", "/v1/customers?identity=chat:web-chat:v-1");
  REQUIRE(r.status == 200);
  CHECK(body(r).at("id").as_string() == a.customer_id);
  CHECK(h.call("GET", "/v1/customers?identity=chat:web-chat:v-2").status == 404);
  r = h.call("GET", "/v1/customers");
  CHECK(r.status == 400);
  CHECK(body(r).at("detail") == "give ?identity=type:value");
  CHECK(h.call("GET", "/v1/customers?identity=nocolon").status == 400);
  r = h.call("GET", "/v1/conversations/" + a.conversation_id);
  REQUIRE(r.status == 200);
  CHECK(body(r).at("conversation").at("id").as_string() == a.conversation_id);
  CHECK(h.call("GET", "/v1/conversations/nope").status == 404);
  r = h.call("DELETE", "/v1/conversations/" + a.conversation_id);
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "GET"});
}

TEST_CASE("read API: an attachment served with a safe type and name, or why not") {
  api_harness h;
  const auto file = [](std::string name, std::string type, std::string bytes) {
    attachment a;
    a.name = std::move(name);
    a.content_type = std::move(type);
    a.bytes = std::move(bytes);
    return a;
  };
  const attachment page = file("Līgums \"final\".html", "text/html", "<script>x</script>");
  const attachment odd = file("a\r\nb.bin", "text/plain\r\nX-Injected: 1", "bytes");
  const attachment big = file("big.bin", "application/octet-stream", std::string(26 << 20, 'x'));
  const auto a = h.ingest("v-att", {page, odd, big});
  // The ids, as the thread shows them.
  auto conv = h.call("GET", "/v1/conversations/" + a.conversation_id);
  REQUIRE(conv.status == 200);
  std::vector<std::string> ids;
  const auto doc = body(conv);
  for (const auto& m : doc.at("thread").as_array())
    for (const auto& att : m.at("attachments").as_array())
      ids.emplace_back(att.at("id").as_string());
  REQUIRE(ids.size() == 3);
  const auto header = [](const http_reply& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  auto r = h.call("GET", "/v1/attachments/" + ids[0]);
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.body == "<script>x</script>");
  CHECK(r.content_type == "text/html");
  CHECK(header(r, "Content-Security-Policy") == "sandbox");  // never run as the API's page
  CHECK(header(r, "X-Content-Type-Options") == "nosniff");
  CHECK(header(r, "Content-Disposition") ==
        "attachment; filename=\"L_gums _final_.html\"; "
        "filename*=UTF-8''L%C4%ABgums%20%22final%22.html");
  r = h.call("GET", "/v1/attachments/" + ids[1]);
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/octet-stream");  // a type no header can carry
  CHECK(header(r, "Content-Disposition").find('\r') == std::string::npos);
  r = h.call("GET", "/v1/attachments/" + ids[2]);
  CHECK(r.status == 404);
  CHECK(body(r).at("detail").as_string().starts_with("the file was not kept (too_large"));
  CHECK(h.call("GET", "/v1/attachments/nope").status == 404);
  CHECK(h.call("DELETE", "/v1/attachments/" + ids[0]).status == 405);
}

TEST_CASE("read API: closing a conversation is a write on the writer thread") {
  api_harness h;
  const auto a = h.ingest("v-1");
  auto r = h.call("POST", "/v1/conversations/" + a.conversation_id + "/close");
  REQUIRE(r.status == 200);
  CHECK(body(r).at("status") == "closed");
  CHECK(body(h.call("GET", "/v1/conversations/" + a.conversation_id))
            .at("conversation")
            .at("status") == "closed");
  CHECK(h.call("POST", "/v1/conversations/nope/close").status == 404);
  CHECK(h.call("GET", "/v1/conversations/" + a.conversation_id + "/close").status == 405);
}

TEST_CASE("read API: list parameters are checked") {
  api_harness h;
  CHECK(h.call("GET", "/v1/unreadable").status == 200);
  CHECK(h.call("GET", "/v1/unreadable?status=all&limit=5").status == 200);
  CHECK(body(h.call("GET", "/v1/unreadable?status=done")).at("detail") ==
        "status must be pending, replayed or all");
  CHECK(h.call("GET", "/v1/unreadable?limit=0").status == 400);
  CHECK(h.call("GET", "/v1/unreadable?color=red").status == 400);
  CHECK(h.call("GET", "/v1/unreadable/nope").status == 404);
  CHECK(h.call("GET", "/v1/parked?limit=1001").status == 400);
  CHECK(h.call("GET", "/v1/parked").status == 200);
  CHECK(h.call("DELETE", "/v1/parked/abc").status == 404);
  CHECK(h.call("DELETE", "/v1/parked/99").status == 404);
}

}  // namespace sb
