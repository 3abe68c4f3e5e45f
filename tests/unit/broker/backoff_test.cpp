#include "broker/backoff.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace sb;
using std::chrono::milliseconds;

TEST_CASE("backoff doubles from min per attempt and stops at max") {
  const backoff b(milliseconds{200}, milliseconds{30000});
  CHECK(b.ceiling(0) == milliseconds{200});
  CHECK(b.ceiling(1) == milliseconds{400});
  CHECK(b.ceiling(2) == milliseconds{800});
  CHECK(b.ceiling(7) == milliseconds{25600});
  CHECK(b.ceiling(8) == milliseconds{30000});     // 51200 capped
  CHECK(b.ceiling(1000) == milliseconds{30000});  // no overflow from a long outage
}

TEST_CASE("backoff keeps a zero min growing and a max below min at min") {
  const backoff zero(milliseconds{0}, milliseconds{10});
  CHECK(zero.ceiling(0) == milliseconds{1});
  CHECK(zero.ceiling(3) == milliseconds{8});
  CHECK(zero.ceiling(4) == milliseconds{10});
  const backoff inverted(milliseconds{500}, milliseconds{100});
  CHECK(inverted.ceiling(0) == milliseconds{500});
  CHECK(inverted.ceiling(5) == milliseconds{500});
}

TEST_CASE("backoff jitters each delay within the upper half of its ceiling") {
  backoff b(milliseconds{1000}, milliseconds{8000}, /*seed=*/42);
  for (unsigned attempt = 0; attempt < 6; ++attempt) {
    const auto ceiling = b.ceiling(attempt);
    std::set<milliseconds::rep> seen;
    for (int i = 0; i < 200; ++i) {
      const auto d = b(attempt);
      REQUIRE(d >= ceiling / 2);
      REQUIRE(d <= ceiling);
      seen.insert(d.count());
    }
    // Jitter, not a constant: daemons restarted together must not retry in lockstep.
    CHECK(seen.size() > 50);
  }
}

TEST_CASE("backoff with the same seed gives the same delays") {
  backoff a(milliseconds{100}, milliseconds{5000}, 7);
  backoff b(milliseconds{100}, milliseconds{5000}, 7);
  for (unsigned attempt = 0; attempt < 10; ++attempt) CHECK(a(attempt) == b(attempt));
}
