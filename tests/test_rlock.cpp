// threading::RLock: the shared lock suites (lock_suites.hpp: BaseLock and
// ReentrantLock, CPython's BaseLockTests and RLockTests), plus what only
// RLock shows: its size, recursion_count() and is_owned().
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "lock_suites.hpp"
#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/rlock.hpp"

using threading::RLock;
using namespace test_support;

INSTANTIATE_TYPED_TEST_SUITE_P(RLock, BaseLock, RLockSubject);
INSTANTIATE_TYPED_TEST_SUITE_P(RLock, ReentrantLock, RLockSubject);

TEST(RLock, SizeBeatsRecursiveMutex) { static_assert(sizeof(RLock) <= 16); }

// CPython's _recursion_count(): every kind of acquire adds a level, every
// release takes one off; 0 for a thread that does not own it.
TEST(RLock, RecursionCount) {
  RLock lock;
  EXPECT_EQ(lock.recursion_count(), 0u);
  EXPECT_TRUE(lock.acquire());
  EXPECT_EQ(lock.recursion_count(), 1u);
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock.acquire(true, 0.5));
  EXPECT_TRUE(lock.try_lock_for(std::chrono::milliseconds(1)));
  EXPECT_EQ(lock.recursion_count(), 5u);
  lock.release();
  EXPECT_EQ(lock.recursion_count(), 4u);
  for (int i = 0; i < 4; ++i) lock.release();
  EXPECT_EQ(lock.recursion_count(), 0u);
  // While another thread owns it, this one's count is 0.
  HeldByOtherThread holder(lock);
  EXPECT_EQ(lock.recursion_count(), 0u);
  holder.release();
  EXPECT_EQ(lock.recursion_count(), 0u);
}

TEST(RLock, RecursionCountZeroForOthers) {
  RLock lock;
  lock.acquire();
  lock.acquire();
  EXPECT_EQ(in_other_thread([&] { return lock.recursion_count(); }), 0u);
  EXPECT_EQ(lock.recursion_count(), 2u);
  lock.release();
  lock.release();
}

// CPython's _is_owned(): true only in the owning thread.
TEST(RLock, IsOwned) {
  RLock lock;
  EXPECT_FALSE(lock.is_owned());
  lock.acquire();
  EXPECT_TRUE(lock.is_owned());
  lock.acquire();
  EXPECT_TRUE(lock.is_owned());
  EXPECT_FALSE(in_other_thread([&] { return lock.is_owned(); }));
  lock.release();
  EXPECT_TRUE(lock.is_owned());
  lock.release();
  EXPECT_FALSE(lock.is_owned());
}

// A rejected re-entering acquire leaves the count exactly as it was.
TEST(RLock, RejectedReentryKeepsTheCount) {
  RLock lock;
  lock.acquire();
  lock.acquire();
  EXPECT_THROW(lock.acquire(false, 1), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, -2), threading::ValueError);
  EXPECT_THROW(lock.acquire(true, 1e100), threading::OverflowError);
  EXPECT_EQ(lock.recursion_count(), 2u);
  lock.release();
  lock.release();
  EXPECT_FALSE(lock.is_owned());
}
