// Shared helpers for the test programs: a bunch of threads, bounded waits for
// a state, and timing checks that are strict below and generous above.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "threading/thread.hpp"

namespace test_support {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Polls `pred` (yielding) until it holds or `limit` passes; returns its last
// value. For waiting on a *state* another thread reaches (e.g. "3 threads are
// parked"), never as a stand-in for a handshake.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 60s) {
  auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > end) return pred();
    std::this_thread::yield();
  }
  return true;
}

// A timed call returned after `elapsed` seconds for a timeout of `expected`:
// never early; late only within a generous bound (the machine is shared).
inline void expect_timeout(double elapsed, double expected) {
  EXPECT_GE(elapsed, expected) << "returned before its timeout";
  EXPECT_LT(elapsed, expected + 30.0) << "returned far too late";
}

// Starts `n` threads each running `f(index)`, like lock_tests.Bunch.
class Bunch {
 public:
  Bunch(int n, std::function<void(int)> f) {
    threads_.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, f, i] {
        started_.fetch_add(1);
        f(i);
        finished_.fetch_add(1);
      });
    }
  }
  ~Bunch() { join(); }
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int started() const { return started_.load(); }
  int finished() const { return finished_.load(); }
  void wait_started() {
    int n = static_cast<int>(threads_.size());
    wait_until([&] { return started_.load() == n; });
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<int> started_{0};
  std::atomic<int> finished_{0};
};

}  // namespace test_support

namespace test_support {
// Sanitizer builds run 5-20x slower: stress loops scale down there.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr int kStressDivisor = 5;
#else
inline constexpr int kStressDivisor = 1;
#endif
}  // namespace test_support

namespace test_support {
// Installs a threading::excepthook for the scope of a test.
class HookGuard {
 public:
  explicit HookGuard(threading::ExceptHook h) : old_(threading::excepthook(std::move(h))) {}
  ~HookGuard() { threading::excepthook(std::move(old_)); }

 private:
  threading::ExceptHook old_;
};
}  // namespace test_support
