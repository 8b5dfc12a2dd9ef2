// Timeout arithmetic (issue 8, defect 2): every timed call of every Lockable
// type at every boundary of std::chrono durations and time points, and the
// Python-style float timeouts at TIMEOUT_MAX and beyond. Run under UBSan (the
// address configuration) these prove that no conversion overflows; the old
// code failed there (signed overflow in duration_cast and in now + ns).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>

#include "support.hpp"
#include "threading/condition.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/semaphore.hpp"

using namespace test_support;
namespace chr = std::chrono;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Each Lockable type, held by a helper thread (an RLock must be released by
// its owner) until the test lets it go.
template <class T>
struct Subject {
  T obj;
  T& lockable() { return obj; }
  std::size_t parked() const { return parked_in(&obj, sizeof obj); }
};
template <>
struct Subject<threading::Semaphore> {
  threading::Semaphore obj{1};
  threading::Semaphore& lockable() { return obj; }
  std::size_t parked() const { return parked_in(&obj, sizeof obj); }
};
template <>
struct Subject<threading::BoundedSemaphore> {
  threading::BoundedSemaphore obj{1};
  threading::BoundedSemaphore& lockable() { return obj; }
  std::size_t parked() const { return parked_in(&obj, sizeof obj); }
};
template <>
struct Subject<threading::Condition> {
  threading::Lock lock;
  threading::Condition obj{lock};
  threading::Condition& lockable() { return obj; }
  std::size_t parked() const { return parked_in(&lock, sizeof lock); }
};

template <class T>
class Holder {
 public:
  T& lockable() { return s_.lockable(); }
  // Lets go once `waiters` threads are parked on the object.
  void release_when_parked(std::size_t waiters) {
    ASSERT_TRUE(wait_until([&] { return s_.parked() >= waiters; }));
    held_.release();
  }

 private:
  Subject<T> s_;
  HeldByOtherThread<T> held_{s_.lockable()};
};

template <class T>
class TimedLockable : public ::testing::Test {};
using LockableTypes = ::testing::Types<threading::Lock, threading::RLock, threading::Condition,
                                       threading::Semaphore, threading::BoundedSemaphore>;
TYPED_TEST_SUITE(TimedLockable, LockableTypes);

// A timed attempt on the held object that must fail at once.
template <class T, class F>
void expect_immediate_false(F&& attempt) {
  Holder<T> h;
  auto start = Clock::now();
  EXPECT_FALSE(attempt(h.lockable()));
  EXPECT_LT(seconds_since(start), 30.0);
}

// A timed attempt that must wait (practically) forever: it succeeds once the
// holder lets go, which happens only after it has parked.
template <class T, class F>
void expect_waits_until_released(F&& attempt) {
  Holder<T> h;
  std::atomic<int> result{-1};
  std::thread t([&] {
    bool ok = attempt(h.lockable());
    if (ok) h.lockable().unlock();  // by this thread: an RLock's owner
    result.store(ok ? 1 : 0);
  });
  h.release_when_parked(1);
  t.join();
  EXPECT_EQ(result.load(), 1);
}

template <class T, class F>
void expect_times_out(F&& attempt, double seconds) {
  Holder<T> h;
  auto start = Clock::now();
  EXPECT_FALSE(attempt(h.lockable()));
  expect_timeout(seconds_since(start), seconds);
}

}  // namespace

TYPED_TEST(TimedLockable, NonPositiveDurationsTryOnce) {
  using T = TypeParam;
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::nanoseconds(0)); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::nanoseconds(-1)); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::seconds(-5)); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::nanoseconds::min()); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::hours::min()); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::duration<double>(-kInf)); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::duration<double>::min()); });
  expect_immediate_false<T>([](T& l) { return l.try_lock_for(chr::duration<double>(kNan)); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_for(chr::duration<double>(-threading::TIMEOUT_MAX)); });
}

TYPED_TEST(TimedLockable, PastTimePointsTryOnce) {
  using T = TypeParam;
  expect_immediate_false<T>([](T& l) { return l.try_lock_until(chr::steady_clock::now()); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_until(chr::steady_clock::now() - chr::hours(1)); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_until(chr::system_clock::now() - chr::hours(1)); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_until(chr::steady_clock::time_point::min()); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_until(chr::system_clock::time_point::min()); });
  expect_immediate_false<T>(
      [](T& l) { return l.try_lock_until(chr::time_point<chr::system_clock, chr::hours>::min()); });
  expect_immediate_false<T>([](T& l) {
    return l.try_lock_until(
        chr::time_point<chr::steady_clock, chr::duration<double>>(chr::duration<double>(-kInf)));
  });
  expect_immediate_false<T>([](T& l) {
    return l.try_lock_until(
        chr::time_point<chr::steady_clock, chr::duration<double>>(chr::duration<double>(kNan)));
  });
}

TYPED_TEST(TimedLockable, ShortTimeoutsWaitTheirTime) {
  using T = TypeParam;
  expect_times_out<T>([](T& l) { return l.try_lock_for(chr::milliseconds(50)); }, 0.05);
  expect_times_out<T>([](T& l) { return l.try_lock_for(chr::duration<double>(0.05)); }, 0.05);
  expect_times_out<T>(
      [](T& l) { return l.try_lock_for(chr::duration<long long, std::ratio<1, 20>>(1)); }, 0.05);
  expect_times_out<T>(
      [](T& l) { return l.try_lock_until(chr::steady_clock::now() + chr::milliseconds(50)); },
      0.05);
  expect_times_out<T>(
      [](T& l) { return l.try_lock_until(chr::system_clock::now() + chr::milliseconds(50)); },
      0.049);  // the two clocks are read a moment apart
}

TYPED_TEST(TimedLockable, HugeDurationsWaitForever) {
  using T = TypeParam;
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::nanoseconds::max()); });
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::hours::max()); });
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::seconds::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_for(chr::duration<unsigned long long>::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_for(chr::duration<long long, std::atto>::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_for(chr::duration<long long, std::ratio<1, 3>>::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_for(chr::duration<double>(threading::TIMEOUT_MAX)); });
  expect_waits_until_released<T>([](T& l) {
    return l.try_lock_for(chr::duration<double>(std::nextafter(threading::TIMEOUT_MAX, kInf)));
  });
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::duration<double>(1e300)); });
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::duration<double>::max()); });
  expect_waits_until_released<T>([](T& l) { return l.try_lock_for(chr::duration<double>(kInf)); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_for(chr::duration<long double>(1e4000L)); });
}

TYPED_TEST(TimedLockable, FarTimePointsWaitForever) {
  using T = TypeParam;
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_until(chr::steady_clock::time_point::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_until(chr::system_clock::time_point::max()); });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_until(chr::time_point<chr::system_clock, chr::hours>::max()); });
  expect_waits_until_released<T>([](T& l) {
    return l.try_lock_until(chr::time_point<chr::steady_clock, chr::duration<double>>::max());
  });
  expect_waits_until_released<T>(
      [](T& l) { return l.try_lock_until(chr::system_clock::now() + chr::hours(24 * 365 * 200)); });
}

// The Python-style acquire(blocking, timeout) at and beyond TIMEOUT_MAX: the
// limit itself waits (for the release), anything above raises.
TEST(TimeoutMax, LockAcquireAtTheLimitWaits) {
  for (double t : {threading::TIMEOUT_MAX, std::nextafter(threading::TIMEOUT_MAX, 0.0)}) {
    expect_waits_until_released<threading::Lock>(
        [t](threading::Lock& l) { return l.acquire(true, t); });
    expect_waits_until_released<threading::RLock>(
        [t](threading::RLock& l) { return l.acquire(true, t); });
    expect_waits_until_released<threading::Semaphore>(
        [t](threading::Semaphore& s) { return s.acquire(true, t); });
  }
  expect_waits_until_released<threading::Lock>([](threading::Lock& l) {
    return l.acquire(true, chr::duration<double>(threading::TIMEOUT_MAX));
  });
}

TEST(TimeoutMax, AboveTheLimitRaises) {
  threading::Lock lock;
  threading::RLock rlock;
  lock.acquire();
  for (double t :
       {std::nextafter(threading::TIMEOUT_MAX, kInf), threading::TIMEOUT_MAX + 1, 1e300, kInf}) {
    EXPECT_THROW(lock.acquire(true, t), threading::OverflowError) << t;
    EXPECT_THROW(rlock.acquire(true, t), threading::OverflowError) << t;
  }
  EXPECT_THROW(lock.acquire(true, chr::hours::max()), threading::OverflowError);
  EXPECT_THROW(lock.acquire(true, chr::duration<long double>(1e4000L)), threading::OverflowError);
  lock.release();
}

// CPython 3.11 converts a Lock/RLock timeout to a signed 64-bit nanosecond
// count before anything else: below -2^63 ns it raises OverflowError
// ("timestamp out of range for platform time_t"), even with blocking=False;
// just above, the negative timeout is a ValueError (checked with python3.11).
TEST(TimeoutMin, LockAcquireLargeNegative) {
  threading::Lock lock;
  threading::RLock rlock;
  auto expect_overflow = [](auto& l, bool blocking, double t) {
    try {
      l.acquire(blocking, t);
      ADD_FAILURE() << "no OverflowError for " << t;
    } catch (const threading::OverflowError& e) {
      EXPECT_STREQ(e.what(), "timestamp out of range for platform time_t");
    }
  };
  for (double t : {-1e10, -kInf, -9223372037.0, -9.3e9, -1e300,
                   std::nextafter(-9223372036.854775808, -kInf)}) {
    for (bool blocking : {true, false}) {
      expect_overflow(lock, blocking, t);
      expect_overflow(rlock, blocking, t);
    }
  }
  for (double t : {-9223372036.854775808, -9223372036.0, -1e9, -2.0}) {
    EXPECT_THROW(lock.acquire(true, t), threading::ValueError) << t;
    EXPECT_THROW(rlock.acquire(true, t), threading::ValueError) << t;
    EXPECT_THROW(lock.acquire(false, t), threading::ValueError) << t;
  }
  // The objects stay usable.
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  EXPECT_TRUE(rlock.acquire(false));
  rlock.release();
}

// The other calls accept a large negative timeout as "do not wait", as
// CPython does (Condition.wait -> False, Semaphore.acquire -> False when 0).
TEST(TimeoutMin, OtherCallsPollOnLargeNegative) {
  threading::Condition cond;
  threading::Semaphore sem(0);
  for (double t : {-1e10, -kInf, -1e300}) {
    cond.acquire();
    EXPECT_FALSE(cond.wait(t));
    cond.release();
    EXPECT_FALSE(sem.acquire(true, t));
  }
}
