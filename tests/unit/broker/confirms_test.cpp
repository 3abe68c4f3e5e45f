#include "broker/confirms.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sb;

namespace {

outbox_row row(std::int64_t seq, std::size_t bytes) {
  outbox_row r;
  r.seq = seq;
  r.message_id = "m-" + std::to_string(seq);
  r.skill = "general";
  r.body = std::string(bytes, 'x');
  return r;
}

}  // namespace

// Issue #18: the window counts the bytes it holds, for the publisher's byte bound.
TEST_CASE("confirm_window tracks its rows' bytes through acks, nacks, returns and clears") {
  confirm_window w;
  CHECK(w.bytes() == 0);
  const auto t1 = w.add(row(1, 100));
  const auto t2 = w.add(row(2, 200));
  const auto t3 = w.add(row(3, 300));
  w.add(row(4, 400));
  CHECK((t1 == 1 && t2 == 2 && t3 == 3));
  CHECK(w.size() == 4);
  CHECK(w.bytes() == 1000);
  CHECK(w.holds(3));

  settlement s;
  w.settle(t1, /*multiple=*/false, /*ack=*/true, s);
  CHECK(w.bytes() == 900);
  REQUIRE(w.mark_returned("m-2") != nullptr);
  w.settle(t3, /*multiple=*/true, /*ack=*/true, s);  // 2 (returned) and 3
  CHECK(w.bytes() == 400);
  CHECK(s.confirmed.size() == 2);
  CHECK(s.returned.size() == 1);
  CHECK(s.returned[0].seq == 2);
  CHECK(w.clear() == 4);
  CHECK(w.bytes() == 0);
  CHECK(w.empty());
  w.add(row(5, 50));
  w.settle(0, /*multiple=*/true, /*ack=*/false, s);
  CHECK(s.nacked.size() == 1);
  CHECK(w.bytes() == 0);
}
