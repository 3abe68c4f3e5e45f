// build_payload writes its JSON itself (store/payload.cpp): the text Boost.JSON built before.
#include "store/payload.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <random>

using namespace sb;

namespace {

// What build_payload wrote before, with Boost.JSON building the conversation and customer.
std::string reference(const conversation_view& conv, const customer_view& customer,
                      std::string_view message, std::span<const std::string> thread,
                      bool truncated) {
  boost::json::object c;
  c["id"] = conv.id;
  c["status"] = conv.status;
  c["skill"] = conv.skill ? boost::json::value(*conv.skill) : boost::json::value(nullptr);
  c["priority"] = conv.priority;
  c["opened_at"] = format_time(conv.opened_at);
  c["last_message_at"] = format_time(conv.last_message_at);
  c["message_count"] = conv.message_count;
  boost::json::object cu;
  cu["id"] = customer.id;
  cu["name"] = customer.name.empty() ? boost::json::value(nullptr)
                                     : boost::json::value(customer.name);
  boost::json::array ids;
  for (const auto& i : customer.identities)
    ids.push_back({{"type", i.type}, {"value", i.value}, {"verified", i.verified}});
  cu["identities"] = std::move(ids);
  std::string out = R"({"schema":"switchboard.conversation/v1","conversation":)";
  out += boost::json::serialize(c) + R"(,"customer":)" + boost::json::serialize(cu);
  out += R"(,"message":)" + std::string(message) + R"(,"thread":[)";
  for (std::size_t i = 0; i < thread.size(); ++i) out += (i ? "," : "") + thread[i];
  out += R"(],"thread_truncated":)";
  out += truncated ? "true}" : "false}";
  return out;
}

}  // namespace

TEST_CASE("build_payload writes what Boost.JSON wrote, byte for byte") {
  std::mt19937 rng(3);
  const auto str = [&] {
    std::string s(rng() % 12, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng() % 5 == 0 ? rng() % 0x30 : 'A' + rng() % 60);
    return s;
  };
  for (int i = 0; i < 2000; ++i) {
    conversation_view conv{str(), str(), std::nullopt, static_cast<int>(rng() % 20) - 5,
                           static_cast<millis>(rng()) * 1000, static_cast<millis>(rng()) * 997,
                           static_cast<std::int64_t>(rng() % 100000)};
    if (rng() % 2) conv.skill = str();
    customer_view customer{str(), rng() % 3 ? str() : std::string(), {}};
    for (unsigned n = rng() % 4; n > 0; --n) customer.identities.push_back({str(), str(), rng() % 2 == 0});
    const std::vector<std::string> thread{R"({"id":"a"})", R"({"id":"b","text":"x\ny"})"};
    const bool truncated = rng() % 2;
    REQUIRE(build_payload(conv, customer, thread.back(), thread, truncated) ==
            reference(conv, customer, thread.back(), thread, truncated));
  }
}
