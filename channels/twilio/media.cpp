// Customers' files through Twilio: a message's MediaUrl<N>
// (https://www.twilio.com/docs/messaging/api/media-resource#fetch-a-media-resource) or a call's
// RecordingUrl, fetched with the account's credentials (required when the account enforces
// HTTP auth on media). Twilio answers with a redirect to its storage, followed without them.
// The credentials go only to the host of Twilio's API: a MediaUrl elsewhere is not fetched.
#include "channels/fetch.hpp"
#include "channels/twilio/twilio.hpp"

#include <boost/url/parse.hpp>

namespace sb {

result<fetch_step> first_twilio_fetch(const channel_config& cfg, std::string_view media_url) {
  SB_TRY(sid, fetch_credential(cfg, "account_sid"));
  SB_TRY(token, fetch_credential(cfg, "token"));
  SB_TRY(step, fetch_get(media_url, true));
  const auto api = boost::urls::parse_uri(outbound_or(cfg, "api_base", twilio_default_api_base));
  const auto media = boost::urls::parse_uri(media_url);
  if (!api || !media || api->encoded_authority() != media->encoded_authority())
    return error{errc::undeliverable, "the media URL is not on Twilio's API host"};
  step->call.username = std::string(*sid);
  step->call.password = std::string(*token);
  step->follow_redirects = true;
  return step;
}

}  // namespace sb
