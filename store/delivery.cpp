#include "store/delivery.hpp"

#include "core/ids.hpp"
#include "core/time.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sb {
namespace {

int rank(std::string_view status) noexcept {
  if (status == "queued") return 0;
  if (status == "sent") return 1;
  if (status == "delivered") return 2;
  if (status == "read") return 3;
  return -1;
}

}  // namespace

bool status_moves_forward(std::string_view from, std::string_view to) noexcept {
  if (to == "failed") return from == "queued" || from == "sent";
  if (from == "failed") return false;
  const int a = rank(from);
  const int b = rank(to);
  return a >= 0 && b > a;
}

event_row make_status_event(const status_event& e) {
  const auto or_null = [](const std::string& v) {
    return v.empty() ? boost::json::value(nullptr) : boost::json::value(v);
  };
  event_row row;
  row.id = new_id(e.at);
  row.routing_key = "message.status." + e.status;
  row.created_at = e.at;
  row.body = boost::json::serialize(
      boost::json::object{{"schema", "switchboard.event/v1"},
                          {"id", row.id},
                          {"type", row.routing_key},
                          {"occurred_at", format_time(e.at)},
                          {"conversation_id", e.conversation_id},
                          {"message_id", e.message_id},
                          {"channel", e.channel},
                          {"status", e.status},
                          {"previous_status", e.previous_status},
                          {"provider_message_id", or_null(e.provider_message_id)},
                          {"reason", or_null(e.reason)},
                          {"attempts", e.attempts}});
  return row;
}

event_row make_customer_erased_event(const std::string& customer_id,
                                     const std::vector<std::string>& merged_ids,
                                     const std::vector<std::string>& conversation_ids, millis at) {
  const auto strings = [](const std::vector<std::string>& v) {
    boost::json::array out;
    for (const auto& s : v) out.emplace_back(s);
    return out;
  };
  event_row row;
  row.id = new_id(at);
  row.routing_key = "customer.erased";
  row.created_at = at;
  row.body =
      boost::json::serialize(boost::json::object{{"schema", "switchboard.event/v1"},
                                                 {"id", row.id},
                                                 {"type", row.routing_key},
                                                 {"occurred_at", format_time(at)},
                                                 {"customer_id", customer_id},
                                                 {"merged_ids", strings(merged_ids)},
                                                 {"conversation_ids", strings(conversation_ids)}});
  return row;
}

}  // namespace sb
