// The parking core on its own: park/unpark, validation, timeouts, the
// timeout-vs-unpark race, requeue, FIFO order, and a lost-wake-up stress.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/detail/parking_lot.hpp"

namespace pl = threading::detail::parking_lot;
using threading::detail::Deadline;
using namespace test_support;

TEST(ParkingLot, InvalidWhenValidateFails) {
  int key = 0;
  auto r = pl::park(
      &key, [] { return false; }, nullptr);
  EXPECT_EQ(r.status, pl::ParkStatus::kInvalid);
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

TEST(ParkingLot, UnparkOneWithNobodyRunsCallback) {
  int key = 0;
  bool called = false;
  auto r = pl::unpark_one(&key, [&](pl::UnparkResult u) {
    called = true;
    EXPECT_EQ(u.unparked_threads, 0u);
    EXPECT_FALSE(u.have_more_threads);
    return pl::Token{0};
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(r.unparked_threads, 0u);
}

TEST(ParkingLot, TimedParkNeverEarly) {
  int key = 0;
  for (double t : {0.0, 0.001, 0.02, 0.1}) {
    auto start = Clock::now();
    Deadline d = Deadline::after(t);
    auto r = pl::park(
        &key, [] { return true; }, &d);
    EXPECT_EQ(r.status, pl::ParkStatus::kTimedOut);
    expect_timeout(seconds_since(start), t);
  }
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

TEST(ParkingLot, UnparkHandsToken) {
  int key = 0;
  std::atomic<pl::Token> got{0};
  std::thread t([&] {
    auto r = pl::park(
        &key, [] { return true; }, nullptr);
    EXPECT_EQ(r.status, pl::ParkStatus::kUnparked);
    got = r.token;
  });
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&key) == 1; }));
  auto r = pl::unpark_one(&key, [](pl::UnparkResult u) {
    EXPECT_EQ(u.unparked_threads, 1u);
    EXPECT_FALSE(u.have_more_threads);
    return pl::Token{42};
  });
  EXPECT_EQ(r.unparked_threads, 1u);
  t.join();
  EXPECT_EQ(got.load(), 42u);
}

TEST(ParkingLot, FifoOrderAndUnparkN) {
  int key = 0;
  constexpr int kN = 6;
  std::vector<std::thread> threads;
  std::atomic<int> order{0};
  std::vector<int> woke_at(kN, -1);
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      pl::park(
          &key, [] { return true; }, nullptr);
      woke_at[i] = order.fetch_add(1);
    });
    // Enqueue strictly one after another so the queue order is known.
    ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&key) == static_cast<size_t>(i + 1); }));
  }
  auto r = pl::unpark_n(&key, 2, [](pl::UnparkResult u) {
    EXPECT_TRUE(u.have_more_threads);
    return pl::Token{0};
  });
  EXPECT_EQ(r.unparked_threads, 2u);
  ASSERT_TRUE(wait_until([&] { return order.load() == 2; }));
  EXPECT_EQ(pl::waiter_count(&key), 4u);
  EXPECT_EQ(pl::unpark_all(&key), 4u);
  for (auto& t : threads) t.join();
  // The first two parked were the first two woken.
  EXPECT_LT(woke_at[0], 2);
  EXPECT_LT(woke_at[1], 2);
}

TEST(ParkingLot, RequeueMovesWithoutWaking) {
  int from = 0, to = 0;
  constexpr int kN = 4;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&] {
      pl::park(
          &from, [] { return true; }, nullptr);
      woken.fetch_add(1);
    });
  }
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&from) == kN; }));
  auto r = pl::unpark_requeue(
      &from, &to, 3, [] { return pl::RequeueOp::kUnparkOneRequeueRest; },
      [](pl::RequeueOp, pl::UnparkResult u) {
        EXPECT_EQ(u.unparked_threads, 1u);
        EXPECT_EQ(u.requeued_threads, 2u);
        return pl::Token{0};
      });
  EXPECT_EQ(r.unparked_threads, 1u);
  EXPECT_EQ(r.requeued_threads, 2u);
  ASSERT_TRUE(wait_until([&] { return woken.load() == 1; }));
  EXPECT_EQ(pl::waiter_count(&from), 1u);
  EXPECT_EQ(pl::waiter_count(&to), 2u);
  EXPECT_EQ(pl::unpark_all(&to), 2u);
  EXPECT_EQ(pl::unpark_all(&from), 1u);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kN);
}

TEST(ParkingLot, RequeuedWaiterTimesOutOnNewKey) {
  int from = 0, to = 0;
  std::atomic<const void*> timed_out_key{nullptr};
  std::thread t([&] {
    Deadline d = Deadline::after(0.2);
    auto r = pl::park(
        &from, [] { return true; }, [] {},
        [&](const void* key, bool was_last) {
          timed_out_key = key;
          EXPECT_TRUE(was_last);
        },
        0, &d);
    EXPECT_EQ(r.status, pl::ParkStatus::kTimedOut);
  });
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&from) == 1; }));
  pl::unpark_requeue(
      &from, &to, SIZE_MAX, [] { return pl::RequeueOp::kRequeueAll; },
      [](pl::RequeueOp, pl::UnparkResult) { return pl::Token{0}; });
  t.join();
  EXPECT_EQ(timed_out_key.load(), static_cast<const void*>(&to));
  EXPECT_EQ(pl::waiter_count(&to), 0u);
}

// Each unpark is either reported by exactly one park or was never needed:
// with timeouts racing unparks, the number of kUnparked results must equal
// the number of threads the unparkers report having woken.
TEST(ParkingLot, TimeoutRacingUnparkIsNeverLost) {
  int key = 0;
  constexpr int kThreads = 4;
  constexpr int kRounds = 3000;
  std::atomic<long> reported{0}, unparked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> parkers;
  for (int i = 0; i < kThreads; ++i) {
    parkers.emplace_back([&] {
      for (int j = 0; j < kRounds; ++j) {
        Deadline d = Deadline::after(0.00001 * (j % 7));
        auto r = pl::park(
            &key, [] { return true; }, &d);
        if (r.status == pl::ParkStatus::kUnparked) reported.fetch_add(1);
      }
    });
  }
  std::thread unparker([&] {
    while (!stop.load()) {
      unparked.fetch_add(
          pl::unpark_one(&key, [](pl::UnparkResult) { return pl::Token{0}; }).unparked_threads);
    }
  });
  for (auto& t : parkers) t.join();
  stop = true;
  unparker.join();
  EXPECT_EQ(reported.load(), unparked.load());
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

// 10^6 hand-offs between two threads through a word + park/unpark: a lost
// wake-up would hang the test (ctest's timeout catches it).
TEST(ParkingLot, MillionHandoffsNoLostWakeup) {
  std::atomic<std::uint32_t> turn{0};
  constexpr int kHandoffs = 1000000 / kStressDivisor;
  auto player = [&](std::uint32_t me) {
    for (int i = 0; i < kHandoffs / 2; ++i) {
      while (turn.load(std::memory_order_acquire) != me) {
        pl::park(
            &turn, [&] { return turn.load(std::memory_order_relaxed) != me; }, nullptr);
      }
      turn.store(1 - me, std::memory_order_release);
      pl::unpark_all(&turn);
    }
  };
  std::thread a(player, 0), b(player, 1);
  a.join();
  b.join();
  EXPECT_EQ(pl::waiter_count(&turn), 0u);
}
