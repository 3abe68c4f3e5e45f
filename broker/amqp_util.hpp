// Small helpers around rabbitmq-c: every reply and status code the publisher gets goes through
// `check` here, which turns it into a readable sentence and says how much was lost (nothing,
// the channel, or the whole connection). No I/O happens in this file.
#pragma once

#include <amqp.h>
#include <amqp_framing.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::amqp {

// What a failed call cost us. A channel-level error (e.g. 406 PRECONDITION_FAILED on a
// declare) closes only the channel; library errors (socket, heartbeat, RPC timeout) and
// connection.close from the server end the connection.
enum class loss { none, channel, connection };

struct outcome {
  loss lost = loss::none;
  std::uint16_t reply_code = 0;  // server exceptions only: 406, 404, 320, ...
  std::string text;              // readable, with the context: "declare queue q: server ..."
  explicit operator bool() const noexcept { return lost == loss::none; }
};

// An RPC reply (amqp_get_rpc_reply, amqp_login, amqp_read_message, ...).
outcome check(const amqp_rpc_reply_t& reply, std::string_view context);
// A status code returned by a non-RPC call (amqp_basic_publish, amqp_send_method, ...).
// Every failure here is a connection loss: rabbitmq-c gives no partial-success codes.
outcome check(int status, std::string_view context);

// A method frame read outside an RPC that closes the connection (answered with close-ok here)
// or channel `ch`: the loss, for the reader's reconnect. nullopt for any other frame.
std::optional<outcome> closed_by_broker(amqp_connection_state_t conn, const amqp_frame_t& frame,
                                        amqp_channel_t ch);

// Views a string as AMQP bytes without copying. rabbitmq-c's amqp_bytes_t is not const, but
// every function the publisher passes it to only reads.
inline amqp_bytes_t bytes(std::string_view s) noexcept {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(amqp_bytes_t b) noexcept {
  return b.len == 0 ? std::string_view{}
                    : std::string_view(static_cast<const char*>(b.bytes), b.len);
}

// Field-table entries (connection properties, message headers). The entry points into the
// strings it was given: they must outlive it.
inline amqp_table_entry_t utf8_entry(std::string_view key, std::string_view value) noexcept {
  amqp_table_entry_t e{};
  e.key = bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = bytes(value);
  return e;
}
inline amqp_table_entry_t bool_entry(std::string_view key, bool value) noexcept {
  amqp_table_entry_t e{};
  e.key = bytes(key);
  e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  e.value.value.boolean = value ? 1 : 0;
  return e;
}

// From RabbitMQ's "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue ..."
// the argument's name ("x-max-priority"), or "" when the text names none.
std::string_view inequivalent_argument(std::string_view reply_text) noexcept;

// From RabbitMQ's "PRECONDITION_FAILED - message size 6291600 is larger than configured max
// size 5242880" (a publish above the broker's max_message_size, which closes the channel)
// the limit, 5242880; 0 when the text is not that refusal.
std::size_t max_message_size(std::string_view reply_text) noexcept;

}  // namespace sb::amqp
