// Replies through Postmark: POST /email (https://postmarkapp.com/developer/api/email-api), the
// server token in X-Postmark-Server-Token, the thread's headers in Headers, the reply's id
// in Metadata (whose keys Postmark allows 20 characters).
#include "channels/email/reply.hpp"
#include "channels/postmark/postmark.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

// Postmark's ErrorCodes that pass: 100 maintenance, 429-like rate limits are HTTP 429.
constexpr std::int64_t transient_codes[] = {100};

}  // namespace

result<http_call> build_postmark_send(const channel_config& cfg, const outgoing& o) {
  SB_TRY(m, email::reply_mail_for(cfg, o));
  json::array headers;
  if (!m->in_reply_to.empty())
    headers.push_back({{"Name", "In-Reply-To"}, {"Value", email::angle(m->in_reply_to)}});
  if (const auto refs = email::references_header(*m); !refs.empty())
    headers.push_back({{"Name", "References"}, {"Value", refs}});
  const json::object body{{"From", email::address_header(m->from)},
                          {"To", m->to},
                          {"Subject", m->subject},
                          {"TextBody", m->text},
                          {"Headers", std::move(headers)},
                          {"MessageStream", outbound_or(cfg, "message_stream", "outbound")},
                          {"Metadata", {{"switchboard_id", o.message_id}}}};
  http_call call;
  call.url = fmt::format("{}/email", outbound_or(cfg, "api_base", "https://api.postmarkapp.com"));
  call.headers = {{"Content-Type", "application/json"},
                  {"Accept", "application/json"},
                  {"X-Postmark-Server-Token", cfg.outbound->at("token")}};
  call.body = json::serialize(body);
  return call;
}

// 200 {"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}; an error: 401 or
// 422 {"ErrorCode": 300, "Message": "Invalid email request"}, 406 an inactive recipient.
send_outcome read_postmark_answer(const http_response& r) {
  auto a = read_coded_answer(r, "ErrorCode", "Message", transient_codes);
  if (a.outcome.what == send_outcome::kind::sent && a.body.is_object())
    a.outcome.provider_id = std::string(string_at(a.body.get_object(), "MessageID"));
  return a.outcome;
}

}  // namespace sb
