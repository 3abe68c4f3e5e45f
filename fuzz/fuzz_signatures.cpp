// The signature, token and credential parsers under libFuzzer, every one on every input (one
// request in the text format of fuzz_support.hpp):
//   - Standard Webhooks: webhook-id, webhook-timestamp and the webhook-signature list (chat,
//     callback), verify_standard_webhook;
//   - Meta: X-Hub-Signature-256 (meta::verify_signature) and the GET hub.* handshake query;
//   - X: x-twitter-webhooks-signature, Twilio: X-Twilio-Signature over the form parameters,
//     Mailgun: the timestamp / token / signature fields, Telegram: the secret-token header;
//     their parsers are private to the adapters, so those adapters' receive() runs;
//   - basic and bearer Authorization (sendgrid, postmark, mime), the Content-Type parsers;
//   - base64 and hex, which every scheme decodes with: each header value must survive a
//     decode / encode round trip unchanged when it decodes (the decoders are strict, one
//     spelling per byte string), and the body an encode / decode one.
// In this build any signature of the right shape matches (channels/crypto.cpp): what is
// exercised is everything up to the compare. A broken round trip aborts: that is a finding.
#include "channels/email/email.hpp"
#include "channels/json_body.hpp"
#include "channels/meta/meta.hpp"
#include "channels/standard_webhooks.hpp"
#include "fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

namespace sb::fuzz {
namespace {

// The keys of fuzz_support.hpp's channels, as their verifiers take them.
struct verifiers {
  std::vector<std::string> standard_keys{
      *decode_standard_webhooks_secret(config_for("chat").secrets.front())};
  std::vector<std::string> meta_secrets = config_for("messenger").secrets;
  std::vector<std::string> verify_tokens{config_for("messenger").options.at("verify_token")};
  secret_set verify_token{verify_tokens};
  email::secret_set passwords{config_for("sendgrid").secrets};
  // The adapters whose signature parsing is private to them.
  std::vector<std::pair<std::string, std::unique_ptr<adapter>>> adapters;

  verifiers() {
    for (const char* type : {"x", "twilio", "mailgun", "telegram"})
      adapters.emplace_back(type + std::string(" receive"), make_adapter(config_for(type)));
  }
};

[[noreturn]] void round_trip_broken(std::string_view codec, std::string_view in,
                                    std::string_view out) {
  std::fprintf(stderr, "fuzz: %.*s round trip changed %zu bytes into %zu: \"%s\" -> \"%s\"\n",
               static_cast<int>(codec.size()), codec.data(), in.size(), out.size(),
               std::string(in.substr(0, 200)).c_str(), std::string(out.substr(0, 200)).c_str());
  std::abort();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

// A header value (or one of its comma/space separated items) as a base64 or hex text.
void check_text_codecs(std::string_view text) {
  if (const auto bytes = base64_decode(text)) {
    if (const std::string again = base64_encode(*bytes); again != text)
      round_trip_broken("base64 decode/encode", text, again);
  }
  if (const auto bytes = hex_decode(text)) {
    if (const std::string again = hex_encode(*bytes); again != lower(text))
      round_trip_broken("hex decode/encode", text, again);
  }
  (void)decode_standard_webhooks_secret(text);
}

// Arbitrary bytes (the body): large ones cross the codecs' internal chunk boundaries.
void check_byte_codecs(std::string_view bytes) {
  const auto back = base64_decode(base64_encode(bytes));
  if (!back || *back != bytes) round_trip_broken("base64 encode/decode", bytes, back.value_or(""));
  const auto hex_back = hex_decode(hex_encode(bytes));
  if (!hex_back || *hex_back != bytes)
    round_trip_broken("hex encode/decode", bytes, hex_back.value_or(""));
}

}  // namespace
}  // namespace sb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sb;
  static const fuzz::verifiers v;
  const fuzz::text_request text({reinterpret_cast<const char*>(data), size});
  const request_view& req = text.view();

  fuzz::check_error(verify_standard_webhook(req, v.standard_keys, std::chrono::seconds{300}),
                    "standard webhooks");
  fuzz::check_error(meta::verify_signature(req, v.meta_secrets), "meta signature");
  fuzz::check(meta::verify_handshake(req, v.verify_token), "meta handshake");
  fuzz::check_error(email::check_basic_auth(req, v.passwords, "parse"), "basic auth");
  fuzz::check_error(email::check_bearer(req, v.passwords), "bearer");
  fuzz::check_error(check_json_content_type(req.header("content-type")), "json content type");
  (void)email::parse_content_type(req.header("content-type"));
  for (const auto& [what, a] : v.adapters) fuzz::check(a->receive(req), what);

  for (const header_field& h : req.headers) {
    fuzz::check_text_codecs(h.value);
    // "v1,<base64> v1,<base64>", "sha256=<hex>": the items the schemes decode.
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto cut = rest.find_first_of(" ,");
      const std::string_view item = rest.substr(0, cut);
      rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
      fuzz::check_text_codecs(item);
      if (const auto eq = item.find('=');
          eq != item.npos && eq + 1 < item.size() && item[eq + 1] != '=')
        fuzz::check_text_codecs(item.substr(eq + 1));
    }
  }
  fuzz::check_byte_codecs(req.body);
  return 0;
}
