// Customers' files on Telegram: Bot API getFile (https://core.telegram.org/bots/api#getfile).
// The update names a file_id; getFile answers with a file_path, downloadable for at least an
// hour from /file/bot<token>/<file_path>. Bots get files of up to 20 MB: getFile refuses larger
// ones ("Bad Request: file is too big").
#include "channels/fetch.hpp"
#include "channels/telegram/telegram.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <fmt/core.h>

namespace sb {

namespace json = boost::json;

namespace {

std::string_view api_base(const channel_config& cfg) {
  return outbound_or(cfg, "api_base", telegram_default_api_base);
}

}  // namespace

result<fetch_step> first_telegram_fetch(const channel_config& cfg, std::string_view file_id) {
  SB_TRY(token, fetch_credential(cfg, "token"));
  return fetch_get(fmt::format("{}/bot{}/getFile?file_id={}", api_base(cfg), *token,
                               boost::urls::encode(file_id, boost::urls::unreserved_chars)),
                   false);
}

// {"ok": true, "result": {"file_id", "file_unique_id", "file_size": 84122, "file_path":
// "photos/file_1.jpg"}}; errors as sendMessage's (read_telegram_answer).
result<fetch_step> next_telegram_fetch(const channel_config& cfg, const http_response& answer) {
  SB_TRY(token, fetch_credential(cfg, "token"));
  const send_outcome outcome = read_telegram_answer(answer);
  if (outcome.what != send_outcome::kind::sent) return fetch_failure(outcome);
  boost::system::error_code ec;
  const json::value v = json::parse(answer.body, ec);
  const auto* result = !ec && v.is_object() ? v.get_object().if_contains("result") : nullptr;
  const auto* file = result ? result->if_object() : nullptr;
  const auto path = file ? string_at(*file, "file_path") : std::string_view();
  if (path.empty()) return error{errc::undeliverable, "Telegram's getFile answer has no file_path"};
  SB_TRY(step, fetch_get(fmt::format("{}/file/bot{}/{}", api_base(cfg), *token, path), true));
  step->size = size_at(*file, "file_size");
  return step;
}

}  // namespace sb
