// Groups "queue" and "queue_handoff": threading::queue::Queue<T> against
// TBB's concurrent_bounded_queue, moodycamel's BlockingConcurrentQueue,
// Boost.Thread's sync_bounded_queue / sync_queue and a std::mutex +
// std::condition_variable + std::deque queue, all in the same run.
//
// "queue" case "PxC-capN-item": P producers each put N / P items, C
// consumers each get N / C; the time (manual, wall) is from the start gate
// opening to the last consumer's last get, for N items (the same N for every
// implementation of a case). cap "inf"
// is unbounded. moodycamel has no blocking bounded mode, so it appears in the
// unbounded cases only. On a 2-core machine 4x4 and 16x16 are oversubscribed
// on purpose.
//
// "queue_handoff" case "item": one round trip main -> helper -> main over
// two queues, each hand-off going to a consumer blocked in get (two
// hand-offs per iteration, as the "handoff" group).
#include <boost/version.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "common.hpp"
#include "threading/queue.hpp"
#if defined(PYTHREADING_BENCH_TBB)
#include <tbb/concurrent_queue.h>
#endif
#if defined(PYTHREADING_BENCH_MOODYCAMEL)
#include <concurrentqueue/blockingconcurrentqueue.h>
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/concurrent_queues/sync_bounded_queue.hpp>
#include <boost/thread/concurrent_queues/sync_queue.hpp>
#endif

namespace {

using bench::reg;

// Items per iteration, divisible by every producer and consumer count below
// (1, 4, 16); capacity 1 costs a wake-up per item or two, so it moves fewer.
constexpr int kItemsCap1 = 16 * 16 * 40;
constexpr int kItems = 16 * 16 * 320;
constexpr int kRoundTrips = 10000;

// A 64-byte payload: copies cost a cache line, not a register.
struct Item64 {
  std::uint64_t v[8];
  Item64() = default;
  explicit Item64(int i) noexcept : v{static_cast<std::uint64_t>(i)} {}
  int key() const noexcept { return static_cast<int>(v[0]); }
};
static_assert(sizeof(Item64) == 64);

template <class T>
T make(int i) {
  if constexpr (std::is_same_v<T, int>) {
    return i;
  } else {
    return T(i);
  }
}
inline int key(int v) { return v; }
inline int key(const Item64& v) { return v.key(); }

// Every adapter: Adapter(cap) with cap 0 = unbounded; put(T&&); T get().
template <class T>
struct Ours {
  threading::queue::Queue<T> q;
  explicit Ours(int cap) : q(cap) {}
  void put(T&& v) { q.put(std::move(v)); }
  T get() { return q.get(); }
};

// The textbook std queue, notifying after unlocking (std's faster form).
template <class T>
struct StdQueue {
  std::mutex m;
  std::condition_variable not_empty, not_full;
  std::deque<T> items;
  std::size_t cap;
  explicit StdQueue(int c) : cap(c > 0 ? static_cast<std::size_t>(c) : SIZE_MAX) {}
  void put(T&& v) {
    {
      std::unique_lock lk(m);
      while (items.size() >= cap) not_full.wait(lk);
      items.push_back(std::move(v));
    }
    not_empty.notify_one();
  }
  T get() {
    T v;
    {
      std::unique_lock lk(m);
      while (items.empty()) not_empty.wait(lk);
      v = std::move(items.front());
      items.pop_front();
    }
    not_full.notify_one();
    return v;
  }
};

#if defined(PYTHREADING_BENCH_TBB)
template <class T>
struct Tbb {
  tbb::concurrent_bounded_queue<T> q;
  explicit Tbb(int cap) {
    if (cap > 0) q.set_capacity(cap);
  }
  void put(T&& v) { q.push(std::move(v)); }
  T get() {
    T v;
    q.pop(v);
    return v;
  }
};
#endif

#if defined(PYTHREADING_BENCH_MOODYCAMEL)
template <class T>
struct Moody {  // unbounded only; no producer tokens (the plain API)
  moodycamel::BlockingConcurrentQueue<T> q;
  explicit Moody(int) {}
  void put(T&& v) { q.enqueue(std::move(v)); }
  T get() {
    T v;
    q.wait_dequeue(v);
    return v;
  }
};
#endif

#if BENCH_HAVE_BOOST
template <class T>
struct Boost {
  std::unique_ptr<boost::concurrent::sync_bounded_queue<T>> bounded;
  std::unique_ptr<boost::concurrent::sync_queue<T>> unbounded;
  explicit Boost(int cap) {
    if (cap > 0) {
      bounded = std::make_unique<boost::concurrent::sync_bounded_queue<T>>(cap);
    } else {
      unbounded = std::make_unique<boost::concurrent::sync_queue<T>>();
    }
  }
  void put(T&& v) {
    if (bounded) {
      bounded->push_back(std::move(v));
    } else {
      unbounded->push(std::move(v));
    }
  }
  T get() {
    T v;
    if (bounded) {
      bounded->pull_front(v);
    } else {
      unbounded->pull(v);
    }
    return v;
  }
};
#endif

template <template <class> class Q, class T>
void throughput(benchmark::State& state, int producers, int consumers, int cap) {
  const int items = cap == 1 ? kItemsCap1 : kItems;
  std::int64_t checksum_errors = 0;
  for (auto _ : state) {
    auto q = std::make_unique<Q<T>>(cap);
    bench::Gate gate;
    std::atomic<std::int64_t> sum{0};
    std::vector<std::thread> threads;
    const int per_producer = items / producers, per_consumer = items / consumers;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        gate.arrive_and_wait();
        for (int i = 0; i < per_producer; ++i) q->put(make<T>(p * per_producer + i));
      });
    }
    std::vector<bench::Clock::time_point> ends(consumers);
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&, c] {
        gate.arrive_and_wait();
        std::int64_t s = 0;
        for (int i = 0; i < per_consumer; ++i) s += key(q->get());
        sum.fetch_add(s, std::memory_order_relaxed);
        ends[c] = bench::Clock::now();
      });
    }
    gate.wait_ready(producers + consumers);
    auto start = bench::Clock::now();
    gate.open();
    for (auto& t : threads) t.join();
    auto end = *std::max_element(ends.begin(), ends.end());
    state.SetIterationTime(bench::seconds_between(start, end));
    // Every value 0..items-1 went through exactly once (a cheap check).
    if (sum.load() != std::int64_t{items} * (items - 1) / 2) ++checksum_errors;
  }
  state.SetItemsProcessed(state.iterations() * items);
  if (checksum_errors) state.SkipWithError("lost or duplicated items");
}

template <template <class> class Q, class T>
void handoff(benchmark::State& state) {
  auto there = std::make_unique<Q<T>>(0);
  auto back = std::make_unique<Q<T>>(0);
  std::thread helper([&] {
    for (;;) {
      T v = there->get();
      if (key(v) < 0) return;
      back->put(std::move(v));
    }
  });
  int i = 0;
  for (auto _ : state) {
    there->put(make<T>(i++));
    benchmark::DoNotOptimize(back->get());
  }
  there->put(make<T>(-1));
  helper.join();
  state.SetItemsProcessed(state.iterations() * 2);
}

template <template <class> class Q, class T>
void add(const char* impl, const char* item, bool bounded_too) {
  struct Shape {
    int p, c;
  };
  for (Shape s : {Shape{1, 1}, Shape{4, 4}, Shape{16, 16}}) {
    for (int cap : {1, 64, 0}) {
      if (cap > 0 && !bounded_too) continue;
      std::string kase = std::to_string(s.p) + "x" + std::to_string(s.c) + "-cap" +
                         (cap > 0 ? std::to_string(cap) : std::string("inf")) + "-" + item;
      reg("queue", kase, impl,
          [s, cap](benchmark::State& st) { throughput<Q, T>(st, s.p, s.c, cap); })
          ->Iterations(3)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  reg("queue_handoff", item, impl, handoff<Q, T>)->Iterations(kRoundTrips)->UseRealTime();
}

template <class T>
void add_all(const char* item) {
  add<Ours, T>("pythreading", item, true);
  add<StdQueue, T>("std", item, true);
#if defined(PYTHREADING_BENCH_TBB)
  add<Tbb, T>("tbb", item, true);
#endif
#if BENCH_HAVE_BOOST
  add<Boost, T>("boost", item, true);
#endif
#if defined(PYTHREADING_BENCH_MOODYCAMEL)
  add<Moody, T>("moodycamel", item, false);
#endif
}

const int registered = [] {
  add_all<int>("int");
  add_all<Item64>("item64");
  return 0;
}();

}  // namespace
