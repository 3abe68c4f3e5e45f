#include "broker/outbox_cursor.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace sb;
using std::chrono::milliseconds;
using steady = outbox_cursor::clock;

namespace {

std::vector<outbox_row> rows(std::initializer_list<std::int64_t> seqs) {
  std::vector<outbox_row> out;
  for (auto seq : seqs) {
    outbox_row r;
    r.seq = seq;
    out.push_back(r);
  }
  return out;
}

const steady::time_point t0{std::chrono::hours{1}};

}  // namespace

TEST_CASE("outbox_cursor follows what the fetches returned") {
  outbox_cursor c;
  CHECK(c.after() == 0);
  CHECK(c.more());
  // A full batch: there may be more behind it.
  CHECK_FALSE(c.fetched(rows({3, 4, 7}), 3));
  CHECK(c.after() == 7);
  CHECK(c.more());
  // A short batch reached the end: no more fetching until woken.
  CHECK(c.fetched(rows({9}), 3));
  CHECK(c.after() == 9);
  CHECK_FALSE(c.more());
  CHECK(c.fetched(rows({}), 3));
  CHECK(c.after() == 9);  // an empty fetch does not move it
  c.wake();
  CHECK(c.more());
  // The window filled before seq 12: it is read again.
  c.stop_before(12);
  CHECK(c.after() == 11);
  CHECK(c.more());
  c.fetched(rows({}), 5);
  c.restart();  // a new connection
  CHECK(c.after() == 0);
  CHECK(c.more());
}

TEST_CASE("outbox_cursor rescans from the lowest rescheduled seq at the earliest time") {
  outbox_cursor c;
  c.fetched(rows({10, 20, 30, 40}), 10);  // reached the end at 40
  CHECK_FALSE(c.rescan_pending());
  CHECK_FALSE(c.rewind_if_due(t0));

  c.reschedule(30, t0 + milliseconds{500});
  c.reschedule(20, t0 + milliseconds{900});  // lower seq, later time: both kept at their best
  c.reschedule(35, t0 + milliseconds{200});
  CHECK(c.rescan_pending());
  CHECK(c.rescan_from() == 20);
  CHECK(c.rescan_at() == t0 + milliseconds{200});

  CHECK_FALSE(c.rewind_if_due(t0 + milliseconds{199}));
  CHECK(c.after() == 40);
  CHECK_FALSE(c.more());

  CHECK(c.rewind_if_due(t0 + milliseconds{200}));
  CHECK(c.after() == 19);  // seq 20 is read again
  CHECK(c.more());
  CHECK_FALSE(c.rescan_pending());
  CHECK(c.rescan_at() == steady::time_point::max());
  CHECK_FALSE(c.rewind_if_due(t0 + milliseconds{10000}));  // done: no second rewind
  CHECK(c.after() == 19);
}

TEST_CASE("outbox_cursor never rewinds forward past rows not read yet") {
  outbox_cursor c;
  c.fetched(rows({1, 2, 3}), 3);
  c.reschedule(50, t0);
  CHECK(c.rewind_if_due(t0));
  CHECK(c.after() == 3);
}

TEST_CASE("outbox_cursor holds rows rescheduled without a time until retry_now") {
  outbox_cursor c;
  c.fetched(rows({5, 6, 7, 8}), 10);
  // A parked skill's rows wait for its probe: no time of their own.
  c.reschedule(6, steady::time_point::max());
  CHECK(c.rescan_pending());
  CHECK_FALSE(c.rewind_if_due(t0 + std::chrono::hours{1000}));
  c.retry_now(t0);  // the probe was confirmed
  CHECK(c.rescan_at() == t0);
  CHECK(c.rewind_if_due(t0));
  CHECK(c.after() == 5);

  // Nothing pending: retry_now schedules nothing.
  c.retry_now(t0);
  CHECK_FALSE(c.rescan_pending());
  CHECK_FALSE(c.rewind_if_due(t0));
}

TEST_CASE("outbox_cursor forgets its rescan when the connection is lost") {
  outbox_cursor c;
  c.fetched(rows({1, 2, 3, 4}), 10);
  c.reschedule(2, t0);
  c.forget_rescan();
  CHECK_FALSE(c.rescan_pending());
  CHECK(c.rescan_from() == 0);
  CHECK_FALSE(c.rewind_if_due(t0));
  CHECK(c.after() == 4);
}
