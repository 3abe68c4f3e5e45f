// The config's `server:` section (docs/configuration.md): the listening socket, request bounds,
// the read API's tokens and the rate limits in front of the pipeline.
#pragma once

#include "channels/crypto.hpp"
#include "core/config_fwd.hpp"
#include "routing/identity_list.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace sb {

// Token buckets in front of the request pipeline: one noisy sender, one misbehaving adapter
// or a flood of forged requests cannot starve the others. 429 + Retry-After past a limit. A
// rate of 0 turns that limit off; a burst of 0 means twice the rate.
struct rate_limit_config {
  std::uint32_t per_client = 0;  // webhook requests a second from one client address, any
  std::uint32_t per_client_burst = 0;
  // Authenticated webhook requests a second to one channel: only a request whose credential
  // was proven spends the channel's budget, so forged ones cannot use it up.
  std::uint32_t per_channel = 1000;
  std::uint32_t per_channel_burst = 0;
  // Refused requests a second from one client address (a bad signature, a malformed body, an
  // unknown channel): a client with none left is answered 429 as soon as its headers arrive.
  std::uint32_t refused_per_client = 10;
  std::uint32_t refused_per_client_burst = 0;
  // Read API requests and GET handshakes a second from one client address.
  std::uint32_t reads_per_client = 100;
  std::uint32_t reads_per_client_burst = 0;
  // Behind a reverse proxy every request comes from the proxy: take the client address from
  // the last X-Forwarded-For entry instead (only when the peer is a loopback address).
  bool trust_forwarded_for = false;
};

struct server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;                  // 0: one per core
  std::size_t max_body_bytes = 1 << 20;  // default per request; a channel may raise it
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{10000};
  std::optional<std::string> api_tokens_file;
  // Read from api_tokens_file, kept as digests (channels/crypto.hpp): a wrong token's time says
  // nothing of a right one. Empty: the read API is closed.
  secret_set api_tokens;
  rate_limit_config rate_limit;
  // Senders whose webhooks are answered 200 and dropped before anything is stored
  // (docs/operations.md, "Blocklist"): verified identities and e-mail domains, one a line.
  // Read at load, so a SIGHUP reload picks up changes. Null: nobody is blocked.
  std::optional<std::string> blocklist_file;
  std::shared_ptr<const identity_list> blocklist;
};

void parse_server_config(conf::reader& rd, const conf::field& f, server_config& out);

}  // namespace sb
