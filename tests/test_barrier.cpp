// threading::Barrier: our C++ version of CPython's lock_tests.BarrierTests,
// the SPEC §2/§11 rows that apply to C++, and stress: thousands of reused
// generations, and abort/reset storms with waiters inside.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/barrier.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"

using threading::Barrier;
using threading::BrokenBarrierError;
using namespace test_support;

namespace {

constexpr int kN = 5;              // lock_tests.BarrierTests.N
constexpr double kDefault = 60.0;  // a default timeout no correct test reaches

// Runs f(i) in kN threads and joins them.
void run_threads(const std::function<void(int)>& f) { Bunch bunch(kN, f); }

struct ActionError : std::runtime_error {
  ActionError() : std::runtime_error("action failed") {}
};

}  // namespace

// BR-02 (3.13 rule): parties must be > 0.
TEST(Barrier, Constructor) {
  try {
    Barrier b(0);
    FAIL() << "no exception";
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "parties must be > 0");
  }
  Barrier b(3, {}, 1.5);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  // EXC-02: BrokenBarrierError is a RuntimeError.
  static_assert(std::is_base_of_v<threading::RuntimeError, BrokenBarrierError>);
}

namespace {
// lock_tests multipass: all threads pass the barrier in lockstep.
void multipass(Barrier& barrier, std::atomic<int>& phase0, std::atomic<int>& phase1, int passes) {
  for (int i = 0; i < passes; ++i) {
    phase0.fetch_add(1);
    EXPECT_EQ(phase1.load(), i * kN);
    barrier.wait();
    phase1.fetch_add(1);
    EXPECT_EQ(phase0.load(), (i + 1) * kN);
    barrier.wait();
  }
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}
}  // namespace

TEST(Barrier, Lockstep) {
  Barrier barrier(kN, {}, kDefault);
  std::atomic<int> a{0}, b{0};
  run_threads([&](int) { multipass(barrier, a, b, 1); });
}

TEST(Barrier, Lockstep10) {
  Barrier barrier(kN, {}, kDefault);
  std::atomic<int> a{0}, b{0};
  run_threads([&](int) { multipass(barrier, a, b, 10); });
}

// BR-04: the indices are distinct, 0..parties-1.
TEST(Barrier, WaitReturn) {
  Barrier barrier(kN, {}, kDefault);
  std::mutex mu;
  std::multiset<std::size_t> indices;
  run_threads([&](int) {
    std::size_t i = barrier.wait();
    std::lock_guard g(mu);
    indices.insert(i);
  });
  std::multiset<std::size_t> expected;
  for (std::size_t i = 0; i < kN; ++i) expected.insert(i);
  EXPECT_EQ(indices, expected);
}

// BR-04/BR-05: indices follow arrival order; the last arriver runs the action.
TEST(Barrier, IndicesInArrivalOrder) {
  std::thread::id action_thread;
  Barrier barrier(4, [&] { action_thread = std::this_thread::get_id(); });
  std::vector<std::size_t> got(4, 99);
  std::vector<std::thread::id> ids(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      ids[i] = std::this_thread::get_id();
      got[i] = barrier.wait();
    });
    ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == std::size_t(i + 1); }));
  }
  ids[3] = std::this_thread::get_id();
  got[3] = barrier.wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(action_thread, ids[3]);
}

// BR-05/BR-07: the action runs once, before anyone is released, and sees
// n_waiting == parties.
TEST(Barrier, Action) {
  std::atomic<int> runs{0};
  std::size_t waiting_in_action = 0;
  bool broken_in_action = true;
  Barrier* self = nullptr;
  Barrier barrier(kN, [&] {
    runs.fetch_add(1);
    waiting_in_action = self->n_waiting();
    broken_in_action = self->broken();
  });
  self = &barrier;
  run_threads([&](int) {
    barrier.wait();
    EXPECT_EQ(runs.load(), 1);
  });
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(waiting_in_action, std::size_t(kN));
  EXPECT_FALSE(broken_in_action);
}

// BR-06: a throwing action breaks the barrier; its thread gets the action's
// exception, the others BrokenBarrierError. reset() makes it usable again.
TEST(Barrier, ActionThrows) {
  bool fail = true;
  Barrier barrier(3, [&] {
    if (fail) throw ActionError();
  });
  std::atomic<int> broken_errors{0}, action_errors{0}, ok{0};
  auto body = [&](int) {
    try {
      barrier.wait();
      ok.fetch_add(1);
    } catch (const ActionError&) {
      action_errors.fetch_add(1);
    } catch (const BrokenBarrierError&) {
      broken_errors.fetch_add(1);
    }
  };
  { Bunch bunch(3, body); }
  EXPECT_EQ(action_errors.load(), 1);
  EXPECT_EQ(broken_errors.load(), 2);
  EXPECT_EQ(ok.load(), 0);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);  // BR-13
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  fail = false;
  { Bunch bunch(3, body); }
  EXPECT_EQ(ok.load(), 3);
}

// lock_tests test_abort.
TEST(Barrier, Abort) {
  Barrier barrier(kN, {}, kDefault);
  std::atomic<int> passed{0}, broke{0};
  run_threads([&](int) {
    try {
      std::size_t i = barrier.wait();
      if (i == kN / 2) throw std::logic_error("one thread gives up");
      barrier.wait();
      passed.fetch_add(1);
    } catch (const BrokenBarrierError&) {
      broke.fetch_add(1);
    } catch (const std::logic_error&) {
      barrier.abort();
    }
  });
  EXPECT_EQ(passed.load(), 0);
  EXPECT_EQ(broke.load(), kN - 1);
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);  // BR-19: 0 while broken
  barrier.abort();                     // BR-14: twice is harmless
  EXPECT_TRUE(barrier.broken());
}

// lock_tests test_reset: reset() frees the waiters with BrokenBarrierError
// and the barrier is reusable at once.
TEST(Barrier, Reset) {
  Barrier barrier(kN, {}, kDefault);
  std::atomic<int> passed{0}, broke{0}, again{0};
  run_threads([&](int) {
    std::size_t i = barrier.wait();
    if (i == kN / 2) {
      ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == kN - 1; }));
      barrier.reset();
    } else {
      try {
        barrier.wait();
        passed.fetch_add(1);
      } catch (const BrokenBarrierError&) {
        broke.fetch_add(1);
      }
    }
    barrier.wait();  // pass the barrier again
    again.fetch_add(1);
  });
  EXPECT_EQ(passed.load(), 0);
  EXPECT_EQ(broke.load(), kN - 1);
  EXPECT_EQ(again.load(), kN);
  EXPECT_FALSE(barrier.broken());
}

// lock_tests test_abort_and_reset.
TEST(Barrier, AbortAndReset) {
  Barrier barrier(kN, {}, kDefault);
  Barrier barrier2(kN);
  std::atomic<int> passed{0}, broke{0}, again{0};
  run_threads([&](int) {
    try {
      std::size_t i = barrier.wait();
      if (i == kN / 2) throw std::logic_error("give up");
      barrier.wait();
      passed.fetch_add(1);
    } catch (const BrokenBarrierError&) {
      broke.fetch_add(1);
    } catch (const std::logic_error&) {
      barrier.abort();
    }
    // Everyone has left `barrier` before the reset, nobody re-enters before it.
    if (barrier2.wait() == kN / 2) barrier.reset();
    barrier2.wait();
    barrier.wait();
    again.fetch_add(1);
  });
  EXPECT_EQ(passed.load(), 0);
  EXPECT_EQ(broke.load(), kN - 1);
  EXPECT_EQ(again.load(), kN);
}

// lock_tests test_timeout (BR-08/BR-09), made deterministic: one party never
// arrives, the others' short per-call timeout expires, and every waiter of
// that cycle raises. The constructor's long default is overridden.
TEST(Barrier, Timeout) {
  Barrier barrier(kN, {}, kDefault);
  std::atomic<int> broke{0};
  {
    Bunch bunch(kN - 1, [&](int) {
      auto start = Clock::now();
      try {
        barrier.wait(0.1);
      } catch (const BrokenBarrierError&) {
        broke.fetch_add(1);
      }
      EXPECT_LT(seconds_since(start), 30.0);
    });
  }
  EXPECT_EQ(broke.load(), kN - 1);
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
  // The late thread finds it broken (BR-13).
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);
}

// The timed-out waiter waits its whole timeout; the others are woken by it.
TEST(Barrier, TimeoutNeverEarly) {
  for (double t : {0.001, 0.02, 0.1}) {
    Barrier barrier(2);
    auto start = Clock::now();
    EXPECT_THROW(barrier.wait(t), BrokenBarrierError);
    expect_timeout(seconds_since(start), t);
    EXPECT_TRUE(barrier.broken());
  }
}

// lock_tests test_default_timeout: wait() uses the constructor's timeout.
TEST(Barrier, DefaultTimeout) {
  Barrier barrier(2, {}, 0.1);
  auto start = Clock::now();
  std::thread([&] { EXPECT_THROW(barrier.wait(), BrokenBarrierError); }).join();
  expect_timeout(seconds_since(start), 0.1);
  Barrier chrono_default(2, {}, std::chrono::milliseconds(20));
  start = Clock::now();
  EXPECT_THROW(chrono_default.wait(std::nullopt), BrokenBarrierError);
  expect_timeout(seconds_since(start), 0.02);
}

// BR-08: a per-call timeout overrides a shorter default.
TEST(Barrier, PerCallTimeoutOverridesDefault) {
  Barrier barrier(2, {}, 0.001);
  std::size_t index = 99;
  std::thread t([&] { index = barrier.wait(60.0); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  // Let well over the default's 1 ms pass (time passing, not a handshake).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.wait(60.0), 1u);
  t.join();
  EXPECT_EQ(index, 0u);
}

// lock_tests test_single_thread, BR-21: Barrier(1) never blocks, and the
// action runs on every call.
TEST(Barrier, SingleThread) {
  int runs = 0;
  Barrier b(1, [&] { ++runs; });
  EXPECT_EQ(b.wait(), 0u);
  EXPECT_EQ(b.wait(), 0u);
  EXPECT_EQ(b.wait(0), 0u);  // the last arriver never times out
  EXPECT_EQ(b.wait(-1), 0u);
  EXPECT_EQ(b.wait(1e100), 0u);  // nor looks at the timeout at all
  EXPECT_EQ(runs, 5);
  EXPECT_FALSE(b.broken());
}

// BR-10: a timeout <= 0 breaks the barrier at once, unless the caller is last.
TEST(Barrier, NonPositiveTimeoutBreaksUnlessLast) {
  for (double t : {0.0, -1.0, -1e300}) {
    Barrier barrier(2);
    EXPECT_THROW(barrier.wait(t), BrokenBarrierError);
    EXPECT_TRUE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0u);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());  // BR-16: broken and empty -> usable at once
  }
  Barrier barrier(2);
  std::size_t first = 99;
  std::thread t([&] { first = barrier.wait(); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_EQ(barrier.wait(0), 1u);  // last: trips normally
  t.join();
  EXPECT_EQ(first, 0u);
  EXPECT_FALSE(barrier.broken());
}

// A waiter with a <= 0 timeout wakes the threads already waiting.
TEST(Barrier, ZeroTimeoutWakesOthers) {
  Barrier barrier(3);
  std::atomic<int> broke{0};
  std::thread t([&] {
    try {
      barrier.wait();
    } catch (const BrokenBarrierError&) {
      broke.fetch_add(1);
    }
  });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_THROW(barrier.wait(0), BrokenBarrierError);
  t.join();
  EXPECT_EQ(broke.load(), 1);
}

// BR-11: NaN never times out.
TEST(Barrier, NanNeverTimesOut) {
  Barrier barrier(2, {}, std::nan(""));
  std::size_t first = 99;
  std::thread t([&] { first = barrier.wait(std::nan("")); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.wait(), 1u);  // the constructor's NaN default
  t.join();
  EXPECT_EQ(first, 0u);
}

// BR-12: above TIMEOUT_MAX raises OverflowError for a caller that would wait,
// and leaves the barrier untouched.
TEST(Barrier, HugeTimeoutIsOverflowErrorAndNotBroken) {
  const double kInf = std::numeric_limits<double>::infinity();
  Barrier barrier(3);
  for (double t : {threading::TIMEOUT_MAX * 2, 1e100, kInf}) {
    try {
      barrier.wait(t);
      ADD_FAILURE() << "no exception";
    } catch (const threading::OverflowError& e) {
      EXPECT_STREQ(e.what(), "timestamp out of range for platform time_t");
    }
    EXPECT_FALSE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0u);
  }
  // With a thread waiting: n_waiting is restored, the cycle goes on.
  std::vector<std::size_t> got(2, 99);
  std::thread t([&] { got[0] = barrier.wait(); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_THROW(barrier.wait(kInf), threading::OverflowError);
  EXPECT_EQ(barrier.n_waiting(), 1u);
  EXPECT_FALSE(barrier.broken());
  std::thread u([&] { got[1] = barrier.wait(threading::TIMEOUT_MAX); });  // max is accepted
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 2; }));
  EXPECT_EQ(barrier.wait(kInf), 2u);  // the last arriver does not wait: no error
  t.join();
  u.join();
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1}));
  // The constructor's default is checked the same way, at wait().
  Barrier huge_default(2, {}, kInf);
  EXPECT_THROW(huge_default.wait(), threading::OverflowError);
  EXPECT_FALSE(huge_default.broken());
}

// BR-14/BR-19: abort() frees current waiters; later waits raise until reset().
TEST(Barrier, AbortWakesWaitersAndSticks) {
  Barrier barrier(4);
  std::atomic<int> broke{0};
  {
    Bunch bunch(3, [&](int) {
      try {
        barrier.wait();
      } catch (const BrokenBarrierError&) {
        broke.fetch_add(1);
      }
    });
    ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 3; }));
    barrier.abort();
    EXPECT_EQ(barrier.n_waiting(), 0u);
  }
  EXPECT_EQ(broke.load(), 3);
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);
  EXPECT_THROW(barrier.wait(10.0), BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

// BR-15/BR-16: reset() on an idle barrier does nothing; with waiters it frees
// them and leaves the barrier reusable.
TEST(Barrier, ResetWakesWaitersAndIsReusable) {
  Barrier barrier(3);
  barrier.reset();  // idle: no effect
  EXPECT_FALSE(barrier.broken());
  std::atomic<int> broke{0};
  {
    Bunch bunch(2, [&](int) {
      try {
        barrier.wait();
      } catch (const BrokenBarrierError&) {
        broke.fetch_add(1);
      }
    });
    ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 2; }));
    barrier.reset();
  }
  EXPECT_EQ(broke.load(), 2);
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
  std::vector<std::size_t> got;
  std::mutex mu;
  {
    Bunch bunch(3, [&](int) {
      std::size_t i = barrier.wait();
      std::lock_guard g(mu);
      got.push_back(i);
    });
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 2}));
}

// BR-17: a thread arriving while the previous cycle is still being released
// (here: while the action runs) waits for it and joins the next cycle.
TEST(Barrier, ArrivalDuringTripJoinsNextCycle) {
  threading::Event action_started, finish_action;
  int cycle = 0;
  Barrier* self = nullptr;
  Barrier barrier(2, [&] {
    if (++cycle == 1) {
      EXPECT_EQ(self->n_waiting(), 2u);
      action_started.set();
      finish_action.wait();
    }
  });
  self = &barrier;
  std::vector<std::size_t> first(2, 99);
  std::thread a([&] { first[0] = barrier.wait(); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  std::thread b([&] { first[1] = barrier.wait(); });  // last: runs the action
  action_started.wait();
  std::size_t late = 99;
  std::thread c([&] { late = barrier.wait(); });  // arrives mid-trip
  // Whatever c has done so far, it cannot be counted in this cycle.
  EXPECT_EQ(barrier.n_waiting(), 2u);
  finish_action.set();
  a.join();
  b.join();
  EXPECT_EQ(first, (std::vector<std::size_t>{0, 1}));
  // c is in the next cycle, as index 0; complete it.
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_EQ(barrier.wait(), 1u);
  c.join();
  EXPECT_EQ(late, 0u);
  EXPECT_EQ(cycle, 2);
}

// abort() and reset() called while the action runs wait for it, as they
// would wait for CPython's lock: the tripping thread still succeeds.
TEST(Barrier, AbortDuringActionWaitsForIt) {
  threading::Event action_started, finish_action;
  Barrier barrier(2, [&] {
    action_started.set();
    finish_action.wait();
  });
  std::atomic<int> other{0};  // 1 = passed, 2 = broken
  std::thread a([&] {
    try {
      barrier.wait();
      other = 1;
    } catch (const BrokenBarrierError&) {
      other = 2;
    }
  });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  std::size_t tripper = 99;
  std::thread b([&] { tripper = barrier.wait(); });
  action_started.wait();
  std::atomic<bool> aborted{false};
  std::thread c([&] {
    barrier.abort();
    aborted = true;
  });
  EXPECT_FALSE(barrier.broken()) << "abort() must wait for the running action";
  finish_action.set();
  b.join();
  c.join();
  a.join();
  EXPECT_EQ(tripper, 1u);
  EXPECT_TRUE(aborted.load());
  EXPECT_TRUE(barrier.broken());
  EXPECT_NE(other.load(), 0);
}

// The action's writes and every party's pre-barrier writes are visible to all
// parties after the barrier (TSan checks this).
TEST(Barrier, MemoryVisibility) {
  constexpr int kParties = 4;
  const int kGenerations = 2000 / kStressDivisor;
  std::vector<long> slots(kParties, 0);
  long total = 0;
  Barrier barrier(kParties, [&] { total = std::accumulate(slots.begin(), slots.end(), 0L); });
  Bunch bunch(kParties, [&](int id) {
    for (int g = 1; g <= kGenerations; ++g) {
      slots[id] = g;
      barrier.wait();
      EXPECT_EQ(total, long(g) * kParties);
      barrier.wait();  // nobody writes slots for g+1 before all have read total
    }
  });
}

// Reuse over thousands of generations: each generation hands out exactly the
// indices 0..parties-1 and runs the action once. More threads than cores.
TEST(Barrier, StressManyGenerations) {
  constexpr int kParties = 6;
  const int kGenerations = 5000 / kStressDivisor;
  std::atomic<long> index_sum{0};
  std::atomic<int> actions{0};
  Barrier barrier(kParties, [&] { actions.fetch_add(1); });
  {
    Bunch bunch(kParties, [&](int) {
      for (int g = 0; g < kGenerations; ++g) {
        index_sum.fetch_add(static_cast<long>(barrier.wait()));
      }
    });
  }
  EXPECT_EQ(actions.load(), kGenerations);
  EXPECT_EQ(index_sum.load(), long(kGenerations) * (kParties * (kParties - 1) / 2));
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

// Two parties, many generations: the tightest reuse (the tripper re-arrives
// while its partner is still leaving).
TEST(Barrier, StressTwoPartiesTightLoop) {
  const int kGenerations = 100000 / kStressDivisor;
  Barrier barrier(2);
  std::atomic<long> sum{0};
  Bunch bunch(2, [&](int) {
    for (int g = 0; g < kGenerations; ++g) sum.fetch_add(static_cast<long>(barrier.wait()));
  });
  bunch.join();
  EXPECT_EQ(sum.load(), long(kGenerations));
}

// abort()/reset() storms while parties keep waiting (some with timeouts):
// nothing hangs or crashes, and afterwards one reset() makes it fully usable.
TEST(Barrier, AbortResetStorm) {
  constexpr int kParties = 4;
  const int kStorms = 3000 / kStressDivisor;
  Barrier barrier(kParties);
  std::atomic<bool> stop{false};
  std::atomic<long> passed{0}, broke{0};
  {
    Bunch workers(kParties, [&](int id) {
      for (long i = 0; !stop.load(); ++i) {
        try {
          if ((i + id) % 5 == 0) {
            barrier.wait(0.002);
          } else {
            barrier.wait();
          }
          passed.fetch_add(1);
        } catch (const BrokenBarrierError&) {
          broke.fetch_add(1);
          if (barrier.broken()) std::this_thread::yield();
        }
      }
    });
    workers.wait_started();
    // At least kStorms rounds, and until the workers have been through the
    // barrier at all (a fast storm can otherwise end before they arrive).
    for (int i = 0; i < kStorms || passed.load() + broke.load() == 0; ++i) {
      if (i % 3 == 0) {
        barrier.abort();
      }
      barrier.reset();
      if (i % 8 == 0) std::this_thread::yield();
    }
    stop = true;
    barrier.abort();  // frees everyone still inside; later waits raise at once
  }
  EXPECT_GT(passed.load() + broke.load(), 0);
  EXPECT_TRUE(barrier.broken());
  // Wait for the last leavers to drain, then reset: usable as new.
  ASSERT_TRUE(wait_until([&] {
    barrier.reset();
    return !barrier.broken();
  }));
  std::atomic<long> sum{0};
  {
    Bunch bunch(kParties, [&](int) {
      for (int g = 0; g < 50; ++g) sum.fetch_add(static_cast<long>(barrier.wait(60.0)));
    });
  }
  EXPECT_EQ(sum.load(), 50L * (kParties * (kParties - 1) / 2));
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

// A waiter whose timeout expires while the action runs waits for the action
// (BR-07) and then shares its generation's outcome: here, the trip.
TEST(Barrier, TimeoutDuringActionWaitsForOutcome) {
  threading::Event action_started;
  Barrier barrier(2, [&] {
    action_started.set();
    // Time passing, not a handshake: outlast the other waiter's timeout.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  std::size_t first = 99;
  std::thread a([&] { first = barrier.wait(0.02); });
  ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
  EXPECT_EQ(barrier.wait(), 1u);
  a.join();
  EXPECT_EQ(first, 0u);
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

// No drain phase (the documented difference from CPython): once a generation
// has tripped, a thread arriving for the next one is counted at once, even
// while the released threads may still be waking up.
TEST(Barrier, NextGenerationCountsAtOnce) {
  Barrier barrier(3);
  for (int round = 0; round < 200 / kStressDivisor; ++round) {
    std::vector<std::size_t> got(2, 99);
    std::thread a([&] { got[0] = barrier.wait(); });
    std::thread b([&] { got[1] = barrier.wait(); });
    ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 2; }));
    EXPECT_EQ(barrier.wait(), 2u);
    // Counted in the next generation whatever a and b are doing now.
    std::thread c([&] { EXPECT_THROW(barrier.wait(), BrokenBarrierError); });
    ASSERT_TRUE(wait_until([&] { return barrier.n_waiting() == 1; }));
    barrier.reset();
    c.join();
    a.join();
    b.join();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::size_t>{0, 1}));
    EXPECT_FALSE(barrier.broken());
  }
}

// Outcomes are exact under races of trips, timeouts, resets and aborts: a
// generation that trips releases exactly `parties` threads with success (the
// action counts trips), one that breaks releases none; nothing hangs.
TEST(Barrier, StressOutcomesAreExact) {
  constexpr int kParties = 3;
  constexpr int kThreads = 5;  // more threads than parties: generations overlap
  const long kTrips = 3000 / kStressDivisor;
  std::atomic<long> trips{0}, passed{0}, broke{0}, calls{0};
  Barrier barrier(kParties, [&] { trips.fetch_add(1, std::memory_order_relaxed); });
  std::atomic<bool> stop{false};
  std::thread controller([&] {
    for (int i = 1; !stop.load(); ++i) {
      if (i % 20 == 0) barrier.abort();
      if (i % 10 == 0 || barrier.broken()) barrier.reset();  // frees current waiters
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  {
    Bunch bunch(kThreads, [&](int id) {
      for (int i = 0; trips.load() < kTrips; ++i) {
        calls.fetch_add(1, std::memory_order_relaxed);
        try {
          if ((i + id) % 5 == 0) {
            barrier.wait(0.0002 * ((i + id) % 3));  // includes 0: breaks unless last
          } else {
            barrier.wait(5.0);
          }
          passed.fetch_add(1, std::memory_order_relaxed);
        } catch (const BrokenBarrierError&) {
          broke.fetch_add(1, std::memory_order_relaxed);
          while (barrier.broken()) std::this_thread::yield();  // until the controller resets
        }
      }
    });
  }
  stop = true;
  controller.join();
  EXPECT_EQ(passed.load(), trips.load() * kParties);
  EXPECT_GT(trips.load(), 0);
  EXPECT_EQ(passed.load() + broke.load(), calls.load());
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
}
