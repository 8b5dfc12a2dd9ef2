// Shared helpers for the pythreading benchmark suite.
//
// Every benchmark is registered under a name "group/case/impl" where impl is
// one of: pythreading, std, absl, absl-nodd (Abseil with deadlock detection
// off), boost, posix. scripts/plot_bench.py pairs rows by group/case and
// divides each implementation's median by pythreading's.
#pragma once

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#if __has_include(<absl/synchronization/mutex.h>) && defined(PYTHREADING_BENCH_ABSL)
#define BENCH_HAVE_ABSL 1
#include <absl/synchronization/mutex.h>
#else
#define BENCH_HAVE_ABSL 0
#endif

#if defined(PYTHREADING_BENCH_BOOST)
#define BENCH_HAVE_BOOST 1
#else
#define BENCH_HAVE_BOOST 0
#endif

namespace bench {

inline std::string name(const std::string& group, const std::string& kase,
                        const std::string& impl) {
  return group + "/" + kase + "/" + impl;
}

// Registers fn under group/case/impl and returns the Benchmark for chaining.
inline benchmark::internal::Benchmark* reg(const std::string& group, const std::string& kase,
                                           const std::string& impl,
                                           std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(name(group, kase, impl).c_str(),
                                      [fn](benchmark::State& s) { fn(s); });
}

#if BENCH_HAVE_ABSL
// Debian builds Abseil without NDEBUG, so its deadlock detector is on by
// default. The "absl" rows run with the default mode, the "absl-nodd" rows
// with kIgnore; this guard switches for the duration of one benchmark.
class AbslDeadlockMode {
 public:
  explicit AbslDeadlockMode(bool detect) {
    absl::SetMutexDeadlockDetectionMode(detect ? default_mode() : absl::OnDeadlockCycle::kIgnore);
  }
  ~AbslDeadlockMode() { absl::SetMutexDeadlockDetectionMode(default_mode()); }
  static absl::OnDeadlockCycle& default_mode() {
    static absl::OnDeadlockCycle mode = absl::OnDeadlockCycle::kAbort;
    return mode;
  }
};
#endif

// A cheap monotonic tick for per-operation timestamps (rdtsc is ~11 ns here,
// steady_clock ~26 ns); converted to ns with a per-round calibration.
inline std::uint64_t ticks() noexcept { return __rdtsc(); }

using Clock = std::chrono::steady_clock;
inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// One-shot start gate: workers block (futex) until the main thread opens it.
class Gate {
 public:
  void arrive_and_wait() {
    ready_.fetch_add(1, std::memory_order_acq_rel);
    ready_.notify_all();
    while (open_.load(std::memory_order_acquire) == 0) open_.wait(0, std::memory_order_acquire);
  }
  void wait_ready(int n) {
    for (int r = ready_.load(); r < n; r = ready_.load()) ready_.wait(r);
  }
  void open() {
    open_.store(1, std::memory_order_release);
    open_.notify_all();
  }

 private:
  std::atomic<int> ready_{0};
  std::atomic<int> open_{0};
};

// Median of a small sample (copies).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace bench
