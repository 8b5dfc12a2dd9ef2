// threading::queue: Queue, LifoQueue, PriorityQueue, SimpleQueue.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/event.hpp"
#include "threading/queue.hpp"

namespace q = threading::queue;
using namespace std::chrono_literals;
using test_support::Clock;
using test_support::seconds_since;
using test_support::wait_until;

namespace {

// A value whose copy/move can be told to throw (per thread, so concurrent
// tests do not interfere).
thread_local bool t_throw = false;
struct Fragile {
  int v = 0;
  Fragile(int x) : v(x) {}  // NOLINT: implicit, so queues take ints
  Fragile(const Fragile& o) : v(o.v) {
    if (t_throw) throw std::runtime_error("copy");
  }
  Fragile(Fragile&& o) : v(o.v) {
    if (t_throw) throw std::runtime_error("move");
    o.v = -1;
  }
  Fragile& operator=(const Fragile& o) {
    if (t_throw) throw std::runtime_error("copy=");
    v = o.v;
    return *this;
  }
  Fragile& operator=(Fragile&& o) {
    if (t_throw) throw std::runtime_error("move=");
    v = o.v;
    o.v = -1;
    return *this;
  }
  bool operator>(const Fragile& o) const { return v > o.v; }
};

template <class Q>
struct Traits;
template <class T>
struct Traits<q::Queue<T>> {
  template <class U>
  using Rebind = q::Queue<U>;
  static constexpr bool kBounded = true;
};
template <class T>
struct Traits<q::LifoQueue<T>> {
  template <class U>
  using Rebind = q::LifoQueue<U>;
  static constexpr bool kBounded = true;
};
template <class T>
struct Traits<q::PriorityQueue<T>> {
  template <class U>
  using Rebind = q::PriorityQueue<U>;
  static constexpr bool kBounded = true;
};
template <class T>
struct Traits<q::SimpleQueue<T>> {
  template <class U>
  using Rebind = q::SimpleQueue<U>;
  static constexpr bool kBounded = false;
};

// ---------------------------------------------------------------------------
// Behaviour all four queues share.
template <class Q>
class AllQueues : public ::testing::Test {};
using AllTypes =
    ::testing::Types<q::Queue<int>, q::LifoQueue<int>, q::PriorityQueue<int>, q::SimpleQueue<int>>;
TYPED_TEST_SUITE(AllQueues, AllTypes);

TYPED_TEST(AllQueues, PutGetQsizeEmpty) {
  TypeParam queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.qsize(), 0u);
  queue.put(5);
  queue.put_nowait(5);
  int x = 5;
  queue.put(x);
  EXPECT_EQ(queue.qsize(), 3u);
  EXPECT_FALSE(queue.empty());
  EXPECT_EQ(queue.get(), 5);
  EXPECT_EQ(queue.get_nowait(), 5);
  EXPECT_EQ(queue.get(true, 1.0), 5);
  EXPECT_TRUE(queue.empty());
  EXPECT_THROW(queue.get_nowait(), q::Empty);
  EXPECT_THROW(queue.get(false), q::Empty);
  EXPECT_THROW(queue.get(false, -1.0), q::Empty);  // timeout ignored when not blocking
  EXPECT_THROW(queue.get(true, 0.0), q::Empty);
  EXPECT_FALSE(queue.try_get().has_value());
  EXPECT_TRUE(queue.try_put(7));
  EXPECT_EQ(queue.try_get(), 7);
  queue.emplace(8);
  EXPECT_EQ(queue.try_get_for(1s), 8);
  queue.put(9);
  EXPECT_EQ(queue.try_get_until(std::chrono::system_clock::now() + 1s), 9);
  EXPECT_FALSE(queue.try_get_for(-1s).has_value());
  EXPECT_FALSE(queue.try_get_until(std::chrono::steady_clock::time_point::min()).has_value());
}

TYPED_TEST(AllQueues, NegativeTimeoutIsValueError) {
  TypeParam queue;
  try {
    queue.get(true, -1.0);
    FAIL();
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
  }
  queue.put(1);
  EXPECT_THROW(queue.get(true, -0.5), threading::ValueError);  // even with an item there
  EXPECT_EQ(queue.qsize(), 1u);
  EXPECT_EQ(queue.get(), 1);  // still usable
}

TYPED_TEST(AllQueues, TimedGetNeverReturnsEarly) {
  TypeParam queue;
  auto start = Clock::now();
  EXPECT_THROW(queue.get(true, 0.1), q::Empty);
  test_support::expect_timeout(seconds_since(start), 0.1);
  start = Clock::now();
  EXPECT_FALSE(queue.try_get_for(100ms).has_value());
  test_support::expect_timeout(seconds_since(start), 0.1);
}

TYPED_TEST(AllQueues, BlockedGetWakesOnPut) {
  TypeParam queue;
  std::atomic<int> got{-1};
  std::thread t([&] { got = queue.get(); });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_getters() == 1; }));
  queue.put(42);
  t.join();
  EXPECT_EQ(got.load(), 42);
}

TYPED_TEST(AllQueues, MoveOnly) {
  using Q = typename Traits<TypeParam>::template Rebind<std::unique_ptr<int>>;
  Q queue;
  queue.put(std::make_unique<int>(3));
  queue.emplace(new int(4));
  auto p = std::make_unique<int>(5);
  EXPECT_TRUE(queue.try_put(std::move(p)));
  EXPECT_EQ(p, nullptr);
  int sum = 0;
  sum += *queue.get();
  sum += *queue.get_nowait();
  sum += **queue.try_get();
  EXPECT_EQ(sum, 12);
}

TYPED_TEST(AllQueues, ThrowingMoveInPutAndGetKeepsTheItem) {
  using Q = typename Traits<TypeParam>::template Rebind<Fragile>;
  Q queue;
  Fragile item(7);
  t_throw = true;
  EXPECT_THROW(queue.put(item), std::runtime_error);             // copy throws
  EXPECT_THROW(queue.put(std::move(item)), std::runtime_error);  // move throws
  t_throw = false;
  EXPECT_EQ(item.v, 7);  // still with the caller
  EXPECT_EQ(queue.qsize(), 0u);
  queue.put(item);
  t_throw = true;
  EXPECT_THROW(queue.get(), std::runtime_error);
  EXPECT_THROW(queue.try_get(), std::runtime_error);
  t_throw = false;
  EXPECT_EQ(queue.qsize(), 1u);
  EXPECT_EQ(queue.get().v, 7);  // not lost, not duplicated
  EXPECT_THROW(queue.get_nowait(), q::Empty);
}

TYPED_TEST(AllQueues, ThrowingMoveWithBlockedGetterPassesTheItemOn) {
  using Q = typename Traits<TypeParam>::template Rebind<Fragile>;
  Q queue;
  std::atomic<int> got{0};
  std::atomic<int> throws{0};
  std::thread t([&] {
    t_throw = true;  // this getter's move throws once
    try {
      queue.get();
    } catch (const std::runtime_error&) {
      throws++;
    }
    t_throw = false;
    got = queue.get().v;
  });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_getters() == 1; }));
  queue.put(11);
  t.join();
  EXPECT_EQ(throws.load(), 1);
  EXPECT_EQ(got.load(), 11);
  EXPECT_EQ(queue.qsize(), 0u);
}

TYPED_TEST(AllQueues, NoHerdOneWakeupPerItem) {
  TypeParam queue;
  constexpr int kGetters = 6;
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kGetters; ++i) {
    ts.emplace_back([&] {
      queue.get();
      done++;
    });
  }
  ASSERT_TRUE(wait_until([&] { return queue.waiting_getters() == kGetters; }));
  std::size_t before = queue.wakeups();
  for (int i = 1; i <= kGetters; ++i) {
    queue.put(i);
    ASSERT_TRUE(wait_until([&] { return done.load() == i; }));
    // Exactly one wake-up per item; everyone else is still parked.
    EXPECT_EQ(queue.wakeups() - before, static_cast<std::size_t>(i));
    EXPECT_EQ(queue.waiting_getters(), static_cast<std::size_t>(kGetters - i));
  }
  for (auto& t : ts) t.join();
}

TYPED_TEST(AllQueues, TimeoutRacingArrivalLosesNothing) {
  const int kRounds = 2000 / test_support::kStressDivisor;
  TypeParam queue;
  int got = 0;
  for (int i = 0; i < kRounds; ++i) {
    threading::Event go;
    std::thread t([&] {
      go.wait();
      queue.put(i);
    });
    go.set();
    // A timeout short enough to expire around the put.
    if (queue.try_get_for(std::chrono::microseconds(i % 50)).has_value()) ++got;
    t.join();
  }
  while (queue.try_get()) ++got;
  EXPECT_EQ(got, kRounds);
}

TYPED_TEST(AllQueues, DestroyRightAfterGet) {
  const int kRounds = 3000 / test_support::kStressDivisor;
  for (int i = 0; i < kRounds; ++i) {
    auto* queue = new TypeParam();
    std::thread t([&] { queue->put(i); });
    EXPECT_EQ(queue->get(), i);  // often blocked first: the grant path
    delete queue;                // the putter may still be returning
    t.join();
  }
}

TYPED_TEST(AllQueues, StressNoLossNoDuplicate32Threads) {
  constexpr int kProducers = 16, kConsumers = 16;
  const int kPer = 2000 / test_support::kStressDivisor;
  TypeParam queue;
  std::vector<std::atomic<int>> seen(kProducers * kPer);
  std::atomic<int> taken{0};
  {
    test_support::Bunch producers(kProducers, [&](int p) {
      for (int i = 0; i < kPer; ++i) queue.put(p * kPer + i);
    });
    test_support::Bunch consumers(kConsumers, [&](int) {
      for (;;) {
        int v = queue.get();
        if (v < 0) return;
        seen[v]++;
        taken++;
      }
    });
    producers.join();
    // Sentinels only once everything is taken (LIFO/priority would serve them first).
    ASSERT_TRUE(wait_until([&] { return taken.load() == kProducers * kPer; }));
    for (int i = 0; i < kConsumers; ++i) queue.put(-1);
  }
  EXPECT_EQ(taken.load(), kProducers * kPer);
  for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  EXPECT_TRUE(queue.empty());
}

// ---------------------------------------------------------------------------
// Queue, LifoQueue, PriorityQueue: bounds, tasks, shutdown.
template <class Q>
class BoundedQueues : public ::testing::Test {};
using BoundedTypes = ::testing::Types<q::Queue<int>, q::LifoQueue<int>, q::PriorityQueue<int>>;
TYPED_TEST_SUITE(BoundedQueues, BoundedTypes);

TYPED_TEST(BoundedQueues, MaxsizeFullAndFullException) {
  TypeParam unbounded(-3);
  EXPECT_EQ(unbounded.maxsize(), -3);
  for (int i = 0; i < 100; ++i) unbounded.put_nowait(i);
  EXPECT_FALSE(unbounded.full());
  unbounded.put(1, true, -1.0);  // an unbounded put ignores its timeout
  TypeParam queue(2);
  queue.put(1);
  EXPECT_FALSE(queue.full());
  queue.put(2);
  EXPECT_TRUE(queue.full());
  EXPECT_THROW(queue.put_nowait(3), q::Full);
  EXPECT_THROW(queue.put(3, false, 100.0), q::Full);
  EXPECT_THROW(queue.put(3, true, 0.0), q::Full);
  EXPECT_FALSE(queue.try_put(3));
  EXPECT_FALSE(queue.try_put_for(3, 0s));
  auto start = Clock::now();
  EXPECT_THROW(queue.put(3, true, 0.1), q::Full);
  test_support::expect_timeout(seconds_since(start), 0.1);
  start = Clock::now();
  EXPECT_FALSE(queue.try_put_for(3, 100ms));
  test_support::expect_timeout(seconds_since(start), 0.1);
  try {
    queue.put(3, true, -1.0);
    FAIL();
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
  }
  EXPECT_EQ(queue.qsize(), 2u);
  queue.get();
  EXPECT_THROW(queue.put(3, true, -1.0), threading::ValueError);  // even with room, as CPython
}

TYPED_TEST(BoundedQueues, OverflowOnlyWhenWaiting) {
  TypeParam queue(1);
  queue.put(1, true, 1e300);  // room: no wait, no error (as CPython)
  EXPECT_THROW(queue.put(2, true, 1e300), threading::OverflowError);
  EXPECT_EQ(queue.get(true, 1e300), 1);
  EXPECT_THROW(queue.get(true, 1e300), threading::OverflowError);
}

TYPED_TEST(BoundedQueues, Order) {
  TypeParam queue;
  for (int v : {3, 1, 4, 1, 5, 9, 2, 6}) queue.put(v);
  std::vector<int> out;
  while (auto v = queue.try_get()) out.push_back(*v);
  std::vector<int> expected;
  if constexpr (std::is_same_v<TypeParam, q::Queue<int>>) {
    expected = {3, 1, 4, 1, 5, 9, 2, 6};
  } else if constexpr (std::is_same_v<TypeParam, q::LifoQueue<int>>) {
    expected = {6, 2, 9, 5, 1, 4, 1, 3};
  } else {
    expected = {1, 1, 2, 3, 4, 5, 6, 9};
  }
  EXPECT_EQ(out, expected);
}

TYPED_TEST(BoundedQueues, TaskDoneAndJoin) {
  TypeParam queue;
  queue.join();  // nothing unfinished
  try {
    queue.task_done();
    FAIL();
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "task_done() called too many times");
  }
  for (int i = 0; i < 3; ++i) queue.put(i);
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    queue.join();
    joined = true;
  });
  for (int i = 0; i < 3; ++i) {
    queue.get();
    EXPECT_FALSE(joined.load());
    queue.task_done();
  }
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(queue.task_done(), threading::ValueError);
  queue.put(1);  // still usable
  EXPECT_EQ(queue.get(), 1);
  queue.task_done();
}

TYPED_TEST(BoundedQueues, BlockedPutWakesExactlyOnePerFreedSlotFifo) {
  TypeParam queue(1);
  queue.put(-1);
  constexpr int kPutters = 4;
  std::vector<std::thread> ts;
  for (int i = 0; i < kPutters; ++i) {
    ts.emplace_back([&queue, i] { queue.put(i); });
    // Handshake: putter i is parked before putter i+1 starts.
    ASSERT_TRUE(
        wait_until([&] { return queue.waiting_putters() == static_cast<std::size_t>(i + 1); }));
  }
  std::size_t before = queue.wakeups();
  std::vector<int> got;
  for (int i = 0; i < kPutters; ++i) {
    got.push_back(queue.get());
    // The freed slot went to exactly one putter: the oldest.
    ASSERT_TRUE(wait_until([&] { return queue.qsize() == 1; }));
    EXPECT_EQ(queue.wakeups() - before, static_cast<std::size_t>(i + 1));
    EXPECT_EQ(queue.waiting_putters(), static_cast<std::size_t>(kPutters - 1 - i));
  }
  got.push_back(queue.get());
  for (auto& t : ts) t.join();
  EXPECT_EQ(got, (std::vector<int>{-1, 0, 1, 2, 3}));  // single slot: order is arrival order
}

TYPED_TEST(BoundedQueues, TimedPutRacingGetLosesNothing) {
  const int kRounds = 2000 / test_support::kStressDivisor;
  TypeParam queue(1);
  int put = 0, got = 0;
  for (int i = 0; i < kRounds; ++i) {
    queue.put(0);
    ++put;
    threading::Event go;
    std::thread t([&] {
      go.wait();
      got += queue.try_get().has_value() ? 1 : 0;
    });
    go.set();
    if (queue.try_put_for(1, std::chrono::microseconds(i % 50))) ++put;
    t.join();
    while (queue.try_get()) ++got;
  }
  EXPECT_EQ(put, got);
}

TYPED_TEST(BoundedQueues, ShutdownDrainsThenRaises) {
  TypeParam queue;
  queue.put(1);
  queue.put(2);
  queue.shutdown();
  EXPECT_TRUE(queue.is_shutdown());
  EXPECT_THROW(queue.put(3), q::ShutDown);
  EXPECT_THROW(queue.put_nowait(3), q::ShutDown);
  EXPECT_FALSE(queue.try_put(3));
  EXPECT_EQ(queue.qsize(), 2u);
  queue.get();
  queue.get_nowait();
  EXPECT_THROW(queue.get(), q::ShutDown);
  EXPECT_THROW(queue.get(false), q::ShutDown);
  EXPECT_THROW(queue.get(true, -1.0), q::ShutDown);  // CPython checks shutdown first
  EXPECT_FALSE(queue.try_get().has_value());
  queue.task_done();
  queue.task_done();
  queue.join();
}

TYPED_TEST(BoundedQueues, ShutdownWakesBlockedGettersAndPutters) {
  TypeParam empty_q;
  TypeParam full_q(1);
  full_q.put(0);
  std::atomic<int> shut{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&] {
      try {
        empty_q.get();
      } catch (const q::ShutDown&) {
        shut++;
      }
    });
    ts.emplace_back([&] {
      try {
        full_q.put(1, true, 60.0);
      } catch (const q::ShutDown&) {
        shut++;
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return empty_q.waiting_getters() == 3; }));
  ASSERT_TRUE(wait_until([&] { return full_q.waiting_putters() == 3; }));
  empty_q.shutdown();
  full_q.shutdown();
  for (auto& t : ts) t.join();
  EXPECT_EQ(shut.load(), 6);
  EXPECT_EQ(full_q.get(), 0);  // drains
}

TYPED_TEST(BoundedQueues, ShutdownImmediateDiscardsAndReleasesJoin) {
  TypeParam queue;
  for (int i = 0; i < 5; ++i) queue.put(i);
  queue.get();  // one unfinished task is held by "a worker"
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    queue.join();
    joined = true;
  });
  queue.shutdown(true);
  EXPECT_EQ(queue.qsize(), 0u);
  EXPECT_THROW(queue.get(), q::ShutDown);
  EXPECT_FALSE(joined.load());
  queue.task_done();  // the worker finishes
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(queue.task_done(), threading::ValueError);
}

TYPED_TEST(BoundedQueues, DestroyRightAfterJoin) {
  const int kRounds = 2000 / test_support::kStressDivisor;
  for (int i = 0; i < kRounds; ++i) {
    auto* queue = new TypeParam(1);
    queue->put(i);
    std::thread t([&] {
      queue->get();
      queue->task_done();
    });
    queue->join();
    delete queue;  // the worker may still be inside task_done()
    t.join();
  }
}

TYPED_TEST(BoundedQueues, DestroyRightAfterBlockedPut) {
  const int kRounds = 2000 / test_support::kStressDivisor;
  for (int i = 0; i < kRounds; ++i) {
    auto* queue = new TypeParam(1);
    queue->put(0);
    std::thread t([&] { queue->get(); });
    queue->put(1);  // often blocked: woken by the getter's grant
    queue->get();
    t.join();
    delete queue;
  }
}

TYPED_TEST(BoundedQueues, OversubscribedBoundedStress) {
  constexpr int kProducers = 16, kConsumers = 16;
  const int kPer = 1000 / test_support::kStressDivisor;
  TypeParam queue(4);
  std::atomic<long long> sum{0};
  {
    test_support::Bunch consumers(kConsumers, [&](int) {
      for (;;) {
        int v = queue.get();
        if (v < 0) {
          queue.task_done();
          return;
        }
        sum += v;
        queue.task_done();
      }
    });
    test_support::Bunch producers(kProducers, [&](int p) {
      for (int i = 0; i < kPer; ++i) {
        if (i % 7 == 0) {
          while (!queue.try_put_for(p * kPer + i, 1ms)) {
          }
        } else {
          queue.put(p * kPer + i);
        }
      }
    });
    producers.join();
    queue.join();  // every item taken and done: the sentinels come last
    for (int i = 0; i < kConsumers; ++i) queue.put(-1);
  }
  long long n = static_cast<long long>(kProducers) * kPer;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST(Queue, FifoAmongBlockedGetters) {
  // Each item goes to the oldest getter still blocked. (When several items
  // arrive at once, each of the oldest getters is granted one, and which of
  // them a getter takes depends on who runs first.)
  q::Queue<int> queue;
  constexpr int kGetters = 4;
  std::vector<std::atomic<int>> got(kGetters);
  for (auto& g : got) g = -1;
  std::vector<std::thread> ts;
  for (int i = 0; i < kGetters; ++i) {
    ts.emplace_back([&, i] { got[i] = queue.get(); });
    ASSERT_TRUE(
        wait_until([&] { return queue.waiting_getters() == static_cast<std::size_t>(i + 1); }));
  }
  for (int i = 0; i < kGetters; ++i) {
    queue.put(100 + i);
    ASSERT_TRUE(wait_until([&] { return got[i].load() != -1; }));
    EXPECT_EQ(got[i].load(), 100 + i);
    for (int j = i + 1; j < kGetters; ++j) EXPECT_EQ(got[j].load(), -1);
  }
  for (auto& t : ts) t.join();
}

// Items arriving all at once still go oldest item to oldest blocked getter:
// each put hands its item straight to the getter first in line, so no getter
// can overtake an older one on its way back (it was a race before).
template <class Q>
void oldest_item_to_oldest_getter() {
  constexpr int kGetters = 6;
  const int kRounds = 50 / test_support::kStressDivisor;
  for (int round = 0; round < kRounds; ++round) {
    Q queue;
    std::vector<std::atomic<int>> got(kGetters);
    std::vector<std::thread> ts;
    for (int i = 0; i < kGetters; ++i) {
      ts.emplace_back([&, i] { got[i] = queue.get(); });
      ASSERT_TRUE(
          wait_until([&] { return queue.waiting_getters() == static_cast<std::size_t>(i + 1); }));
    }
    for (int i = 0; i < kGetters; ++i) queue.put(i);  // no waiting between puts
    for (auto& t : ts) t.join();
    for (int i = 0; i < kGetters; ++i) ASSERT_EQ(got[i].load(), i) << "round " << round;
  }
}
TEST(Queue, OldestItemToOldestBlockedGetter) { oldest_item_to_oldest_getter<q::Queue<int>>(); }
TEST(SimpleQueue, OldestItemToOldestBlockedGetter) {
  oldest_item_to_oldest_getter<q::SimpleQueue<int>>();
}

// A blocked getter is handed the item directly: the put leaves the queue
// empty and the slot free (a bounded queue of 1 takes the next put at once).
TEST(Queue, DirectHandOffToBlockedGetter) {
  q::Queue<std::string> queue(1);
  std::string got;
  std::thread t([&] { got = queue.get(); });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_getters() == 1; }));
  queue.put(std::string(100, 'x'));  // a heap-allocated string: moved, not copied
  EXPECT_EQ(queue.qsize(), 0u);
  queue.put_nowait("next");  // the slot is still free
  t.join();
  EXPECT_EQ(got, std::string(100, 'x'));
  EXPECT_EQ(queue.get(), "next");
  queue.task_done();
  queue.task_done();
  queue.join();  // both puts counted as tasks
}

// The other way: a get from a full queue takes the oldest blocked putter's
// item into the queue in its place (moved from an rvalue, copied from an
// lvalue, which stays intact) and wakes that putter, its put done: the queue
// is full again when get() returns. emplace() offers nothing (its item is not
// built yet): its putter is granted the slot and stores the item itself.
struct Tracked {
  int v = 0;
  int copies = 0;  // copies made on the way here
  bool moved_from = false;
  Tracked(int x) : v(x) {}  // NOLINT: implicit, for emplace
  Tracked(const Tracked& o) noexcept : v(o.v), copies(o.copies + 1) {}
  Tracked(Tracked&& o) noexcept : v(o.v), copies(o.copies) { o.moved_from = true; }
};
TEST(Queue, GetTakesBlockedPuttersItemIntoTheQueue) {
  q::Queue<Tracked> queue(1);
  queue.put(Tracked(0));
  Tracked moved(1);
  const Tracked copied(2);
  std::thread moving([&] { queue.put(std::move(moved)); });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_putters() == 1; }));
  std::thread copying([&] { queue.put(copied); });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_putters() == 2; }));
  std::thread emplacing([&] { queue.emplace(3); });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_putters() == 3; }));
  std::size_t wakeups = queue.wakeups();

  EXPECT_EQ(queue.get().v, 0);
  EXPECT_EQ(queue.qsize(), 1u);  // already refilled, under the same lock
  EXPECT_EQ(queue.waiting_putters(), 2u);
  EXPECT_EQ(queue.wakeups() - wakeups, 1u);  // one putter woken, no herd
  moving.join();                             // its put returned
  EXPECT_TRUE(moved.moved_from);

  Tracked second = queue.get();
  EXPECT_EQ(second.v, 1);
  EXPECT_EQ(second.copies, 0);
  EXPECT_EQ(queue.qsize(), 1u);
  copying.join();
  EXPECT_FALSE(copied.moved_from);

  Tracked third = queue.get();
  EXPECT_EQ(third.v, 2);
  EXPECT_EQ(third.copies, 1);  // copied once, from the putter's argument
  emplacing.join();            // granted the slot; stored its item itself
  EXPECT_EQ(queue.get().v, 3);
  EXPECT_EQ(queue.wakeups() - wakeups, 3u);
  for (int i = 0; i < 4; ++i) queue.task_done();  // four puts, four tasks
  EXPECT_THROW(queue.task_done(), threading::ValueError);
  queue.join();
}

// Move-only items are taken from a blocked putter too, in putters' order, on
// every bounded queue kind (LIFO: the taken item goes on top).
TYPED_TEST(BoundedQueues, GetTakesBlockedMoveOnlyItems) {
  using Q = typename Traits<TypeParam>::template Rebind<std::unique_ptr<int>>;
  Q queue(1);
  queue.put(std::make_unique<int>(-1));
  constexpr int kPutters = 3;
  std::vector<std::thread> ts;
  for (int i = 0; i < kPutters; ++i) {
    ts.emplace_back([&queue, i] { queue.put(std::make_unique<int>(i)); });
    ASSERT_TRUE(
        wait_until([&] { return queue.waiting_putters() == static_cast<std::size_t>(i + 1); }));
  }
  std::vector<int> got;
  for (int i = 0; i <= kPutters; ++i) {
    got.push_back(*queue.get());
    EXPECT_EQ(queue.qsize(), i < kPutters ? 1u : 0u);
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(got, (std::vector<int>{-1, 0, 1, 2}));
}

// A timed put taken into the queue just as its deadline passes succeeds (its
// item is in the queue, counted once); one that timed out first is not:
// every try_put_for that returned true delivered its item, exactly once.
TEST(Queue, TimedPutTakenAtItsDeadlineCountsOnce) {
  const int kRounds = 2000 / test_support::kStressDivisor;
  q::Queue<int> queue(1);
  int accepted = 0, delivered = 0;
  for (int i = 0; i < kRounds; ++i) {
    queue.put(-1);
    threading::Event go;
    std::thread getter([&] {
      go.wait();
      EXPECT_EQ(queue.get(), -1);
    });
    go.set();
    if (queue.try_put_for(i, std::chrono::microseconds(i % 64))) ++accepted;
    getter.join();
    while (auto v = queue.try_get()) {
      EXPECT_EQ(*v, i);
      ++delivered;
    }
    EXPECT_FALSE(queue.full());
  }
  EXPECT_EQ(accepted, delivered);
}

// A copy that throws while handing off to a blocked getter: the put fails,
// the getter keeps waiting and receives the next item.
TEST(Queue, ThrowingCopyDuringHandOffKeepsTheGetterWaiting) {
  struct NothrowMoveThrowingCopy {
    int v = 0;
    NothrowMoveThrowingCopy(int x) : v(x) {}  // NOLINT
    NothrowMoveThrowingCopy(const NothrowMoveThrowingCopy& o) : v(o.v) {
      if (t_throw) throw std::runtime_error("copy");
    }
    NothrowMoveThrowingCopy(NothrowMoveThrowingCopy&& o) noexcept : v(o.v) {}
    NothrowMoveThrowingCopy& operator=(NothrowMoveThrowingCopy&&) noexcept = default;
  };
  q::Queue<NothrowMoveThrowingCopy> queue;
  std::atomic<int> got{0};
  std::thread t([&] { got = queue.get().v; });
  ASSERT_TRUE(wait_until([&] { return queue.waiting_getters() == 1; }));
  NothrowMoveThrowingCopy item(5);
  t_throw = true;
  EXPECT_THROW(queue.put(item), std::runtime_error);
  t_throw = false;
  EXPECT_EQ(queue.waiting_getters(), 1u);
  EXPECT_EQ(queue.qsize(), 0u);
  queue.put(item);
  t.join();
  EXPECT_EQ(got.load(), 5);
  queue.task_done();  // one put counted, not two
  EXPECT_THROW(queue.task_done(), threading::ValueError);
}

// Move-only T in a PriorityQueue, ordered by value through its operator>,
// both stored directly (noexcept move) and boxed (a move that may throw).
template <bool kNoexceptMove>
struct MoveOnlyPrio {
  std::unique_ptr<int> p;
  explicit MoveOnlyPrio(int v) : p(std::make_unique<int>(v)) {}
  MoveOnlyPrio(MoveOnlyPrio&& o) noexcept(kNoexceptMove) : p(std::move(o.p)) {}
  MoveOnlyPrio& operator=(MoveOnlyPrio&& o) noexcept(kNoexceptMove) {
    p = std::move(o.p);
    return *this;
  }
  bool operator>(const MoveOnlyPrio& o) const { return *p > *o.p; }
};
template <bool kNoexceptMove>
void move_only_priority() {
  q::PriorityQueue<MoveOnlyPrio<kNoexceptMove>> queue;
  for (int v : {5, 2, 8, 1}) queue.put(MoveOnlyPrio<kNoexceptMove>(v));
  queue.emplace(3);
  std::vector<int> out;
  while (auto item = queue.try_get()) out.push_back(*item->p);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 5, 8}));
}
TEST(PriorityQueue, MoveOnlyByValue) {
  move_only_priority<true>();
  move_only_priority<false>();
}

TEST(PriorityQueue, CustomCompareAndMoveOnly) {
  struct Cmp {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
      return *a > *b;
    }
  };
  q::PriorityQueue<std::unique_ptr<int>, Cmp> queue;
  for (int v : {5, 2, 8, 1}) queue.put(std::make_unique<int>(v));
  EXPECT_EQ(*queue.get(), 1);
  EXPECT_EQ(*queue.get(), 2);
  q::PriorityQueue<int, std::less<int>> highest_first;
  for (int v : {5, 2, 8}) highest_first.put(v);
  EXPECT_EQ(highest_first.get(), 8);
}

// A Compare that throws: puts and gets still complete and every item comes
// out exactly once (in an unspecified order), with qsize() right, also when
// a get takes a blocked putter's item in. (A put used to raise with its item
// already in the heap but not counted: it came out only after a later put.)
TEST(PriorityQueue, ThrowingCompareLosesNothing) {
  struct Cmp {
    bool operator()(int a, int b) const {
      if (t_throw) throw std::runtime_error("compare");
      return a > b;
    }
  };
  q::PriorityQueue<int, Cmp> queue(3);
  queue.put(5);
  queue.put(1);
  t_throw = true;  // this thread's comparisons throw
  EXPECT_NO_THROW(queue.put(3));
  EXPECT_EQ(queue.qsize(), 3u);
  std::thread putter([&] { queue.put(7); });  // compares without throwing
  ASSERT_TRUE(wait_until([&] { return queue.waiting_putters() == 1; }));
  std::multiset<int> got{queue.get()};  // its item is taken in, here
  EXPECT_EQ(queue.qsize(), 3u);
  putter.join();
  while (auto v = queue.try_get()) got.insert(*v);
  t_throw = false;
  EXPECT_EQ(got, (std::multiset<int>{1, 3, 5, 7}));
  queue.put(2);
  queue.put(0);
  EXPECT_EQ(queue.get(), 0);  // ordered again
}

TEST(Queue, ExceptionTypes) {
  EXPECT_STREQ(q::Empty().what(), "Empty");
  EXPECT_STREQ(q::Full().what(), "Full");
  EXPECT_STREQ(q::ShutDown().what(), "ShutDown");
  static_assert(std::is_base_of_v<std::runtime_error, q::Empty>);
  static_assert(!std::is_base_of_v<threading::RuntimeError, q::Empty>);
}

// ---------------------------------------------------------------------------
// SimpleQueue specifics.
TEST(SimpleQueue, TimeoutValidationAsCPython) {
  q::SimpleQueue<int> queue;
  queue.put(1, false, -5.0);  // put ignores block and timeout
  try {
    queue.get(true, std::numeric_limits<double>::quiet_NaN());
    FAIL();
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "Invalid value NaN (not a number)");
  }
  EXPECT_THROW(queue.get(true, 1e300), threading::OverflowError);  // even with an item
  EXPECT_THROW(queue.get(true, -1.0), threading::ValueError);
  EXPECT_EQ(queue.get(false, -1.0), 1);
}

// put() from a constructor, and from a destructor, running inside another
// put() on the same thread and the same queue.
q::SimpleQueue<struct Reentrant>* g_reentrant_queue = nullptr;
struct PutOnDestroy {
  ~PutOnDestroy();
};
bool g_reenter = false;  // only the first move of item 1 re-enters
struct Reentrant {
  int v;
  explicit Reentrant(int x) : v(x) {}
  Reentrant(Reentrant&& o) noexcept(false) : v(std::exchange(o.v, 0)) {
    if (v == 1 && std::exchange(g_reenter, false)) {
      PutOnDestroy guard;                    // its destructor puts 5 inside this put
      g_reentrant_queue->put(Reentrant(2));  // nested put, same thread
    }
  }
};
PutOnDestroy::~PutOnDestroy() { g_reentrant_queue->put(Reentrant(5)); }

TEST(SimpleQueue, ReentrantPutFromConstructorAndDestructor) {
  q::SimpleQueue<Reentrant> queue;
  g_reentrant_queue = &queue;
  g_reenter = true;
  queue.put(Reentrant(1));
  queue.put(Reentrant(3));
  std::vector<int> got;
  while (auto r = queue.try_get()) got.push_back(r->v);
  g_reentrant_queue = nullptr;
  EXPECT_EQ(got, (std::vector<int>{2, 5, 1, 3}));
}

}  // namespace
