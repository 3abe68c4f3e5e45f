#include "daemon/request_target.hpp"

#include <doctest/doctest.h>

using sb::origin_form;

TEST_CASE("an origin-form target is routed as it is") {
  CHECK(origin_form("/v1/webhooks/web-chat") == "/v1/webhooks/web-chat");
  CHECK(origin_form("/healthz?x=1") == "/healthz?x=1");
  CHECK(origin_form("/") == "/");
}

TEST_CASE("an absolute-form target (RFC 9112 3.2.2) is routed as its path and query") {
  CHECK(origin_form("http://127.0.0.1:8080/v1/webhooks/sms?a=1&b=%20") ==
        "/v1/webhooks/sms?a=1&b=%20");
  CHECK(origin_form("https://switchboard.example/v1/webhooks/web-chat") == "/v1/webhooks/web-chat");
  CHECK(origin_form("HTTP://switchboard.example/healthz") == "/healthz");  // schemes ignore case
  CHECK(origin_form("http://[::1]:80/metrics") == "/metrics");
  // The result is a view into the target, so what the adapters see (Twilio signs the query
  // exactly as sent) is the bytes received.
  const std::string_view t = "http://h/v1/webhooks/sms?To=%2B1";
  CHECK(origin_form(t).data() == t.data() + 8);
}

TEST_CASE("other targets are left as they are and match no resource") {
  for (const std::string_view t :
       {"ftp://h/v1/webhooks/web-chat",           // not an HTTP URI
        "http://user:pw@h/v1/webhooks/web-chat",  // userinfo: an error (RFC 9110 4.2.4)
        "http://h", "http://h?x=1",               // no path to route
        "http:/v1/webhooks/web-chat",             // no authority
        "http:///v1/webhooks/web-chat",           // an empty host (RFC 9110 4.2.1)
        "http://h/v1/webhooks/web-chat#frag",     // a fragment is not part of a target
        "*", "h:443", "v1/webhooks/web-chat", ""}) {
    CAPTURE(t);
    CHECK(origin_form(t) == t);
  }
}

TEST_CASE("route_of names the resource and the webhook's channel once") {
  using resource = sb::request_route::resource;
  using sb::route_of;
  CHECK(route_of("/healthz").what == resource::healthz);
  CHECK(route_of("/readyz?x=1").what == resource::readyz);
  CHECK(route_of("/metrics").what == resource::metrics);
  CHECK(route_of("/v1/conversations/abc").what == resource::api);
  CHECK(route_of("/v1/customers?identity=chat:x").what == resource::api);
  CHECK(route_of("/v1/parked/3/republish").what == resource::api);
  CHECK(route_of("/v1/attachments/01a25282-bd9c-7569-950d-b77ab668dc75").what == resource::api);
  auto r = route_of("/v1/webhooks/web-chat?sig=1");
  CHECK(r.what == resource::webhook);
  CHECK(r.channel == "web-chat");
  CHECK(r.path == "/v1/webhooks/web-chat");
  CHECK(route_of("/v1/webhooks/sms%2Dline").channel == "sms-line");  // decoded
  // Under the prefix but not one segment: a webhook path naming no channel (404 unknown_channel).
  CHECK(route_of("/v1/webhooks/a/b").what == resource::webhook);
  CHECK(route_of("/v1/webhooks/a/b").channel.empty());
  CHECK(route_of("/v1/webhooks%2Fx").channel.empty());
  CHECK(route_of("/v1/webhook/x").what == resource::other);
  CHECK(route_of("/").what == resource::other);
  // Not an origin-form: names nothing, its text kept as the path.
  r = route_of("*");
  CHECK(r.what == resource::other);
  CHECK(r.path == "*");
}
