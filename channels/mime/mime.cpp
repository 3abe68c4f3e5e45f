// `mime`: one raw RFC 5322 message per request.
// The request pipeline, in order, and why each step sits where it does:
//   1. `Authorization: Bearer <secret>` against every configured secret: nothing in the
//      request is looked at before it is authenticated: 401;
//   2. Content-Type: message/rfc822 (parameters allowed): 415;
//   3. an empty body: 400;
//   4. GMime parse, bounded in parts, depth and headers; delivery and read reports
//      (multipart/report) are not customer messages: counted as ignored, 200;
//   5. the sender's address validated. A mail that cannot be read (step 4 or 5) is kept as
//      unreadable (answered 202): an MTA would bounce a refused mail, often to nobody.
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
  mime_adapter(const std::vector<std::string>& secrets, std::vector<std::string> trusted)
      : secrets_(secrets), trusted_(std::move(trusted)) {}

  // The credential is whole in the headers.
  error check_head(const request_view& head) const override {
    return email::check_bearer(head, secrets_);
  }
  result<parse_result> receive(const request_view& req) const override {
    if (error e = check_head(req); e.code != errc::ok) return e;
    return parse_verified(req);
  }
  bool keeps_unreadable() const noexcept override { return true; }

  result<parse_result> parse_verified(const request_view& req) const override {
    if (email::parse_content_type(req.header("content-type")).media_type != "message/rfc822")
      return error{errc::unsupported_media_type, "Content-Type must be message/rfc822"};
    if (req.body.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return error{errc::malformed, "the body is empty: it must be the mail (RFC 5322)"};
    auto parsed = email::parse_mime_message(req.body);
    // The MTA that posts the mail says whether its From passed DMARC or aligned DKIM, in an
    // Authentication-Results header of its own authserv-id (trusted_authserv_id).
    if (parsed) parsed->auth = email::from_authentication_results(parsed->trace_headers, trusted_);
    return email::to_result(std::move(parsed));
  }

 private:
  email::secret_set secrets_;
  std::vector<std::string> trusted_;  // authserv-ids whose Authentication-Results are believed
};

}  // namespace

result<std::unique_ptr<adapter>> make_mime_adapter(const channel_config& cfg) {
  if (error e = email::check_shared_secrets(cfg.secrets, "mime", min_secret_bytes);
      e.code != errc::ok)
    return e;
  email::init_gmime();
  return std::unique_ptr<adapter>(
      std::make_unique<mime_adapter>(cfg.secrets, email::trusted_authserv_id_option(cfg)));
}

}  // namespace sb
