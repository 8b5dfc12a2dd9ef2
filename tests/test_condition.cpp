// threading::Condition: as a lock, the shared lock suites (lock_suites.hpp)
// for Condition() (BaseLock, ReentrantLock) and Condition(Lock&) (BaseLock,
// PlainLock); as a condition, CPython's lock_tests.ConditionTests in C++,
// exact notify(n) counts, FIFO order, the timed-out-waiter race (gh-92530),
// requeue (no thundering herd) and a producer/consumer stress.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "lock_suites.hpp"
#include "support.hpp"
#include "threading/condition.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"

using threading::Condition;
using threading::Lock;
using threading::RLock;
using namespace test_support;

namespace {
// Waits until `n` threads are blocked in cond.wait(), then takes the lock:
// a waiter counts itself before it parks and releases the lock only after it
// is queued, so holding the lock with the count at n means all n are queued.
void lock_when_waiting(Condition& cond, std::size_t n) {
  ASSERT_TRUE(wait_until([&] { return cond.waiter_count() == n; }));
  cond.acquire();
}
}  // namespace

using ConditionSubjects = ::testing::Types<ConditionSubject, ConditionOverLockSubject>;
INSTANTIATE_TYPED_TEST_SUITE_P(Condition, BaseLock, ConditionSubjects);
INSTANTIATE_TYPED_TEST_SUITE_P(Condition, PlainLock, ConditionOverLockSubject);
INSTANTIATE_TYPED_TEST_SUITE_P(Condition, ReentrantLock, ConditionSubject);

TEST(Condition, Size) { static_assert(sizeof(Condition) <= 16); }

TEST(Condition, AcquireIsRLockByDefault) {
  Condition cond;
  EXPECT_TRUE(cond.acquire());
  EXPECT_TRUE(cond.acquire());  // re-entrant
  cond.release();
  cond.release();
  EXPECT_THROW(cond.release(), threading::RuntimeError);
  std::thread([&] {
    EXPECT_TRUE(cond.acquire(false));
    cond.release();
  }).join();
}

// lock_tests ConditionTests.test_acquire: acquiring the Condition is
// acquiring its lock, and the other way round.
TEST(Condition, AcquireIsTheLocksAcquire) {
  Lock lock;
  Condition cond(lock);
  cond.acquire();
  EXPECT_FALSE(lock.acquire(false));
  cond.release();
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(cond.acquire(false));
  lock.release();
  {
    std::lock_guard g(cond);
    EXPECT_FALSE(lock.acquire(false));
  }
  EXPECT_FALSE(lock.locked());
  RLock rlock;
  Condition rcond(rlock);
  rcond.acquire();
  EXPECT_TRUE(rlock.is_owned());
  EXPECT_TRUE(rlock.acquire(false));
  EXPECT_EQ(rlock.recursion_count(), 2u);
  rcond.release();
  rlock.release();
  EXPECT_FALSE(rlock.is_owned());
}

TEST(Condition, UnacquiredWaitAndNotifyRaise) {
  Condition cond;
  expect_error<threading::RuntimeError>([&] { cond.wait(); }, "cannot wait on un-acquired lock");
  expect_error<threading::RuntimeError>([&] { cond.notify(); },
                                        "cannot notify on un-acquired lock");
  EXPECT_THROW(cond.notify_all(), threading::RuntimeError);
  // wait_for with a true predicate returns without touching the lock (CD-26)
  EXPECT_EQ(cond.wait_for([] { return 7; }), 7);
  EXPECT_THROW(cond.wait_for([] { return false; }), threading::RuntimeError);
}

TEST(Condition, OverRLockOwnedByAnotherThreadRaises) {
  RLock rlock;
  Condition cond(rlock);
  std::atomic<bool> held{false}, done{false};
  std::thread owner([&] {
    rlock.acquire();
    held = true;
    wait_until([&] { return done.load(); });
    rlock.release();
  });
  ASSERT_TRUE(wait_until([&] { return held.load(); }));
  EXPECT_THROW(cond.notify(), threading::RuntimeError);
  EXPECT_THROW(cond.wait(0), threading::RuntimeError);
  done = true;
  owner.join();
}

TEST(Condition, OverLockHeldMeansLockedByAnyone) {
  // CD-06: with a plain Lock, notify() from a thread that did not take the
  // lock is allowed while someone holds it.
  Lock lock;
  Condition cond(lock);
  lock.acquire();
  std::thread([&] { EXPECT_NO_THROW(cond.notify()); }).join();
  lock.release();
  EXPECT_THROW(cond.notify(), threading::RuntimeError);
}

TEST(Condition, WaitReturnsTrueWhenNotifiedFalseOnTimeout) {
  Condition cond;
  std::atomic<int> result{-1};
  std::thread t([&] {
    std::lock_guard g(cond);
    result = cond.wait() ? 1 : 0;
  });
  lock_when_waiting(cond, 1);
  cond.notify();
  cond.release();
  t.join();
  EXPECT_EQ(result.load(), 1);

  std::lock_guard g(cond);
  for (double timeout : {0.01, 0.05}) {
    auto start = Clock::now();
    EXPECT_FALSE(cond.wait(timeout));
    expect_timeout(seconds_since(start), timeout);
  }
  // Non-positive and NaN: no block, false (CD-10)
  EXPECT_FALSE(cond.wait(0));
  EXPECT_FALSE(cond.wait(-5));
  EXPECT_FALSE(cond.wait(std::nan("")));
  EXPECT_FALSE(cond.wait(std::chrono::milliseconds(-1)));
  EXPECT_THROW(cond.wait(threading::TIMEOUT_MAX + 1e6), threading::OverflowError);
  EXPECT_EQ(cond.waiter_count(), 0u);
}

TEST(Condition, WaitReleasesAllRLockLevelsAndRestoresThem) {
  RLock rlock;
  Condition cond(rlock);
  std::atomic<bool> other_got_it{false};
  std::thread t([&] {
    rlock.acquire();
    rlock.acquire();
    rlock.acquire();
    cond.wait();
    EXPECT_EQ(rlock.recursion_count(), 3u);
    rlock.release();
    rlock.release();
    rlock.release();
  });
  lock_when_waiting(cond, 1);  // possible only if all three levels were dropped
  other_got_it = true;
  cond.notify();
  cond.release();
  t.join();
  EXPECT_TRUE(other_got_it.load());
  EXPECT_FALSE(rlock.is_owned());
}

TEST(Condition, NonPositiveTimeoutStillReleasesTheLock) {
  // CD-10: wait(0) lets a thread blocked on the lock in.
  Lock lock;
  Condition cond(lock);
  lock.acquire();
  std::atomic<bool> got{false};
  std::thread t([&] {
    lock.acquire();
    got = true;
    lock.release();
  });
  ASSERT_TRUE(wait_until([&] { return threading::detail::parking_lot::waiter_count(&lock) == 1; }));
  while (!got.load()) cond.wait(0);  // each wait(0) releases and re-takes the lock
  lock.release();
  t.join();
}

// lock_tests.ConditionTests.test_notify: exact counts for notify(1),
// notify(3) and notify_all with 5 waiters, twice (the second round
// re-waits on the same condition).
TEST(Condition, NotifyWakesExactCounts) {
  for (bool use_rlock : {true, false}) {
    Lock lock;
    RLock rlock;
    Condition cond_lock(lock), cond_rlock(rlock);
    Condition& cond = use_rlock ? cond_rlock : cond_lock;
    constexpr int kWaiters = 5;
    std::atomic<int> woken{0};
    Bunch bunch(kWaiters, [&](int) {
      cond.acquire();
      EXPECT_TRUE(cond.wait());
      woken.fetch_add(1);
      cond.release();
    });
    lock_when_waiting(cond, kWaiters);
    cond.notify(1);
    cond.release();
    ASSERT_TRUE(wait_until([&] { return woken.load() == 1; }));
    lock_when_waiting(cond, kWaiters - 1);
    cond.notify(3);
    cond.release();
    ASSERT_TRUE(wait_until([&] { return woken.load() == 4; }));
    lock_when_waiting(cond, 1);
    EXPECT_EQ(woken.load(), 4) << "notify(3) woke more than 3";
    cond.notify_all();
    cond.release();
    bunch.join();
    EXPECT_EQ(woken.load(), kWaiters);
  }
}

TEST(Condition, NotifyZeroAndNoWaitersDoNothing) {
  Condition cond;
  std::lock_guard g(cond);
  cond.notify(0);
  cond.notify(100);
  cond.notifyAll();
}

TEST(Condition, NotifyIsFifo) {
  Condition cond;
  constexpr int kWaiters = 6;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      std::lock_guard g(cond);
      cond.wait();
      order.push_back(i);
    });
    lock_when_waiting(cond, static_cast<std::size_t>(i + 1));  // queue order = i
    cond.release();
  }
  for (int i = 0; i < kWaiters; ++i) {
    cond.acquire();
    cond.notify(1);
    cond.release();
    ASSERT_TRUE(wait_until([&] {
      std::lock_guard g(cond);
      return order.size() == static_cast<std::size_t>(i + 1);
    }));
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(order[i], i);
}

TEST(Condition, WaitForReturnsPredicateValue) {
  Condition cond;
  int state = 0, evaluations = 0;
  std::thread t([&] {
    std::lock_guard g(cond);
    int got = cond.wait_for([&] {
      ++evaluations;
      return state == 4 ? 42 : 0;
    });
    EXPECT_EQ(got, 42);
  });
  for (int i = 0; i < 4; ++i) {
    // Holding the lock with the predicate evaluated i+1 times means the
    // waiter is parked again (it only lets go of the lock inside wait()).
    ASSERT_TRUE(wait_until([&] {
      std::lock_guard g(cond);
      return evaluations == i + 1;
    }));
    std::lock_guard g(cond);
    ++state;
    cond.notify();
  }
  t.join();
  EXPECT_EQ(evaluations, 5);
}

TEST(Condition, WaitForTimeoutIsOneOverallDeadline) {
  Condition cond;
  std::lock_guard g(cond);
  int calls = 0;
  auto start = Clock::now();
  bool r = cond.wait_for(
      [&] {
        ++calls;
        return false;
      },
      0.1);
  EXPECT_FALSE(r);
  expect_timeout(seconds_since(start), 0.1);
  EXPECT_GE(calls, 2);
  // timeout <= 0: predicate called twice, no wait (CD-24)
  calls = 0;
  EXPECT_FALSE(cond.wait_for(
      [&] {
        ++calls;
        return false;
      },
      0));
  EXPECT_EQ(calls, 2);
  EXPECT_THROW(cond.wait_for([] { return false; }, 1e100), threading::OverflowError);
}

// gh-92530: a waiter that has timed out (and is only waiting to get the lock
// back) must not take a notification meant for a waiter still waiting.
TEST(Condition, TimedOutWaiterNeverSwallowsNotify) {
  namespace pl = threading::detail::parking_lot;
  Lock lock;
  Condition cond(lock);
  std::atomic<int> timed_result{-1}, patient_result{-1};
  std::thread timed([&] {
    lock.acquire();
    timed_result = cond.wait(0.02) ? 1 : 0;
    lock.release();
  });
  lock_when_waiting(cond, 1);  // `timed` is queued
  lock.release();
  std::thread patient([&] {
    lock.acquire();
    patient_result = cond.wait() ? 1 : 0;
    lock.release();
  });
  lock_when_waiting(cond, 2);  // both queued, `timed` first
  // Keep the lock: `timed` times out, leaves the queue and blocks on the lock.
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&cond) == 1; }));
  cond.notify(1);  // must reach `patient`
  lock.release();
  timed.join();
  patient.join();
  EXPECT_EQ(timed_result.load(), 0);
  EXPECT_EQ(patient_result.load(), 1);
}

// Timeouts racing notify(1) from a busy notifier: nothing hangs, nobody is
// told "notified" more often than notifications were sent, and the queues
// end empty.
TEST(Condition, TimeoutsRacingNotifyStress) {
  Lock lock;
  Condition cond(lock);
  constexpr int kThreads = 4;
  const int kRounds = 4000 / kStressDivisor;
  std::atomic<long> notified_returns{0};
  std::atomic<bool> stop{false};
  long sent = 0;
  std::vector<std::thread> waiters;
  for (int i = 0; i < kThreads; ++i) {
    waiters.emplace_back([&, i] {
      for (int j = 0; j < kRounds; ++j) {
        std::lock_guard g(lock);
        if (cond.wait(0.00002 * ((i + j) % 5))) notified_returns.fetch_add(1);
      }
    });
  }
  std::thread notifier([&] {
    while (!stop.load()) {
      std::lock_guard g(lock);
      if (threading::detail::parking_lot::waiter_count(&cond) > 0) {
        ++sent;
        cond.notify(1);
      }
    }
  });
  for (auto& t : waiters) t.join();
  stop = true;
  notifier.join();
  EXPECT_LE(notified_returns.load(), sent);
  EXPECT_GT(notified_returns.load(), 0);
  EXPECT_EQ(cond.waiter_count(), 0u);
  EXPECT_EQ(threading::detail::parking_lot::waiter_count(&cond), 0u);
  EXPECT_EQ(threading::detail::parking_lot::waiter_count(&lock), 0u);
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, NotifyAllRequeuesInsteadOfWakingTheHerd) {
  Lock lock;
  Condition cond(lock);
  constexpr int kWaiters = 8;
  std::atomic<int> done{0};
  Bunch bunch(kWaiters, [&](int) {
    std::lock_guard g(lock);
    cond.wait();
    done.fetch_add(1);
  });
  lock_when_waiting(cond, kWaiters);
  cond.notify_all();
  // Still holding the lock: every waiter now waits on the lock's queue, none
  // is awake to contend.
  EXPECT_EQ(threading::detail::parking_lot::waiter_count(&cond), 0u);
  EXPECT_EQ(threading::detail::parking_lot::waiter_count(&lock), static_cast<size_t>(kWaiters));
  EXPECT_EQ(done.load(), 0);
  lock.release();
  bunch.join();
  EXPECT_EQ(done.load(), kWaiters);
}

TEST(Condition, RequeuedWaiterTimingOutStillReportsNotified) {
  Lock lock;
  Condition cond(lock);
  std::atomic<int> result{-1};
  std::thread t([&] {
    lock.acquire();
    result = cond.wait(0.05) ? 1 : 0;
    lock.release();
  });
  lock_when_waiting(cond, 1);
  cond.notify();  // requeued onto the lock, which we keep past the 50 ms deadline
  auto start = Clock::now();
  ASSERT_TRUE(wait_until([&] { return seconds_since(start) > 0.1; }));
  lock.release();
  t.join();
  EXPECT_EQ(result.load(), 1) << "it was notified before its timeout";
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));  // the lock's parked bit was tidied
  lock.release();
}

// Producer/consumer (the seeds' example) with a bounded queue; 10^5 items,
// no item lost or duplicated, no lost wake-up.
TEST(Condition, ProducerConsumerStress) {
  Condition cond;
  std::deque<int> queue;
  constexpr std::size_t kCapacity = 8;
  const int kItems = 100000 / kStressDivisor;
  constexpr int kProducers = 2, kConsumers = 3;
  long long sum = 0;
  int consumed = 0;
  {
    Bunch producers(kProducers, [&](int p) {
      for (int i = p; i < kItems; i += kProducers) {
        std::lock_guard g(cond);
        cond.wait_for([&] { return queue.size() < kCapacity; });
        queue.push_back(i);
        cond.notify_all();
      }
    });
    Bunch consumers(kConsumers, [&](int) {
      for (;;) {
        std::lock_guard g(cond);
        cond.wait_for([&] { return !queue.empty() || consumed == kItems; });
        if (queue.empty()) return;
        sum += queue.front();
        queue.pop_front();
        ++consumed;
        cond.notify_all();
      }
    });
  }
  EXPECT_EQ(consumed, kItems);
  EXPECT_EQ(sum, static_cast<long long>(kItems) * (kItems - 1) / 2);
}

TEST(Condition, LockableWorksWithUniqueLock) {
  Condition cond;
  std::unique_lock u(cond);
  EXPECT_FALSE(cond.wait(0.001));
  u.unlock();
  EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
}
