// threading::Semaphore and BoundedSemaphore: our C++ versions of CPython's
// lock_tests.BaseSemaphoreTests (the BaseSemaphore typed suite, run for
// both) and SemaphoreTests/BoundedSemaphoreTests, the SPEC §2/§7/§8/§17 rows
// that apply to C++, every error with its message, and stress: many
// waiters, release(n) waking exactly n, no lost wake-up (the shared
// ping-pong of ping_pong.hpp, for both).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "ping_pong.hpp"
#include "support.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"
#include "threading/semaphore.hpp"

using threading::BoundedSemaphore;
using threading::Semaphore;
using namespace test_support;
namespace pl = threading::detail::parking_lot;

namespace {

// Threads parked on a semaphore (its state word is its only member).
std::size_t parked(const Semaphore& sem) { return pl::waiter_count(&sem); }

// A semaphore with nothing left to take that (bounded or not) accepts
// `room` releases: what a hand-off scenario starts from.
template <class T>
void drain(T& sem, long long room) {
  for (long long i = 0; i < room; ++i) ASSERT_TRUE(sem.acquire(false));
  ASSERT_EQ(sem.value(), 0);
}

// The same scenarios run for both classes (lock_tests' BaseSemaphoreTests).
template <class T>
class BaseSemaphore : public ::testing::Test {};
using SemaphoreTypes = ::testing::Types<Semaphore, BoundedSemaphore>;
TYPED_TEST_SUITE(BaseSemaphore, SemaphoreTypes);

}  // namespace

using SemaphoreTokens = ::testing::Types<SemaphoreToken, BoundedSemaphoreToken>;
INSTANTIATE_TYPED_TEST_SUITE_P(Semaphore, PingPong, SemaphoreTokens);

TEST(Semaphore, SizeAtMostEightBytes) {
  static_assert(sizeof(Semaphore) <= 8);
  static_assert(alignof(Semaphore) <= 8);
}

TYPED_TEST(BaseSemaphore, Constructor) {
  expect_error<threading::ValueError>([] { TypeParam s(-1); },
                                      "semaphore initial value must be >= 0");
  expect_error<threading::ValueError>([] { TypeParam s(-LLONG_MAX); },
                                      "semaphore initial value must be >= 0");
  expect_error<threading::ValueError>([] { TypeParam s(LLONG_MIN); },
                                      "semaphore initial value must be >= 0");
  TypeParam zero(0);  // SM-01: zero is allowed
  EXPECT_EQ(zero.value(), 0);
  TypeParam dflt;
  EXPECT_EQ(dflt.value(), 1);
  // C++ only: the counter is finite.
  expect_error<threading::OverflowError>([] { TypeParam s(Semaphore::kMaxValue + 1); },
                                         "semaphore value too large");
  TypeParam big(Semaphore::kMaxValue);
  EXPECT_EQ(big.value(), Semaphore::kMaxValue);
  EXPECT_TRUE(big.acquire(false));
  EXPECT_EQ(big.value(), Semaphore::kMaxValue - 1);
}

TYPED_TEST(BaseSemaphore, Acquire) {
  TypeParam one(1);
  EXPECT_TRUE(one.acquire());
  one.release();
  TypeParam two(2);
  EXPECT_TRUE(two.acquire());
  EXPECT_TRUE(two.acquire());
  two.release();
  two.release();
  EXPECT_EQ(two.value(), 2);
}

TYPED_TEST(BaseSemaphore, AcquireDestroy) {
  auto* sem = new TypeParam;
  sem->acquire();
  delete sem;  // destroying an acquired semaphore is fine
}

// lock_tests test_acquire_contended: ten threads each acquire twice from a
// semaphore of 7 (one unit already taken), released in phases.
TYPED_TEST(BaseSemaphore, AcquireContended) {
  constexpr int kValue = 7;
  TypeParam sem(kValue);
  sem.acquire();
  std::atomic<int> phase{0};
  std::mutex mu;  // guards results (test bookkeeping only)
  std::vector<int> results;
  std::atomic<int> done{0};
  auto count = [&] { return done.load(); };
  {
    Bunch bunch(10, [&](int) {
      for (int k = 0; k < 2; ++k) {
        EXPECT_TRUE(sem.acquire());
        {
          std::lock_guard g(mu);
          results.push_back(phase.load());
        }
        done.fetch_add(1);
      }
    });
    // Phase 0: the six free units are taken, everyone else blocks.
    ASSERT_TRUE(wait_until([&] {
      return count() == kValue - 1 && parked(sem) == std::size_t(10 - bunch.finished());
    }));
    phase = 1;
    for (int i = 0; i < kValue; ++i) sem.release();
    ASSERT_TRUE(wait_until([&] { return count() == 2 * kValue - 1; }));
    phase = 2;
    for (int i = 0; i < kValue - 1; ++i) sem.release();
    ASSERT_TRUE(wait_until([&] { return count() == 3 * kValue - 2; }));
    EXPECT_FALSE(sem.acquire(false)) << "the semaphore is still exhausted";
    sem.release();  // the last thread's last acquire
  }
  std::sort(results.begin(), results.end());
  std::vector<int> expected;
  expected.insert(expected.end(), kValue - 1, 0);
  expected.insert(expected.end(), kValue, 1);
  expected.insert(expected.end(), kValue, 2);  // phase-2 releases + the final one
  EXPECT_EQ(results, expected);
}

// lock_tests test_multirelease: the same with release(n).
TYPED_TEST(BaseSemaphore, MultiRelease) {
  constexpr int kValue = 7;
  TypeParam sem(kValue);
  sem.acquire();
  std::atomic<int> done{0};
  {
    Bunch bunch(10, [&](int) {
      sem.acquire();
      done.fetch_add(1);
      sem.acquire();
      done.fetch_add(1);
    });
    ASSERT_TRUE(wait_until([&] { return done.load() == kValue - 1; }));
    sem.release(kValue);
    ASSERT_TRUE(wait_until([&] { return done.load() == 2 * kValue - 1; }));
    sem.release(kValue - 1);
    ASSERT_TRUE(wait_until([&] { return done.load() == 3 * kValue - 2; }));
    EXPECT_FALSE(sem.acquire(false));
    sem.release();
  }
  EXPECT_EQ(done.load(), 20);
  EXPECT_EQ(sem.value(), 0);
}

TYPED_TEST(BaseSemaphore, TryAcquire) {
  TypeParam sem(2);
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));  // SM-05
  sem.release();
  EXPECT_TRUE(sem.acquire(false));
}

TYPED_TEST(BaseSemaphore, TryAcquireContended) {
  TypeParam sem(4);
  sem.acquire();
  std::atomic<int> got{0}, refused{0};
  {
    Bunch bunch(5, [&](int) {
      for (int k = 0; k < 2; ++k) (sem.acquire(false) ? got : refused).fetch_add(1);
    });
  }
  EXPECT_EQ(got.load(), 3);
  EXPECT_EQ(refused.load(), 7);
}

TYPED_TEST(BaseSemaphore, AcquireTimeout) {
  TypeParam sem(2);
  EXPECT_THROW(sem.acquire(false, 1.0), threading::ValueError);
  EXPECT_TRUE(sem.acquire(true, 0.005));
  EXPECT_TRUE(sem.acquire(true, 0.005));
  EXPECT_FALSE(sem.acquire(true, 0.005));
  sem.release();
  EXPECT_TRUE(sem.acquire(true, 0.005));
  auto start = Clock::now();
  EXPECT_FALSE(sem.acquire(true, 0.1));
  expect_timeout(seconds_since(start), 0.1);
  start = Clock::now();
  EXPECT_FALSE(sem.acquire(true, std::chrono::milliseconds(30)));
  expect_timeout(seconds_since(start), 0.03);
}

// SM-06: blocking=false with any timeout at all, even 0, is a ValueError; the
// counter is left alone.
TYPED_TEST(BaseSemaphore, NonBlockingWithTimeoutIsValueError) {
  TypeParam sem(1);
  const double kNan = std::nan("");
  const double kInf = std::numeric_limits<double>::infinity();
  for (threading::Timeout t :
       {threading::Timeout(0), threading::Timeout(1.0), threading::Timeout(-1),
        threading::Timeout(kNan), threading::Timeout(kInf), threading::Timeout(1e300),
        threading::Timeout(std::chrono::seconds(1))}) {
    expect_error<threading::ValueError>([&] { sem.acquire(false, t); },
                                        "can't specify timeout for non-blocking acquire");
  }
  EXPECT_EQ(sem.value(), 1);
  EXPECT_TRUE(sem.acquire(false, std::nullopt));  // None is fine
  EXPECT_FALSE(sem.acquire(false, std::nullopt));
  sem.release();
}

// SM-08..SM-10: the timeout is looked at only when the call has to wait.
TYPED_TEST(BaseSemaphore, TimeoutMatrix) {
  const double kNan = std::nan("");
  const double kInf = std::numeric_limits<double>::infinity();
  TypeParam sem(3);
  // Free: any timeout succeeds, however odd.
  EXPECT_TRUE(sem.acquire(true, 1e300));
  EXPECT_TRUE(sem.acquire(true, kInf));
  EXPECT_TRUE(sem.acquire(true, kNan));
  // Exhausted: <= 0 polls, > TIMEOUT_MAX raises, exactly TIMEOUT_MAX would wait.
  for (double t : {0.0, -0.0, -1.0, -1e300, -kInf}) {
    auto start = Clock::now();
    EXPECT_FALSE(sem.acquire(true, t)) << t;
    EXPECT_LT(seconds_since(start), 30.0);
  }
  for (double t : {threading::TIMEOUT_MAX * 2, 1e100, kInf}) {
    expect_error<threading::OverflowError>([&] { sem.acquire(true, t); },
                                           "timestamp out of range for platform time_t");
  }
  EXPECT_EQ(sem.value(), 0);
  sem.release(3);
  EXPECT_EQ(sem.value(), 3);
}

// SM-09: NaN never times out; it waits until a release comes.
TYPED_TEST(BaseSemaphore, NanTimeoutWaitsForRelease) {
  TypeParam sem(1);
  sem.acquire();
  std::atomic<bool> got{false};
  std::thread t([&] {
    EXPECT_TRUE(sem.acquire(true, std::nan("")));
    got = true;
  });
  ASSERT_TRUE(wait_until([&] { return parked(sem) == 1; }));
  EXPECT_FALSE(got.load());
  sem.release();
  t.join();
  EXPECT_TRUE(got.load());
}

// Exactly TIMEOUT_MAX is accepted (it waits, and a release ends the wait).
TYPED_TEST(BaseSemaphore, TimeoutMaxIsAccepted) {
  TypeParam sem(1);
  sem.acquire();
  std::thread t([&] { EXPECT_TRUE(sem.acquire(true, threading::TIMEOUT_MAX)); });
  ASSERT_TRUE(wait_until([&] { return parked(sem) == 1; }));
  sem.release();
  t.join();
}

TYPED_TEST(BaseSemaphore, TimedAcquireNeverEarly) {
  TypeParam sem(1);
  sem.acquire();
  for (double t : {0.001, 0.01, 0.05}) {
    auto start = Clock::now();
    EXPECT_FALSE(sem.acquire(true, t));
    expect_timeout(seconds_since(start), t);
  }
  // Concurrent timed waiters, all expiring: each waits its full timeout and
  // the counter is unchanged afterwards.
  {
    Bunch bunch(4, [&](int) {
      auto start = Clock::now();
      EXPECT_FALSE(sem.acquire(true, 0.05));
      expect_timeout(seconds_since(start), 0.05);
    });
  }
  EXPECT_EQ(sem.value(), 0);
  EXPECT_EQ(parked(sem), 0u);
  sem.release();  // still usable: the parked bit was cleaned up
  EXPECT_TRUE(sem.acquire(true, 0.01));
}

TYPED_TEST(BaseSemaphore, DefaultValue) {
  TypeParam sem;
  sem.acquire();
  std::atomic<bool> finished{false};
  std::thread t([&] {
    sem.acquire();
    sem.release();
    finished = true;
  });
  ASSERT_TRUE(wait_until([&] { return parked(sem) == 1; }));
  EXPECT_FALSE(finished.load());
  sem.release();
  t.join();
  EXPECT_TRUE(finished.load());
}

// WITH-01/03/08: std::lock_guard and friends are Python's `with`.
TYPED_TEST(BaseSemaphore, WithIsLockGuard) {
  TypeParam sem(2);
  auto with = [&](bool raise) {
    std::lock_guard outer(sem);
    EXPECT_EQ(sem.value(), 1);
    EXPECT_TRUE(sem.acquire(false));
    sem.release();
    std::lock_guard inner(sem);
    EXPECT_FALSE(sem.acquire(false));
    if (raise) throw std::runtime_error("inside");
  };
  with(false);
  EXPECT_EQ(sem.value(), 2);
  EXPECT_THROW(with(true), std::runtime_error);
  EXPECT_EQ(sem.value(), 2);
  {
    std::unique_lock u(sem, std::defer_lock);
    EXPECT_TRUE(u.try_lock_for(std::chrono::milliseconds(1)));
    std::unique_lock v(sem, std::defer_lock);
    EXPECT_TRUE(v.try_lock_until(std::chrono::steady_clock::now() + std::chrono::seconds(1)));
    std::unique_lock w(sem, std::defer_lock);
    auto start = Clock::now();
    EXPECT_FALSE(w.try_lock_for(std::chrono::milliseconds(20)));
    expect_timeout(seconds_since(start), 0.02);
    EXPECT_FALSE(w.try_lock_for(std::chrono::milliseconds(-5)));  // C++: just a try
  }
  {
    std::unique_lock x(sem, std::defer_lock);
    EXPECT_TRUE(x.try_lock_for(std::chrono::hours::max()));  // no overflow
  }
  EXPECT_EQ(sem.value(), 2);
  TypeParam a(1), b(1);
  {
    std::scoped_lock both(a, b);
    EXPECT_EQ(a.value() + b.value(), 0);
  }
  EXPECT_EQ(a.value() + b.value(), 2);
}

// SM-12 / BS-06: release(0) is refused; nothing changes.
TYPED_TEST(BaseSemaphore, ReleaseZeroIsValueError) {
  TypeParam sem(1);
  sem.acquire();
  expect_error<threading::ValueError>([&] { sem.release(0); }, "n must be one or more");
  EXPECT_EQ(sem.value(), 0);
  sem.release(1);
  EXPECT_EQ(sem.value(), 1);
}

// release(n) wakes exactly min(n, waiters) threads: count the wake-ups.
TYPED_TEST(BaseSemaphore, ReleaseNWakesExactlyN) {
  constexpr int kWaiters = 8;
  TypeParam sem(kWaiters);
  for (int i = 0; i < kWaiters; ++i) sem.acquire();  // exhausted; bound is kWaiters
  std::atomic<int> woke{0};
  Bunch bunch(kWaiters, [&](int) {
    EXPECT_TRUE(sem.acquire());
    woke.fetch_add(1);
  });
  ASSERT_TRUE(wait_until([&] { return parked(sem) == kWaiters; }));
  int expected = 0;
  for (int n : {3, 1, 4}) {
    sem.release(n);
    expected += n;
    ASSERT_TRUE(wait_until([&] { return woke.load() == expected; }));
    // The rest stay parked, and no unit is left over.
    ASSERT_TRUE(wait_until([&] { return parked(sem) == std::size_t(kWaiters - expected); }));
    EXPECT_EQ(woke.load(), expected);
    EXPECT_EQ(sem.value(), 0);
  }
  bunch.join();
  EXPECT_EQ(woke.load(), kWaiters);
}

// release(n) with more units than waiters wakes them all and keeps the rest.
TYPED_TEST(BaseSemaphore, ReleaseMoreThanWaiters) {
  TypeParam sem(10);
  drain(sem, 10);
  std::atomic<int> woke{0};
  Bunch bunch(3, [&](int) {
    sem.acquire();
    woke.fetch_add(1);
  });
  ASSERT_TRUE(wait_until([&] { return parked(sem) == 3; }));
  sem.release(10);
  bunch.join();
  EXPECT_EQ(woke.load(), 3);
  EXPECT_EQ(sem.value(), 7);
}

// SM-11: an unbounded semaphore goes above its initial value.
TEST(Semaphore, ReleaseUnacquired) {
  Semaphore sem(1);
  sem.release();
  EXPECT_EQ(sem.value(), 2);
  sem.acquire();
  sem.acquire();
  sem.release();
  sem.release(5);
  EXPECT_EQ(sem.value(), 6);
}

// C++ only: the counter cannot overflow silently.
TEST(Semaphore, ReleasePastMaxIsOverflowError) {
  Semaphore sem(Semaphore::kMaxValue - 1);
  sem.release();
  EXPECT_EQ(sem.value(), Semaphore::kMaxValue);
  expect_error<threading::OverflowError>([&] { sem.release(); }, "semaphore value too large");
  expect_error<threading::OverflowError>([&] { sem.release(SIZE_MAX); },
                                         "semaphore value too large");
  EXPECT_EQ(sem.value(), Semaphore::kMaxValue);
  Semaphore zero(0);
  expect_error<threading::OverflowError>([&] { zero.release(SIZE_MAX); },
                                         "semaphore value too large");
  EXPECT_EQ(zero.value(), 0);
  zero.release(std::size_t{1} << 40);  // a large but valid n (slow path)
  EXPECT_EQ(zero.value(), 1LL << 40);
}

// BS-02/BS-04: cannot go past the initial value; the counter is unchanged and
// the semaphore still works.
TEST(BoundedSemaphore, ReleaseUnacquired) {
  BoundedSemaphore sem;
  EXPECT_EQ(sem.initial_value(), 1);
  expect_error<threading::ValueError>([&] { sem.release(); }, "Semaphore released too many times");
  EXPECT_EQ(sem.value(), 1);
  sem.acquire();
  sem.release();
  expect_error<threading::ValueError>([&] { sem.release(); }, "Semaphore released too many times");
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
  sem.release();
  BoundedSemaphore zero(0);
  expect_error<threading::ValueError>([&] { zero.release(); }, "Semaphore released too many times");
  EXPECT_EQ(zero.value(), 0);
}

// BS-03: release(n) is all or nothing.
TEST(BoundedSemaphore, MultiReleaseAllOrNothing) {
  BoundedSemaphore sem(5);
  for (int i = 0; i < 3; ++i) sem.acquire();
  expect_error<threading::ValueError>([&] { sem.release(4); }, "Semaphore released too many times");
  EXPECT_EQ(sem.value(), 2);
  expect_error<threading::ValueError>([&] { sem.release(SIZE_MAX); },
                                      "Semaphore released too many times");
  EXPECT_EQ(sem.value(), 2);
  sem.release(3);
  EXPECT_EQ(sem.value(), 5);
  expect_error<threading::ValueError>([&] { sem.release(1); }, "Semaphore released too many times");
  expect_error<threading::ValueError>([&] { sem.release(0); }, "n must be one or more");
  EXPECT_EQ(sem.value(), 5);
}

// The bound holds through a Semaphore& too (Python's override semantics).
TEST(BoundedSemaphore, BoundHoldsThroughBaseReference) {
  BoundedSemaphore bounded(2);
  Semaphore& base = bounded;
  base.acquire();
  base.release();
  expect_error<threading::ValueError>([&] { base.release(); }, "Semaphore released too many times");
  std::lock_guard guard(base);
  EXPECT_EQ(bounded.value(), 1);
}

// BS-05: releases may come from threads other than the acquirers.
TEST(BoundedSemaphore, ReleaseFromOtherThread) {
  BoundedSemaphore sem(2);
  std::thread([&] {
    sem.acquire();
    sem.acquire();
  }).join();
  EXPECT_EQ(sem.value(), 0);
  std::thread([&] { sem.release(2); }).join();
  EXPECT_EQ(sem.value(), 2);
  std::thread([&] { EXPECT_THROW(sem.release(), threading::ValueError); }).join();
}

// Over-release races: concurrent releasers can never push it past the bound.
TEST(BoundedSemaphore, ConcurrentOverReleaseNeverExceedsBound) {
  constexpr int kBound = 4;
  const int kRounds = 2000 / kStressDivisor;
  BoundedSemaphore sem(kBound);
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kBound; ++i) sem.acquire();
    std::atomic<int> ok{0}, refused{0};
    {
      Bunch bunch(3, [&](int) {
        for (int i = 0; i < kBound; ++i) {
          try {
            sem.release();
            ok.fetch_add(1);
          } catch (const threading::ValueError&) {
            refused.fetch_add(1);
          }
        }
      });
    }
    ASSERT_EQ(ok.load(), kBound);
    ASSERT_EQ(refused.load(), 3 * kBound - kBound);
    ASSERT_EQ(sem.value(), kBound);
  }
}

// Many threads use a Semaphore(3) as a pool: never more than 3 inside, no
// unit lost or invented, with timed acquires mixed in.
TYPED_TEST(BaseSemaphore, StressPoolInvariant) {
  constexpr int kSlots = 3;
  constexpr int kThreads = 8;
  const int kIters = 20000 / kStressDivisor;
  TypeParam sem(kSlots);
  std::atomic<int> inside{0}, max_inside{0};
  std::atomic<long> entered{0};
  {
    Bunch bunch(kThreads, [&](int id) {
      for (int i = 0; i < kIters; ++i) {
        bool got = (i + id) % 4 == 0 ? sem.acquire(true, 0.0005) : sem.acquire();
        if (!got) continue;
        int now = inside.fetch_add(1) + 1;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        entered.fetch_add(1);
        inside.fetch_sub(1);
        sem.release();
      }
    });
  }
  EXPECT_LE(max_inside.load(), kSlots);
  EXPECT_GT(entered.load(), 0);
  EXPECT_EQ(sem.value(), kSlots);
  EXPECT_EQ(parked(sem), 0u);
}

// No lost wake-up with batches: a producer releases in batches of 1..5 while
// consumers (more threads than cores) take units one at a time; every unit
// released is taken exactly once.
TYPED_TEST(BaseSemaphore, BatchedProducerConsumer) {
  const long kTotal = 300000 / kStressDivisor;
  constexpr int kConsumers = 6;
  // Room for every unit the producer may release (it overshoots by up to 4)
  // and the poison units.
  TypeParam items(kTotal + 4 + kConsumers);
  drain(items, kTotal + 4 + kConsumers);
  std::atomic<long> taken{0};
  std::atomic<bool> stop{false};
  {
    Bunch consumers(kConsumers, [&](int) {
      for (;;) {
        items.acquire();
        if (stop.load()) return;
        taken.fetch_add(1);
      }
    });
    long produced = 0;
    for (std::size_t n = 1; produced < kTotal; n = n % 5 + 1) {
      items.release(n);
      produced += static_cast<long>(n);
    }
    ASSERT_TRUE(wait_until([&] { return taken.load() == produced; }));
    stop = true;
    items.release(kConsumers);  // one poison unit per consumer
  }
  EXPECT_GE(taken.load(), kTotal);
  EXPECT_EQ(items.value(), 0);
}

// Happens-before: what a releaser wrote is visible to the acquirer (TSan
// checks this).
TYPED_TEST(BaseSemaphore, ReleaseHappensBeforeAcquire) {
  const int kRounds = 20000 / kStressDivisor;
  TypeParam sem(kRounds);
  drain(sem, kRounds);
  std::vector<long> data(kRounds, 0);
  std::thread producer([&] {
    for (int i = 0; i < kRounds; ++i) {
      data[i] = i * 3L;
      sem.release();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    sem.acquire();
    ASSERT_EQ(data[i], i * 3L);
  }
  producer.join();
}
