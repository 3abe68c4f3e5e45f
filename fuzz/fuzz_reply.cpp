// An agent's reply (replies/reply.hpp) under libFuzzer: the input is a body as it comes off the
// replies queue, and the same bytes as an HTTP API body for the seeds' conversation. Every
// answer is a reply or errc::malformed; an accepted reply holds what the contract promises
// (docs/reply.schema.json): its limits, an id, something to send.
#include "channels/common/text.hpp"
#include "channels/normalize.hpp"
#include "core/ascii.hpp"
#include "core/ids.hpp"
#include "fuzz/fuzz_support.hpp"
#include "replies/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

// The conversation of tests/data/replies/cases.json, whose bodies are the seeds.
constexpr std::string_view conversation = "0194f7a2-8c1e-7b3d-9a4f-1c2d3e4f5a6b";

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_reply: an accepted reply breaks the contract: %s\n", what);
  std::abort();
}

void check(const sb::result<sb::reply>& r, std::string_view what) {
  const sb::reply_limits limits;
  if (!r) {
    if (r.error().code != sb::errc::malformed) fail("refused other than as malformed");
    return sb::fuzz::check_error(r.error(), what);
  }
  if (!sb::is_id(r->conversation_id)) fail("conversation_id");
  if (r->text.size() > limits.text_bytes) fail("text over its limit");
  if (r->agent.id.empty() || sb::is_blank(r->agent.id)) fail("no agent id");
  if (r->attachments.size() > limits.attachments) fail("too many attachments");
  for (const auto& a : r->attachments)
    // The scheme is case-insensitive (RFC 3986 3.1): "htTps://" is an https URL.
    if (a.url.size() > limits.url_bytes || !sb::ascii_iequals(a.url.substr(0, 4), "http"))
      fail("an attachment's url");
  if (r->in_reply_to && !sb::is_id(*r->in_reply_to)) fail("in_reply_to");
  const auto one_line = [](std::string_view v) { return !sb::has_control_character(v); };
  if (!one_line(r->agent.id) || !one_line(r->agent.name) || !one_line(r->channel.value_or("")))
    fail("a control character in a one-line field");
  for (const auto& a : r->attachments)
    if (!one_line(a.name) || !one_line(a.content_type) || !one_line(a.url))
      fail("a control character in an attachment");
  if (sb::is_blank(r->text) && r->attachments.empty()) fail("nothing to send");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(sb::parse_reply(body, sb::reply_source::queue), "reply from the queue");
  check(sb::parse_reply(body, sb::reply_source::http, conversation), "reply over HTTP");
  return 0;
}
