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
