// Group "contended": N threads increment one counter under one lock for a
// fixed wall-clock round (50 ms); the suite machine has 2 cores, so 4 and 16
// threads are oversubscribed on purpose.
//
// Counters (per benchmark, over all rounds of one repetition):
//   ops_per_s    total increments per second (all threads together);
//   max_wait_us  the longest time any thread went between two of its own
//                acquisitions (waiting for the lock, or for a CPU) — the
//                starvation figure;
//   fairness     min over rounds of (fewest increments by one thread) /
//                (most increments by one thread): 1 = perfectly even.
// The reported time is ns per increment (manual time / ops).
#include <pthread.h>

#include <mutex>
#include <thread>
#include <type_traits>

#include "common.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#if BENCH_HAVE_BOOST
#include <boost/thread/mutex.hpp>
#endif

namespace {

using bench::reg;

struct PthreadMutex {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  void lock() { pthread_mutex_lock(&m); }
  void unlock() { pthread_mutex_unlock(&m); }
};
struct PyLock {
  threading::Lock m;
  void lock() { m.acquire(); }
  void unlock() { m.release(); }
};
struct PyRLock {
  threading::RLock m;
  void lock() { m.acquire(); }
  void unlock() { m.release(); }
};
#if BENCH_HAVE_ABSL
struct AbslMutex {
  absl::Mutex m;
  void lock() { m.Lock(); }
  void unlock() { m.Unlock(); }
};
#endif

// No lock at all: an atomic increment. Its longest wait is the scheduler's
// floor (a runnable thread waiting for a CPU), which every lock row includes.
struct AtomicFloor {
  std::atomic<int> dummy{0};
  void lock() {}
  void unlock() {}
};

struct alignas(64) WorkerStats {
  std::uint64_t ops = 0;
  std::uint64_t max_gap_ticks = 0;
};

template <class M>
void contended(benchmark::State& state) {
  const int nthreads = static_cast<int>(state.range(0));
  const auto round = std::chrono::milliseconds(50);
  M m;
  std::uint64_t counter = 0;
  double total_ops = 0, total_s = 0, max_wait_us = 0, fairness = 1;

  for (auto _ : state) {
    std::vector<WorkerStats> stats(nthreads);
    std::atomic<bool> stop{false};
    bench::Gate gate;
    std::vector<std::thread> threads;
    for (int i = 0; i < nthreads; ++i) {
      threads.emplace_back([&, i] {
        gate.arrive_and_wait();
        std::uint64_t ops = 0, max_gap = 0, last = bench::ticks();
        while (!stop.load(std::memory_order_relaxed)) {
          if constexpr (std::is_same_v<M, AtomicFloor>) {
            m.dummy.fetch_add(1, std::memory_order_relaxed);
          } else {
            m.lock();
            ++counter;
            m.unlock();
          }
          ++ops;
          std::uint64_t now = bench::ticks();
          max_gap = std::max(max_gap, now - last);
          last = now;
        }
        stats[i].ops = ops;
        stats[i].max_gap_ticks = max_gap;
      });
    }
    gate.wait_ready(nthreads);
    auto t0 = bench::Clock::now();
    std::uint64_t k0 = bench::ticks();
    gate.open();
    std::this_thread::sleep_for(round);
    stop.store(true, std::memory_order_relaxed);
    auto t1 = bench::Clock::now();
    std::uint64_t k1 = bench::ticks();
    for (auto& t : threads) t.join();

    double secs = bench::seconds_between(t0, t1);
    double ticks_per_us = static_cast<double>(k1 - k0) / (secs * 1e6);
    std::uint64_t ops = 0, lo = UINT64_MAX, hi = 0, gap = 0;
    for (auto& s : stats) {
      ops += s.ops;
      lo = std::min(lo, s.ops);
      hi = std::max(hi, s.ops);
      gap = std::max(gap, s.max_gap_ticks);
    }
    state.SetIterationTime(secs);
    total_ops += static_cast<double>(ops);
    total_s += secs;
    max_wait_us = std::max(max_wait_us, static_cast<double>(gap) / ticks_per_us);
    fairness = std::min(fairness, hi ? static_cast<double>(lo) / static_cast<double>(hi) : 0.0);
  }
  benchmark::DoNotOptimize(counter);
  state.counters["ops_per_s"] = total_ops / total_s;
  state.counters["ns_per_op"] = total_s * 1e9 / total_ops;
  state.counters["max_wait_us"] = max_wait_us;
  state.counters["fairness"] = fairness;
}

template <class M>
void add(const char* kase, const char* impl,
         std::function<void(benchmark::State&)> fn = contended<M>) {
  reg("contended", kase, impl, fn)
      ->ArgName("threads")
      ->Arg(2)
      ->Arg(4)
      ->Arg(16)
      ->UseManualTime()
      ->Iterations(4)
      ->Unit(benchmark::kMillisecond);
}

const int registered = [] {
  add<PyLock>("Lock", "pythreading");
  add<AtomicFloor>("Lock", "no-lock");
  add<std::mutex>("Lock", "std");
  add<PthreadMutex>("Lock", "posix");
#if BENCH_HAVE_ABSL
  add<AbslMutex>("Lock", "absl", [](benchmark::State& s) {
    bench::AbslDeadlockMode mode(true);
    contended<AbslMutex>(s);
  });
  add<AbslMutex>("Lock", "absl-nodd", [](benchmark::State& s) {
    bench::AbslDeadlockMode mode(false);
    contended<AbslMutex>(s);
  });
#endif
#if BENCH_HAVE_BOOST
  add<boost::mutex>("Lock", "boost");
#endif
  add<PyRLock>("RLock", "pythreading");
  add<std::recursive_mutex>("RLock", "std");
  return 0;
}();

}  // namespace
