// The lock scenarios, written once and run for every lock-like type, in the
// spirit of CPython's Lib/test/lock_tests.py:
//
//   BaseLock       (lock_tests.BaseLockTests) every type below
//   PlainLock      (lock_tests.LockTests)     not re-entrant, releasable by any thread
//   ReentrantLock  (lock_tests.RLockTests)    re-entrant, released only by its owner
//
// Each test program instantiates the suites for its own object:
//
//   type (subject)               test program         BaseLock  PlainLock  ReentrantLock
//   threading::Lock              test_lock.cpp        yes       yes        -
//   threading::RLock             test_rlock.cpp       yes       -          yes
//   Condition() (its own RLock)  test_condition.cpp   yes       -          yes
//   Condition(Lock&)             test_condition.cpp   yes       yes        -
//
// with the program's object as prefix, so ctest names read
// Object.Scenario<Subject>, e.g. RLock.AcquireContended<RLockSubject> (the
// gtest name is RLock/BaseLock/0.AcquireContended). What one type alone has
// (Lock's locked(), RLock's recursion count, Condition's wait) stays in its
// program.
// The std::chrono timed calls (try_lock_for/until) of every type have their
// own typed suite in test_timeout.cpp and are not repeated here.
#pragma once

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/condition.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/thread.hpp"
#include "threading/timeout.hpp"

// ---------------------------------------------------------------------------
// The subjects: each owns its object (and the lock a Condition is built on)
// and counts the threads parked on it (-1 where that cannot be seen).

struct LockSubject {
  threading::Lock obj;
  threading::Lock& lock() { return obj; }
  long parked() const { return static_cast<long>(test_support::parked_in(&obj, sizeof obj)); }
};

struct RLockSubject {
  threading::RLock obj;
  threading::RLock& lock() { return obj; }
  long parked() const { return static_cast<long>(test_support::parked_in(&obj, sizeof obj)); }
};

// Condition() makes its own RLock, on the heap where the test cannot see it.
struct ConditionSubject {
  threading::Condition obj;
  threading::Condition& lock() { return obj; }
  long parked() const { return -1; }
};

struct ConditionOverLockSubject {
  threading::Lock inner;
  threading::Condition obj{inner};
  threading::Condition& lock() { return obj; }
  long parked() const { return static_cast<long>(test_support::parked_in(&inner, sizeof inner)); }
};

template <class S>
class LockFixture : public ::testing::Test {
 protected:
  S subject_;
  auto& lock() { return subject_.lock(); }
  // Until `n` threads are blocked on the object: counted where the subject
  // can see its waiters, otherwise only until the bunch has started (the
  // checks that follow hold either way; they are just sharper when parked).
  void wait_blocked(test_support::Bunch& bunch, long n) {
    if (subject_.parked() < 0) {
      bunch.wait_started();
      return;
    }
    ASSERT_TRUE(test_support::wait_until([&] { return subject_.parked() == n; }));
  }
};

template <class S>
class BaseLock : public LockFixture<S> {};
template <class S>
class PlainLock : public LockFixture<S> {};
template <class S>
class ReentrantLock : public LockFixture<S> {};

TYPED_TEST_SUITE_P(BaseLock);
TYPED_TEST_SUITE_P(PlainLock);
TYPED_TEST_SUITE_P(ReentrantLock);
// A program instantiates only the rule suites its types follow.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PlainLock);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReentrantLock);

namespace lock_suites_detail {
inline std::atomic<int> g_signals{0};
extern "C" inline void count_signal(int) { g_signals.fetch_add(1); }
}  // namespace lock_suites_detail

// ---------------------------------------------------------------------------
// BaseLock: every lock-like type.

TYPED_TEST_P(BaseLock, AcquireRelease) {
  auto& lock = this->lock();
  EXPECT_FALSE(test_support::held_for_others(lock));
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(test_support::held_for_others(lock));
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock));
}

TYPED_TEST_P(BaseLock, AcquireDestroy) {
  auto* subject = new TypeParam;
  subject->lock().acquire();
  delete subject;  // destroying a held lock is legal (LOCK-27)
}

TYPED_TEST_P(BaseLock, TryAcquire) {
  auto& lock = this->lock();
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(test_support::held_for_others(lock));
  lock.release();
  EXPECT_TRUE(lock.try_lock());
  lock.unlock();
  EXPECT_FALSE(test_support::held_for_others(lock));
}

TYPED_TEST_P(BaseLock, TryAcquireContended) {
  auto& lock = this->lock();
  lock.acquire();
  EXPECT_FALSE(test_support::in_other_thread([&] { return lock.acquire(false); }));
  EXPECT_FALSE(test_support::in_other_thread([&] { return lock.try_lock(); }));
  lock.release();
}

TYPED_TEST_P(BaseLock, AcquireContended) {
  auto& lock = this->lock();
  lock.acquire();
  constexpr int kN = 5;
  test_support::Bunch bunch(kN, [&](int) {
    lock.acquire();
    lock.release();
  });
  this->wait_blocked(bunch, kN);
  EXPECT_EQ(bunch.finished(), 0);
  lock.release();
  bunch.join();
  EXPECT_EQ(bunch.finished(), kN);
  EXPECT_FALSE(test_support::held_for_others(lock));
}

// One release lets exactly one waiter in: each winner keeps the lock until
// the main thread allows it to go, so the next one can only follow then.
TYPED_TEST_P(BaseLock, ReleaseWakesExactlyOne) {
  auto& lock = this->lock();
  lock.acquire();
  constexpr int kWaiters = 3;
  std::atomic<int> inside{0}, permits{0};
  {
    test_support::Bunch bunch(kWaiters, [&](int) {
      lock.acquire();
      const int me = inside.fetch_add(1) + 1;
      while (permits.load() < me) std::this_thread::yield();
      lock.release();
    });
    // Even if an assertion below ends the test early, the bunch can finish.
    struct LetAllGo {
      std::atomic<int>& p;
      ~LetAllGo() { p.store(INT_MAX); }
    } let_all_go{permits};
    this->wait_blocked(bunch, kWaiters);
    EXPECT_EQ(inside.load(), 0);
    lock.release();
    for (int k = 1; k <= kWaiters; ++k) {
      ASSERT_TRUE(test_support::wait_until([&] { return inside.load() == k; }));
      if (this->subject_.parked() >= 0) {
        ASSERT_TRUE(
            test_support::wait_until([&] { return this->subject_.parked() == kWaiters - k; }));
      }
      EXPECT_EQ(inside.load(), k) << "one release must admit one waiter";
      EXPECT_TRUE(test_support::held_for_others(lock));
      permits.store(k);
    }
  }
  EXPECT_EQ(inside.load(), kWaiters);
  EXPECT_FALSE(test_support::held_for_others(lock));
}

// Python's `with` is std::lock_guard (and the other std lock holders); the
// lock is released however the block is left (lock_tests test_with).
TYPED_TEST_P(BaseLock, WithStatementIsLockGuard) {
  auto& lock = this->lock();
  {
    std::lock_guard guard(lock);
    EXPECT_TRUE(test_support::held_for_others(lock));
  }
  EXPECT_FALSE(test_support::held_for_others(lock));
  try {
    std::lock_guard guard(lock);
    throw std::runtime_error("inside");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(test_support::held_for_others(lock));
  {
    std::unique_lock u(lock, std::defer_lock);
    EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
    EXPECT_TRUE(test_support::held_for_others(lock));
  }
  TypeParam other;
  {
    std::scoped_lock both(lock, other.lock());
    EXPECT_TRUE(test_support::held_for_others(other.lock()));
  }
  EXPECT_FALSE(test_support::held_for_others(lock));
  EXPECT_FALSE(test_support::held_for_others(other.lock()));
}

// lock_tests test_thread_leak: threads the library did not start (here
// std::thread) take and release the lock without being registered.
TYPED_TEST_P(BaseLock, ForeignThreadsLeaveNoThreadObject) {
  auto& lock = this->lock();
  const auto before = threading::enumerate().size();
  {
    test_support::Bunch bunch(15, [&](int) {
      lock.acquire();
      lock.release();
    });
  }
  EXPECT_EQ(threading::enumerate().size(), before);
}

// Argument validation on a fresh (free) lock, exactly as CPython's
// Lock/RLock: SPEC LOCK-10..13, RL-06.
TYPED_TEST_P(BaseLock, TimeoutValidation) {
  using test_support::expect_error;
  auto& lock = this->lock();
  // blocking=false with a timeout (LOCK-11)
  for (double t : {1.0, 0.0, -1.5}) {
    expect_error<threading::ValueError>([&] { lock.acquire(false, t); },
                                        "can't specify a timeout for a non-blocking call");
  }
  EXPECT_TRUE(lock.acquire(false, -1));
  lock.release();
  // negative other than -1 (LOCK-10), NaN (LOCK-12)
  for (double t : {-100.0, -2.0, -0.5}) {
    expect_error<threading::ValueError>([&] { lock.acquire(true, t); },
                                        "timeout value must be positive");
  }
  expect_error<threading::ValueError>([&] { lock.acquire(true, std::nan("")); },
                                      "Invalid value NaN (not a number)");
  // above TIMEOUT_MAX even when free (LOCK-13)
  for (double t : {threading::TIMEOUT_MAX * 2, threading::TIMEOUT_MAX + 1, 1e100,
                   std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(lock.acquire(true, t), threading::OverflowError) << t;
  }
  EXPECT_FALSE(test_support::held_for_others(lock))
      << "a rejected call must leave the lock as it was";
  EXPECT_TRUE(lock.acquire(true, threading::TIMEOUT_MAX));  // exactly the max is accepted
  lock.release();
  EXPECT_TRUE(lock.acquire(true, 1e-12));
  lock.release();
  // A free lock is taken at once, whatever the timeout.
  auto start = test_support::Clock::now();
  EXPECT_TRUE(lock.acquire(true, 60));
  EXPECT_LT(test_support::seconds_since(start), 30.0);
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock));
}

// A timed acquire of a lock another thread holds fails, and never before
// its timeout (lock_tests test_timeout).
TYPED_TEST_P(BaseLock, TimedAcquireNeverEarly) {
  auto& lock = this->lock();
  test_support::HeldByOtherThread holder(lock);
  EXPECT_FALSE(lock.acquire(false));
  for (double t : {0.0, 0.01, 0.1}) {
    test_support::expect_fails_after(t, [&] { return lock.acquire(true, t); });
  }
  test_support::expect_fails_after(
      0.05, [&] { return lock.acquire(true, std::chrono::milliseconds(50)); });
}

// After a timed-out acquire the lock is in a proper state (issue #11618):
// the holder's release leaves it free and takeable, nobody parked.
TYPED_TEST_P(BaseLock, StateAfterTimeout) {
  auto& lock = this->lock();
  {
    test_support::HeldByOtherThread holder(lock);
    EXPECT_FALSE(lock.acquire(true, 0.01));
    EXPECT_FALSE(test_support::in_other_thread([&] { return lock.acquire(true, 0.01); }));
  }
  EXPECT_FALSE(test_support::held_for_others(lock));
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  if (this->subject_.parked() >= 0) {
    EXPECT_EQ(this->subject_.parked(), 0);
  }
}

// 8 threads (4x the cores here) hammer one lock until every one of them has
// taken it 1000 times: with no eventual fairness a thread can starve and the
// test would hang (ctest's timeout). Also checks no update is lost.
TYPED_TEST_P(BaseLock, StressNoStarvation) {
  auto& lock = this->lock();
  constexpr int kThreads = 8;
  constexpr long kGoal = 1000;
  long counter = 0;
  std::vector<long> per_thread(kThreads, 0);
  int reached_goal = 0;
  std::atomic<int> ready{0};
  {
    test_support::Bunch bunch(kThreads, [&](int id) {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (;;) {
        std::lock_guard guard(lock);
        if (reached_goal == kThreads) break;
        ++counter;
        if (++per_thread[id] == kGoal) ++reached_goal;
      }
    });
  }
  long sum = 0;
  for (long n : per_thread) {
    EXPECT_GE(n, kGoal);
    sum += n;
  }
  EXPECT_EQ(sum, counter);
}

// LOCK-24: a signal delivered to a thread blocked in acquire() interrupts the
// OS wait (EINTR); the wait resumes and the original deadline holds.
TYPED_TEST_P(BaseLock, SignalsDoNotEndAWaitEarly) {
  using lock_suites_detail::g_signals;
  struct sigaction sa {};
  sa.sa_handler = lock_suites_detail::count_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the OS wait really sees EINTR
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

  auto& lock = this->lock();
  test_support::HeldByOtherThread holder(lock);
  std::atomic<bool> timed_done{false};
  double elapsed = 0;
  std::thread timed([&] {
    auto start = test_support::Clock::now();
    EXPECT_FALSE(lock.acquire(true, 0.3));
    elapsed = test_support::seconds_since(start);
    timed_done = true;
  });
  pthread_t handle = timed.native_handle();
  while (!timed_done.load()) {
    pthread_kill(handle, SIGUSR1);
    std::this_thread::yield();
  }
  timed.join();
  test_support::expect_timeout(elapsed, 0.3);

  // An untimed acquire keeps waiting through signals until the release.
  std::atomic<bool> got{false};
  std::thread forever([&] {
    lock.acquire();
    got = true;
    lock.release();
  });
  handle = forever.native_handle();
  const int before = g_signals.load();
  while (g_signals.load() < before + 20) {
    pthread_kill(handle, SIGUSR1);
    std::this_thread::yield();
  }
  EXPECT_FALSE(got.load());
  holder.release();
  forever.join();
  EXPECT_TRUE(got.load());
  sigaction(SIGUSR1, &old, nullptr);
}

REGISTER_TYPED_TEST_SUITE_P(BaseLock, AcquireRelease, AcquireDestroy, TryAcquire,
                            TryAcquireContended, AcquireContended, ReleaseWakesExactlyOne,
                            WithStatementIsLockGuard, ForeignThreadsLeaveNoThreadObject,
                            TimeoutValidation, TimedAcquireNeverEarly, StateAfterTimeout,
                            StressNoStarvation, SignalsDoNotEndAWaitEarly);

// ---------------------------------------------------------------------------
// PlainLock: not re-entrant, not owned (Lock, and a Condition over one).

// A second acquire by the holder blocks until another thread releases.
TYPED_TEST_P(PlainLock, Reacquire) {
  auto& lock = this->lock();
  std::atomic<bool> first_done{false}, second_done{false};
  std::thread t([&] {
    lock.acquire();
    first_done = true;
    lock.acquire();  // blocks
    second_done = true;
    lock.release();
  });
  ASSERT_TRUE(test_support::wait_until([&] { return first_done.load(); }));
  ASSERT_TRUE(test_support::wait_until([&] { return this->subject_.parked() == 1; }));
  EXPECT_FALSE(second_done.load());
  test_support::expect_fails_after(0.01, [&] { return lock.acquire(true, 0.01); });  // LOCK-18
  lock.release();  // from another thread (LOCK-19)
  t.join();
  EXPECT_TRUE(second_done.load());
  EXPECT_FALSE(test_support::held_for_others(lock));
}

// The holder's own timed acquire times out (it would deadlock), and the
// lock is fine afterwards (lock_tests LockTests.test_state_after_timeout).
TYPED_TEST_P(PlainLock, HolderTimesOutOnItself) {
  auto& lock = this->lock();
  lock.acquire();
  EXPECT_FALSE(lock.acquire(false));
  test_support::expect_fails_after(0.01, [&] { return lock.acquire(true, 0.01); });
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock));
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

// Any thread may release it (lock_tests LockTests.test_different_thread).
TYPED_TEST_P(PlainLock, DifferentThreadRelease) {
  auto& lock = this->lock();
  test_support::in_other_thread([&] { lock.acquire(); });
  EXPECT_TRUE(test_support::held_for_others(lock));
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock));
  lock.acquire();
  test_support::in_other_thread([&] { lock.release(); });
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TYPED_TEST_P(PlainLock, ReleaseUnlockedRaises) {
  auto& lock = this->lock();
  test_support::expect_error<threading::RuntimeError>([&] { lock.release(); },
                                                      "release unlocked lock");
  EXPECT_TRUE(lock.acquire());  // still usable
  lock.release();
  EXPECT_THROW(lock.unlock(), threading::RuntimeError);
  EXPECT_FALSE(test_support::held_for_others(lock));
}

REGISTER_TYPED_TEST_SUITE_P(PlainLock, Reacquire, HolderTimesOutOnItself, DifferentThreadRelease,
                            ReleaseUnlockedRaises);

// ---------------------------------------------------------------------------
// ReentrantLock: re-entrant and owned (RLock, and a Condition over one).

TYPED_TEST_P(ReentrantLock, Reacquire) {
  auto& lock = this->lock();
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock.acquire(true, 0.5));
  lock.release();
  lock.release();
  lock.release();
  EXPECT_TRUE(test_support::held_for_others(lock)) << "one level is still held";
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock));
  EXPECT_THROW(lock.release(), threading::RuntimeError);
}

TYPED_TEST_P(ReentrantLock, ReleaseUnacquired) {
  auto& lock = this->lock();
  test_support::expect_error<threading::RuntimeError>([&] { lock.release(); },
                                                      "cannot release un-acquired lock");
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  EXPECT_THROW(lock.release(), threading::RuntimeError);
  EXPECT_TRUE(lock.acquire(false));  // still usable
  lock.release();
}

// Only the owner may release (lock_tests RLockTests.test_different_thread).
TYPED_TEST_P(ReentrantLock, DifferentThreadCannotRelease) {
  auto& lock = this->lock();
  {
    test_support::HeldByOtherThread holder(lock);
    test_support::expect_error<threading::RuntimeError>([&] { lock.release(); },  // RL-11
                                                        "cannot release un-acquired lock");
    EXPECT_FALSE(lock.acquire(false));  // RL-08: still held by its owner
    test_support::expect_fails_after(0.05, [&] { return lock.acquire(true, 0.05); });
  }
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

// RL-06: a re-entering acquire validates its arguments too, and a rejected
// call leaves the recursion level alone (one release frees the lock).
TYPED_TEST_P(ReentrantLock, ValidatesArgumentsEvenOnReentry) {
  auto& lock = this->lock();
  lock.acquire();
  EXPECT_THROW(lock.acquire(false, 1), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, -2), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, std::nan("")), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, 1e100), threading::OverflowError);
  lock.release();
  EXPECT_FALSE(test_support::held_for_others(lock)) << "a rejected call changed the level";
  EXPECT_THROW(lock.acquire(false, 0), threading::ValueError);
  EXPECT_FALSE(test_support::held_for_others(lock));
}

TYPED_TEST_P(ReentrantLock, NestedWithIsLockGuard) {
  auto& lock = this->lock();
  {
    std::lock_guard a(lock);
    std::lock_guard b(lock);
    EXPECT_TRUE(test_support::held_for_others(lock));
  }
  EXPECT_FALSE(test_support::held_for_others(lock));
  std::unique_lock u(lock, std::defer_lock);
  EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
  EXPECT_TRUE(lock.acquire(false));  // the owner re-enters
  lock.release();
}

// RL-12: an owner that ends while holding it leaves it locked for good.
TYPED_TEST_P(ReentrantLock, OwnerExitingKeepsItLocked) {
  auto& lock = this->lock();
  test_support::in_other_thread([&] { lock.acquire(); });
  EXPECT_FALSE(lock.acquire(false));
  test_support::expect_fails_after(0.01, [&] { return lock.acquire(true, 0.01); });
}

TYPED_TEST_P(ReentrantLock, ContendedCounter) {
  auto& lock = this->lock();
  long counter = 0;
  const int kIters = 50000 / test_support::kStressDivisor;
  {
    test_support::Bunch bunch(4, [&](int) {
      for (int i = 0; i < kIters; ++i) {
        std::lock_guard a(lock);
        std::lock_guard b(lock);
        ++counter;
      }
    });
  }
  EXPECT_EQ(counter, 4L * kIters);
}

REGISTER_TYPED_TEST_SUITE_P(ReentrantLock, Reacquire, ReleaseUnacquired,
                            DifferentThreadCannotRelease, ValidatesArgumentsEvenOnReentry,
                            NestedWithIsLockGuard, OwnerExitingKeepsItLocked, ContendedCounter);
