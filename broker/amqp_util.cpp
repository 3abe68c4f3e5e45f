#include "broker/amqp_util.hpp"

#include <charconv>

#include <fmt/core.h>

namespace sb::amqp {

outcome check(const amqp_rpc_reply_t& reply, std::string_view context) {
  outcome out;
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return out;
    case AMQP_RESPONSE_NONE:
      // rabbitmq-c returns this when the call never produced a reply (a bug on our side, or
      // a connection in an unknown state): the only safe reaction is a fresh connection.
      out.lost = loss::connection;
      out.text = fmt::format("{}: missing RPC reply", context);
      return out;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      out.lost = loss::connection;
      out.text = fmt::format("{}: {}", context, amqp_error_string2(reply.library_error));
      return out;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      break;
  }
  switch (reply.reply.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
      out.lost = loss::connection;
      out.reply_code = m->reply_code;
      out.text = fmt::format("{}: broker closed the connection: {} {}", context, m->reply_code,
                             view(m->reply_text));
      return out;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
      out.lost = loss::channel;
      out.reply_code = m->reply_code;
      out.text = fmt::format("{}: broker closed the channel: {} {}", context, m->reply_code,
                             view(m->reply_text));
      return out;
    }
    default: {
      const char* name = amqp_method_name(reply.reply.id);
      out.lost = loss::connection;
      out.text = fmt::format("{}: unexpected server method {}", context,
                             name ? name : fmt::format("0x{:08x}", reply.reply.id));
      return out;
    }
  }
}

std::optional<outcome> closed_by_broker(amqp_connection_state_t conn, const amqp_frame_t& frame,
                                        amqp_channel_t ch) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return std::nullopt;
  const void* m = frame.payload.method.decoded;
  if (frame.channel == 0 && frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(m);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    return outcome{loss::connection, close->reply_code,
                   fmt::format("the broker closed the connection: {} {}", close->reply_code,
                               view(close->reply_text))};
  }
  if (frame.channel == ch && frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(m);
    return outcome{loss::channel, close->reply_code,
                   fmt::format("the broker closed the channel: {} {}", close->reply_code,
                               view(close->reply_text))};
  }
  return std::nullopt;
}

outcome check(int status, std::string_view context) {
  outcome out;
  if (status == AMQP_STATUS_OK) return out;
  out.lost = loss::connection;
  out.text = fmt::format("{}: {}", context, amqp_error_string2(status));
  return out;
}

std::string_view inequivalent_argument(std::string_view text) noexcept {
  constexpr std::string_view marker = "inequivalent arg '";
  auto start = text.find(marker);
  if (start == std::string_view::npos) return {};
  start += marker.size();
  auto end = text.find('\'', start);
  if (end == std::string_view::npos) return {};
  return text.substr(start, end - start);
}

std::size_t max_message_size(std::string_view text) noexcept {
  // RabbitMQ 3.8 to 4.x: "message size ~B is larger than configured max size ~B" (or "than
  // max size ~B" at its hard limit). The limit is the number at the end.
  constexpr std::string_view lead = "message size ", marker = "max size ";
  if (text.find(lead) == std::string_view::npos) return 0;
  const auto at = text.rfind(marker);
  if (at == std::string_view::npos) return 0;
  const std::string_view digits = text.substr(at + marker.size());
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end == digits.data()) return 0;
  return n;
}

}  // namespace sb::amqp
