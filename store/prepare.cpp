// What a request's messages become before the writer sees them (store.hpp, prepare): ids,
// dedupe keys and the message JSON, computed on the HTTP thread whatever the backend.
#include "channels/crypto.hpp"
#include "core/ids.hpp"
#include "store/payload.hpp"
#include "store/store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sb {

namespace {

// The unreadable events as the kept row stores them; an event's JSON is embedded as JSON.
std::string events_json(const std::vector<unreadable_event>& events) {
  boost::json::array out;
  for (const auto& e : events) {
    boost::json::object o{{"path", e.path}, {"reason", e.reason}};
    boost::system::error_code ec;
    boost::json::value event =
        e.event.empty() ? boost::json::value(nullptr) : boost::json::parse(e.event, ec);
    o["event"] = ec ? boost::json::value(nullptr) : std::move(event);
    out.push_back(std::move(o));
  }
  return boost::json::serialize(out);
}

// Providers that give no message id get a stable one: a hash of what identifies the message,
// so their retries still dedupe.
std::string derived_provider_id(const std::string& channel, const inbound_message& m) {
  std::string material = channel;
  material += '\0';
  if (!m.identities.empty())
    material += m.identities.front().type + ':' + m.identities.front().value;
  material += '\0';
  material += m.sent_at ? std::to_string(*m.sent_at) : std::string();
  material += '\0';
  material += m.subject;
  material += '\0';
  material += m.text;
  return "sha256:" + sha256_hex(material);
}

}  // namespace

void prepare(ingest_request& r) {
  r.prepared.clear();
  r.prepared.reserve(r.messages.size());
  for (const auto& m : r.messages) {
    prepared_message p;
    p.id = new_id(r.received_at);
    p.provider_id = m.provider_id.empty() ? derived_provider_id(r.channel, m) : m.provider_id;
    p.key_sha256 = sha256_hex(p.provider_id);
    // The payload shows the dedupe key, also when it is the store's own hash.
    p.body = message_json(m, {p.id, r.channel, r.channel_type, r.received_at, p.provider_id});
    r.prepared.push_back(std::move(p));
  }
  if (r.reply) {
    r.reply->id = new_id(r.received_at);
    r.reply->fingerprint = sha256_hex(canonical_json(r.reply->content));
  }
  if (r.kept) {
    r.kept->id = new_id(r.received_at);
    r.kept->body_sha256 = sha256_hex(r.kept->body);
    r.kept->events_json = events_json(r.kept->events);
  }
}

}  // namespace sb
