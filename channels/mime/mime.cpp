// `mime`: one raw RFC 5322 message per request.
// The request pipeline, in order, and why each step sits where it does:
//   1. `Authorization: Bearer <secret>` against every configured secret: nothing in the
//      request is looked at before it is authenticated: 401;
//   2. Content-Type: message/rfc822 (parameters allowed): 415;
//   3. GMime parse, bounded in parts, depth and headers: 400;
//   4. delivery and read reports (multipart/report) are not customer messages: counted as
//      ignored, 200;
//   5. the sender's address validated: 400 naming the header.
// The provider id is the Message-ID (without angle brackets); without one it stays empty and
// the store dedupes on a hash of the message.
#include "channels/mime/mime.hpp"

#include "channels/email/email.hpp"

#include <string>
#include <utility>
#include <vector>

namespace sb {
namespace {

constexpr std::size_t min_secret_bytes = 16;

class mime_adapter final : public adapter {
 public:
  explicit mime_adapter(const std::vector<std::string>& secrets) : secrets_(secrets) {}

  result<parse_result> receive(const request_view& req) const override {
    if (error e = email::check_bearer(req, secrets_); e.code != errc::ok) return e;
    if (email::parse_content_type(req.header("content-type")).media_type != "message/rfc822")
      return error{errc::unsupported_media_type, "Content-Type must be message/rfc822"};
    auto parsed = email::parse_mime_message(req.body);
    if (!parsed) return parsed.error();
    parse_result out;
    if (parsed->is_report) {
      out.ignored = 1;
      return out;
    }
    std::string provider_id = parsed->message_id;
    auto msg = email::to_inbound(std::move(*parsed));
    if (!msg) return msg.error();
    msg->provider_id = std::move(provider_id);
    out.messages.push_back(std::move(*msg));
    return out;
  }

 private:
  email::secret_set secrets_;
};

}  // namespace

result<std::unique_ptr<adapter>> make_mime_adapter(const channel_config& cfg) {
  if (error e = email::check_shared_secrets(cfg.secrets, "mime", min_secret_bytes);
      e.code != errc::ok)
    return e;
  email::init_gmime();
  return std::unique_ptr<adapter>(std::make_unique<mime_adapter>(cfg.secrets));
}

}  // namespace sb
