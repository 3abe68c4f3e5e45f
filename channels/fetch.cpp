// Fetching customers' files (channels/fetch.hpp): each kind's requests are its channel type's
// (channels/<type>/media.cpp); the `url` kind, a URL fetched as it is (Messenger's and
// Instagram's CDN URLs, a chat backend's), and what the kinds share are here.
#include "channels/fetch.hpp"
#include "channels/telegram/telegram.hpp"
#include "channels/twilio/twilio.hpp"
#include "channels/whatsapp/whatsapp.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <fmt/core.h>

#include <charconv>

namespace sb {

namespace {

using first_fn = result<fetch_step> (*)(const channel_config&, std::string_view);
using next_fn = result<fetch_step> (*)(const channel_config&, const http_response&);

result<fetch_step> first_url_fetch(const channel_config&, std::string_view url) {
  SB_TRY(step, fetch_get(url, true));
  step->follow_redirects = true;  // it carries no credentials
  return step;
}

struct kind_info {
  std::string_view name;
  std::string_view channel_type;  // the type whose channels fetch it; empty: every type
  first_fn first;
  next_fn next;  // nullptr: the first request is the file's
};

constexpr kind_info kinds[] = {
    {"whatsapp", "whatsapp", &first_whatsapp_fetch, &next_whatsapp_fetch},
    {"telegram", "telegram", &first_telegram_fetch, &next_telegram_fetch},
    {"twilio", "twilio", &first_twilio_fetch, nullptr},
    {"url", "", &first_url_fetch, nullptr},
};

result<const kind_info*> find_kind(const channel_config& cfg, std::string_view kind) {
  for (const auto& k : kinds) {
    if (k.name != kind) continue;
    if (!k.channel_type.empty() && k.channel_type != cfg.type)
      return error{errc::undeliverable,
                   fmt::format("a {} channel does not fetch {} media", cfg.type, kind)};
    return &k;
  }
  return error{errc::undeliverable, fmt::format("no fetch kind is called \"{}\"", kind)};
}

}  // namespace

result<fetch_step> first_fetch_step(const channel_config& cfg, std::string_view kind,
                                    std::string_view ref) {
  SB_TRY(k, find_kind(cfg, kind));
  if (ref.empty()) return error{errc::undeliverable, "the attachment names nothing to fetch"};
  return (*k)->first(cfg, ref);
}

result<fetch_step> next_fetch_step(const channel_config& cfg, std::string_view kind,
                                   const http_response& answer) {
  SB_TRY(k, find_kind(cfg, kind));
  if ((*k)->next == nullptr)
    return error{errc::internal, fmt::format("{} media are fetched in one request", kind)};
  return (*k)->next(cfg, answer);
}

bool fetchable_url(std::string_view url) noexcept {
  const auto u = boost::urls::parse_uri(url);
  if (!u || !u->has_authority() || u->encoded_host().empty()) return false;
  return u->scheme_id() == boost::urls::scheme::https ||
         u->scheme_id() == boost::urls::scheme::http;
}

result<fetch_step> fetch_get(std::string_view url, bool is_file) {
  if (!fetchable_url(url))
    return error{errc::undeliverable, "only http and https URLs are fetched"};
  fetch_step step;
  step.call.method = "GET";
  step.call.url = std::string(url);
  step.is_file = is_file;
  return step;
}

result<std::string_view> fetch_credential(const channel_config& cfg, std::string_view key) {
  const auto value = outbound_or(cfg, key, "");
  if (value.empty())
    return error{errc::undeliverable,
                 fmt::format("the channel has no outbound {} to fetch media with", key)};
  return value;
}

error fetch_failure(const send_outcome& outcome) {
  return {outcome.what == send_outcome::kind::retry ? errc::unavailable : errc::undeliverable,
          outcome.reason};
}

std::optional<std::int64_t> size_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  std::int64_t n = -1;
  if (v != nullptr && v->is_int64()) {
    n = v->get_int64();
  } else if (v != nullptr && v->is_string()) {
    const std::string_view text = v->get_string();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) n = -1;
  }
  return n >= 0 ? std::optional(n) : std::nullopt;
}

}  // namespace sb
