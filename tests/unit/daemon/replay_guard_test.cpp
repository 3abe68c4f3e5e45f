#include "daemon/replay_guard.hpp"

#include <doctest/doctest.h>

namespace {

using sb::replay_guard;
using sb::signature_use;

TEST_CASE("replay_guard: a signature is good once per content, until it expires") {
  replay_guard g;
  const signature_use first{"tok-1", "digest-a", 10'000};
  CHECK(g.check("mg", first, 1'000) == replay_guard::verdict::fresh);
  // The provider's retry of the same request: let through, the store dedupes.
  CHECK(g.check("mg", first, 2'000) == replay_guard::verdict::retry);
  // The same token with other content: a captured signature, replayed.
  CHECK(g.check("mg", {"tok-1", "digest-b", 10'000}, 3'000) == replay_guard::verdict::replay);
  // Keys are per channel.
  CHECK(g.check("other", {"tok-1", "digest-b", 10'000}, 3'000) == replay_guard::verdict::fresh);
  // Past its time the entry is gone (the signature's own timestamp check refuses it anyway).
  CHECK(g.check("mg", {"tok-1", "digest-c", 20'000}, 11'000) == replay_guard::verdict::fresh);
}

TEST_CASE("replay_guard: what the store kept is loaded at start") {
  replay_guard g;
  g.load("sw", {"msg_1", "digest-a", 50'000});
  CHECK(g.size() == 1);
  CHECK(g.check("sw", {"msg_1", "digest-x", 50'000}, 1'000) == replay_guard::verdict::replay);
  CHECK(g.check("sw", {"msg_1", "digest-a", 50'000}, 1'000) == replay_guard::verdict::retry);
}

TEST_CASE("replay_guard: expired entries are forgotten as new ones come") {
  replay_guard g;
  for (int i = 0; i < 100; ++i) g.check("mg", {"t" + std::to_string(i), "d", 1'000 + i}, 0);
  CHECK(g.size() == 100);
  for (int i = 0; i < 10; ++i) g.check("mg", {"new" + std::to_string(i), "d", 90'000}, 5'000);
  CHECK(g.size() < 100);  // 16 expired ones go per call
}

TEST_CASE("replay_guard: keys are told apart by channel and key whole, expiries in any order") {
  replay_guard g;
  // The same bytes split differently are different (channel, key) pairs.
  CHECK(g.check("ab", {"c", "d", 10'000}, 0) == replay_guard::verdict::fresh);
  CHECK(g.check("a", {"bc", "d", 10'000}, 0) == replay_guard::verdict::fresh);
  CHECK(g.size() == 2);
  // Entries inserted with expiries out of order still go soonest first.
  replay_guard h;
  for (int i = 0; i < 50; ++i) h.check("sw", {"late" + std::to_string(i), "d", 100'000}, 0);
  for (int i = 0; i < 50; ++i) h.check("sw", {"soon" + std::to_string(i), "d", 2'000}, 0);
  for (int i = 0; i < 10; ++i) h.check("sw", {"x" + std::to_string(i), "d", 100'000}, 3'000);
  CHECK(h.size() == 60);  // the 50 soon ones are gone, every late one and the 10 new stay
  CHECK(h.check("sw", {"late7", "other", 100'000}, 4'000) == replay_guard::verdict::replay);
}

}  // namespace
