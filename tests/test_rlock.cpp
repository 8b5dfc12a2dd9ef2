// threading::RLock: CPython's lock_tests.RLockTests in C++, plus argument
// validation (SPEC §2, §5) and the Condition hooks.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <thread>

#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/rlock.hpp"

using threading::RLock;
using namespace test_support;

TEST(RLock, SizeBeatsRecursiveMutex) { static_assert(sizeof(RLock) <= 16); }

TEST(RLock, AcquireRelease) {
  RLock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.is_owned());
  lock.release();
  EXPECT_FALSE(lock.is_owned());
}

TEST(RLock, Reacquire) {
  RLock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock.acquire(true, 0.5));
  EXPECT_EQ(lock.recursion_count(), 4u);
  lock.release();
  lock.release();
  lock.release();
  EXPECT_TRUE(lock.is_owned());
  lock.release();
  EXPECT_FALSE(lock.is_owned());
  EXPECT_THROW(lock.release(), threading::RuntimeError);
}

TEST(RLock, ReleaseUnacquired) {
  RLock lock;
  try {
    lock.release();
    FAIL();
  } catch (const threading::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot release un-acquired lock");
  }
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

TEST(RLock, DifferentThreadCannotRelease) {
  RLock lock;
  std::atomic<bool> held{false}, done{false};
  std::thread owner([&] {
    lock.acquire();
    held = true;
    wait_until([&] { return done.load(); });
    lock.release();
  });
  ASSERT_TRUE(wait_until([&] { return held.load(); }));
  EXPECT_THROW(lock.release(), threading::RuntimeError);  // RL-11
  EXPECT_FALSE(lock.acquire(false));                      // RL-08
  auto start = Clock::now();
  EXPECT_FALSE(lock.acquire(true, 0.05));
  expect_timeout(seconds_since(start), 0.05);
  done = true;
  owner.join();
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(RLock, ValidatesArgumentsEvenOnReentry) {
  RLock lock;
  lock.acquire();
  EXPECT_THROW(lock.acquire(false, 1), threading::ValueError);  // RL-06
  EXPECT_THROW(lock.acquire(true, -2), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, std::nan("")), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, 1e100), threading::OverflowError);
  EXPECT_EQ(lock.recursion_count(), 1u) << "a rejected call leaves the count alone";
  lock.release();
  EXPECT_THROW(lock.acquire(false, 0), threading::ValueError);
  EXPECT_FALSE(lock.is_owned());
}

TEST(RLock, RecursionCountZeroForOthers) {
  RLock lock;
  lock.acquire();
  lock.acquire();
  std::uint32_t seen = 99;
  std::thread([&] { seen = lock.recursion_count(); }).join();
  EXPECT_EQ(seen, 0u);
  EXPECT_EQ(lock.recursion_count(), 2u);
  lock.release();
  lock.release();
}

TEST(RLock, NestedWithIsLockGuard) {
  RLock lock;
  {
    std::lock_guard a(lock);
    std::lock_guard b(lock);
    EXPECT_EQ(lock.recursion_count(), 2u);
  }
  EXPECT_FALSE(lock.is_owned());
  std::unique_lock u(lock, std::defer_lock);
  EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
}

TEST(RLock, OwnerExitingKeepsItLocked) {
  RLock lock;
  std::thread([&] { lock.acquire(); }).join();  // RL-12
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(true, 0.01));
}

TEST(RLock, ContendedCounter) {
  RLock lock;
  long counter = 0;
  const int kIters = 50000 / kStressDivisor;
  {
    Bunch bunch(4, [&](int) {
      for (int i = 0; i < kIters; ++i) {
        std::lock_guard a(lock);
        std::lock_guard b(lock);
        ++counter;
      }
    });
  }
  EXPECT_EQ(counter, 4L * kIters);
}
