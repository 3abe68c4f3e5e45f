// The read API for agents' tools, behind bearer tokens (server.api_tokens_file):
//   GET  /v1/conversations/{id}          the conversation with its full thread
//   POST /v1/conversations/{id}/close    close it; the customer's next message opens a new one
//   POST /v1/conversations/{id}/messages an agent's reply (docs/replies.md), Idempotency-Key
//   GET  /v1/customers/{id}              the customer, identities, conversations
//   GET  /v1/customers?identity=type:value
//   DELETE /v1/customers/{id}            erase the customer (docs/operations.md, "Erasure")
//   GET  /v1/customers/{id}/export       everything stored about it (docs/export.schema.json)
//   GET  /v1/attachments/{id}            a file a customer sent (docs/attachments.md)
//   GET  /v1/unreadable[?status=pending|replayed|all&channel=&limit=]   kept deliveries
//   GET  /v1/unreadable/{id}             one, with its events' JSON
//   GET  /v1/unreadable/{id}/body        its body, exactly as received
//   POST /v1/unreadable/{id}/replay      read it again with the channel's current adapter
//   DELETE /v1/unreadable/{id}           forget it
//   GET  /v1/parked[?limit=]             outbox rows the broker refuses for good
//   POST /v1/parked/{seq}/republish      back into the outbox (after raising the broker's limit)
//   DELETE /v1/parked/{seq}              forget it (the message stays stored, unpublished)
#pragma once

#include "channels/channel.hpp"
#include "daemon/pipeline.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

class blob_store;
class group_writer;
class store_reader;

class read_api {
 public:
  read_api(const config_holder& cfg, store_reader& reader, group_writer& writer, pipeline& pipe,
           const blob_store& blobs)
      : cfg_(cfg), reader_(reader), writer_(writer), pipe_(pipe), blobs_(blobs) {}

  // The bearer token: errc::ok, or errc::unauthorized saying why (checked again by handle(),
  // first when the request's headers arrive).
  error authorize(const request_view& req) const;
  void handle(const request_view& req, std::function<void(http_reply)> done);

 private:
  // GET /v1/attachments/{id}: the bytes with their type; 503 while being fetched; 404 when
  // not kept.
  http_reply attachment(const std::string& id);
  void erase_customer(const std::string& id, millis now, std::function<void(http_reply)> done);
  void post_reply(const request_view& req, const std::string& conversation_id,
                  std::function<void(http_reply)> done);
  void unreadable(const request_view& req, const std::vector<std::string>& segs,
                  std::function<void(http_reply)> done);
  void parked(const request_view& req, const std::vector<std::string>& segs,
              std::function<void(http_reply)> done);

  const config_holder& cfg_;
  store_reader& reader_;
  group_writer& writer_;
  pipeline& pipe_;
  const blob_store& blobs_;
};

}  // namespace sb
