// threading::Lock: CPython's lock_tests.BaseLockTests/LockTests in C++, plus
// argument validation (SPEC §2, §4) and a fairness/stress check.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"

using threading::Lock;
using namespace test_support;

TEST(Lock, SizeIsOneByte) { static_assert(sizeof(Lock) == 1); }

TEST(Lock, AcquireRelease) {
  Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, AcquireDestroy) {
  auto* lock = new Lock;
  lock->acquire();
  delete lock;  // destroying a held lock is legal (LOCK-27)
}

TEST(Lock, TryAcquire) {
  Lock lock;
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(false));
  lock.release();
}

TEST(Lock, TryAcquireContended) {
  Lock lock;
  lock.acquire();
  bool result = true;
  std::thread([&] { result = lock.acquire(false); }).join();
  EXPECT_FALSE(result);
  lock.release();
}

TEST(Lock, AcquireContended) {
  Lock lock;
  lock.acquire();
  constexpr int kN = 5;
  std::atomic<int> got{0};
  Bunch bunch(kN, [&](int) {
    lock.acquire();
    got.fetch_add(1);
    lock.release();
  });
  bunch.wait_started();
  EXPECT_EQ(got.load(), 0);
  lock.release();
  bunch.join();
  EXPECT_EQ(got.load(), kN);
}

TEST(Lock, WithStatementIsLockGuard) {
  Lock lock;
  try {
    std::lock_guard guard(lock);
    EXPECT_TRUE(lock.locked());
    throw std::runtime_error("inside");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(lock.locked());
  {
    std::unique_lock u(lock, std::defer_lock);
    EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
  }
  Lock other;
  { std::scoped_lock both(lock, other); }
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TimeoutValidation) {
  Lock lock;
  // blocking=false with a timeout (LOCK-11)
  EXPECT_THROW(lock.acquire(false, 1), threading::ValueError);
  EXPECT_THROW(lock.acquire(false, 0), threading::ValueError);
  EXPECT_THROW(lock.acquire(false, -1.5), threading::ValueError);
  EXPECT_TRUE(lock.acquire(false, -1));
  lock.release();
  // negative other than -1 (LOCK-10), NaN (LOCK-12)
  EXPECT_THROW(lock.acquire(true, -100), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, -0.5), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, std::nan("")), threading::ValueError);
  // above TIMEOUT_MAX even when free (LOCK-13)
  EXPECT_THROW(lock.acquire(true, threading::TIMEOUT_MAX * 2), threading::OverflowError);
  EXPECT_THROW(lock.acquire(true, std::numeric_limits<double>::infinity()),
               threading::OverflowError);
  EXPECT_FALSE(lock.locked()) << "a rejected call must leave the lock as it was";
  EXPECT_TRUE(lock.acquire(true, threading::TIMEOUT_MAX));  // exactly the max is accepted
  lock.release();
  EXPECT_TRUE(lock.acquire(true, 1e-12));
  lock.release();
  // The messages are CPython's.
  try {
    lock.acquire(false, 1);
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "can't specify a timeout for a non-blocking call");
  }
  try {
    lock.acquire(true, -2);
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "timeout value must be positive");
  }
}

TEST(Lock, TimedAcquireNeverEarly) {
  Lock lock;
  lock.acquire();
  for (double t : {0.0, 0.01, 0.1}) {
    auto start = Clock::now();
    EXPECT_FALSE(lock.acquire(true, t));
    expect_timeout(seconds_since(start), t);
  }
  std::thread([&] {
    auto start = Clock::now();
    EXPECT_FALSE(lock.acquire(true, std::chrono::milliseconds(50)));
    expect_timeout(seconds_since(start), 0.05);
  }).join();
  lock.release();
}

TEST(Lock, Reacquire) {
  // Not re-entrant: a second acquire by the holder blocks until someone else releases.
  Lock lock;
  threading::Lock phase;
  std::atomic<bool> second_done{false};
  std::thread t([&] {
    lock.acquire();
    lock.acquire();  // blocks
    second_done = true;
    lock.release();
  });
  ASSERT_TRUE(wait_until([&] { return lock.locked(); }));
  EXPECT_FALSE(second_done.load());
  EXPECT_FALSE(lock.acquire(true, 0.01));  // still held (LOCK-18)
  lock.release();                          // from another thread (LOCK-19)
  t.join();
  EXPECT_TRUE(second_done.load());
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, DifferentThreadRelease) {
  Lock lock;
  std::thread([&] { lock.acquire(); }).join();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ReleaseUnlockedRaises) {
  Lock lock;
  try {
    lock.release();
    FAIL() << "no exception";
  } catch (const threading::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "release unlocked lock");
  }
  // still usable
  EXPECT_TRUE(lock.acquire());
  lock.release();
  EXPECT_THROW(lock.unlock(), threading::RuntimeError);
}

TEST(Lock, StateAfterTimeout) {
  Lock lock;
  lock.acquire();
  std::thread([&] { EXPECT_FALSE(lock.acquire(true, 0.01)); }).join();
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, ReleaseWakesExactlyOne) {
  Lock lock;
  lock.acquire();
  std::atomic<int> inside{0};
  Lock gate;  // each winner keeps the lock until the main thread lets it go
  Bunch bunch(3, [&](int) {
    lock.acquire();
    inside.fetch_add(1);
  });
  bunch.wait_started();
  for (int expected = 1; expected <= 3; ++expected) {
    lock.release();
    ASSERT_TRUE(wait_until([&] { return inside.load() == expected; }));
    EXPECT_EQ(inside.load(), expected) << "one release must admit one waiter";
    ASSERT_TRUE(wait_until([&] { return lock.locked(); }));
  }
  bunch.join();
  lock.release();
}

// 8 threads (4x the cores here) hammer one lock until every one of them has
// taken it 1000 times: with no eventual fairness a thread can starve and the
// test would hang (ctest's timeout). Also checks no update is lost.
TEST(Lock, StressNoStarvation) {
  Lock lock;
  constexpr int kThreads = 8;
  constexpr long kGoal = 1000;
  long counter = 0;
  std::vector<long> per_thread(kThreads, 0);
  int reached_goal = 0;
  std::atomic<int> ready{0};
  std::atomic<long> attempts{0};
  {
    Bunch bunch(kThreads, [&](int id) {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (;;) {
        attempts.fetch_add(1, std::memory_order_relaxed);
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

TEST(Lock, MillionHandoffsWithTimeouts) {
  // Two threads take turns through a Lock used as a binary semaphore
  // (released by the other thread), with timed acquires mixed in.
  Lock ping, pong;
  ping.acquire();
  pong.acquire();
  const int kRounds = 200000 / kStressDivisor;
  std::thread t([&] {
    for (int i = 0; i < kRounds; ++i) {
      while (!ping.acquire(true, 0.001)) {
      }
      pong.release();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    ping.release();
    pong.acquire();
  }
  t.join();
  EXPECT_TRUE(ping.locked());  // the last acquire by t
  EXPECT_TRUE(pong.locked());  // the last acquire by main
}

// LOCK-24: a signal delivered to a thread blocked in acquire() interrupts the
// futex wait with EINTR; the wait resumes and the original deadline holds.
namespace {
std::atomic<int> g_signals{0};
extern "C" void count_signal(int) { g_signals.fetch_add(1); }
}  // namespace

TEST(Lock, SignalsDoNotEndAWaitEarly) {
  struct sigaction sa {};
  sa.sa_handler = count_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the futex wait really sees EINTR
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

  Lock lock;
  lock.acquire();
  std::atomic<bool> timed_done{false};
  double elapsed = 0;
  std::thread timed([&] {
    auto start = Clock::now();
    EXPECT_FALSE(lock.acquire(true, 0.3));
    elapsed = seconds_since(start);
    timed_done = true;
  });
  pthread_t handle = timed.native_handle();
  while (!timed_done.load()) {
    pthread_kill(handle, SIGUSR1);
    std::this_thread::yield();
  }
  timed.join();
  expect_timeout(elapsed, 0.3);

  // An untimed acquire keeps waiting through signals until the release.
  g_signals = 0;
  std::atomic<bool> got{false};
  std::thread forever([&] {
    lock.acquire();
    got = true;
  });
  handle = forever.native_handle();
  const int before = g_signals.load();
  while (g_signals.load() < before + 20) {
    pthread_kill(handle, SIGUSR1);
    std::this_thread::yield();
  }
  EXPECT_FALSE(got.load());
  lock.release();
  forever.join();
  EXPECT_TRUE(got.load());
  lock.release();
  sigaction(SIGUSR1, &old, nullptr);
}
