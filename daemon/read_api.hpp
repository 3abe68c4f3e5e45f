// The read API for agents' tools, behind bearer tokens (server.api_tokens_file):
//   GET  /v1/conversations/{id}          the conversation with its full thread
//   POST /v1/conversations/{id}/close    close it; the customer's next message opens a new one
//   GET  /v1/customers/{id}              the customer, identities, conversations
//   GET  /v1/customers?identity=type:value
#pragma once

#include "channels/channel.hpp"
#include "daemon/pipeline.hpp"

#include <functional>
#include <string_view>

namespace sb {

class group_writer;
class store_reader;

class read_api {
 public:
  read_api(const config_holder& cfg, store_reader& reader, group_writer& writer)
      : cfg_(cfg), reader_(reader), writer_(writer) {}

  // Whether `path` belongs to the read API (then handle() answers it).
  static bool owns(std::string_view path) noexcept;
  void handle(const request_view& req, std::function<void(http_reply)> done);

 private:
  const config_holder& cfg_;
  store_reader& reader_;
  group_writer& writer_;
};

}  // namespace sb
