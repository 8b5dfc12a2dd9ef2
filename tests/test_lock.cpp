// threading::Lock: the shared lock suites (lock_suites.hpp: BaseLock and
// PlainLock, CPython's BaseLockTests and LockTests) and the hand-off
// ping-pong (ping_pong.hpp), plus what only Lock has: its size, locked()
// and the Python 2 aliases.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "lock_suites.hpp"
#include "ping_pong.hpp"
#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"

using threading::Lock;
using namespace test_support;

INSTANTIATE_TYPED_TEST_SUITE_P(Lock, BaseLock, LockSubject);
INSTANTIATE_TYPED_TEST_SUITE_P(Lock, PlainLock, LockSubject);
INSTANTIATE_TYPED_TEST_SUITE_P(Lock, PingPong, LockToken);

TEST(Lock, SizeIsOneByte) { static_assert(sizeof(Lock) == 1); }

// locked() says whether anyone holds it, whichever thread asks.
TEST(Lock, Locked) {
  Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_TRUE(in_other_thread([&] { return lock.locked(); }));
  lock.release();
  EXPECT_FALSE(lock.locked());
  in_other_thread([&] { lock.acquire(); });
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(true, 0.001));
  EXPECT_TRUE(lock.locked()) << "failed attempts leave it as it was";
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), threading::RuntimeError);
  EXPECT_FALSE(lock.locked()) << "a refused release leaves it as it was";
}

// Python 2's thread-module spellings are the same calls.
TEST(Lock, Python2Aliases) {
  Lock lock;
  EXPECT_TRUE(lock.acquire_lock());
  EXPECT_TRUE(lock.locked_lock());
  EXPECT_FALSE(lock.acquire_lock(false));
  EXPECT_FALSE(lock.acquire_lock(true, 0.001));
  lock.release_lock();
  EXPECT_FALSE(lock.locked_lock());
  EXPECT_THROW(lock.release_lock(), threading::RuntimeError);
  EXPECT_THROW(lock.acquire_lock(false, 1.0), threading::ValueError);
}
