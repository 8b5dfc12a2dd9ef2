// Shared helpers for the test programs: a bunch of threads, a thread that
// holds a lock until told, bounded waits for a state, counting parked
// threads, capturing an error's message, and timing checks that are strict
// below and generous above.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "threading/detail/parking_lot.hpp"
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

// Calls `attempt` (a timed call that must fail) and checks it returned false
// no sooner than `seconds`.
template <class F>
void expect_fails_after(double seconds, F&& attempt) {
  auto start = Clock::now();
  EXPECT_FALSE(attempt());
  expect_timeout(seconds_since(start), seconds);
}

// Threads parked on any address inside [p, p + size): finds the word an
// object parks on without knowing its layout.
inline std::size_t parked_in(const void* p, std::size_t size) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < size; ++i) {
    n += threading::detail::parking_lot::waiter_count(static_cast<const char*>(p) + i);
  }
  return n;
}

// The message of the E that `f()` throws, or "" when it throws nothing; an
// exception of another type escapes (and fails the test by itself).
template <class E = std::exception, class F>
std::string error_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// `f()` must throw an E saying exactly `message`.
template <class E, class F>
void expect_error(F&& f, std::string_view message) {
  try {
    std::forward<F>(f)();
    ADD_FAILURE() << "no exception; expected: " << message;
  } catch (const E& e) {
    EXPECT_EQ(std::string_view(e.what()), message);
  }
}

// Runs `f` in a new thread and returns what it returned (e.g. whether a
// try-acquire succeeded from a thread that is not the holder).
template <class F>
auto in_other_thread(F f) -> decltype(f()) {
  if constexpr (std::is_void_v<decltype(f())>) {
    std::thread(std::move(f)).join();
  } else {
    decltype(f()) result{};
    std::thread([&] { result = f(); }).join();
    return result;
  }
}

// Whether some thread other than the caller could not take `lock` now: tried
// from a fresh thread (which gives it back at once if it got it), so it works
// for owned locks (RLock) and for those that have no locked() (Condition).
template <class L>
bool held_for_others(L& lock) {
  return in_other_thread([&] {
    if (!lock.try_lock()) return true;
    lock.unlock();
    return false;
  });
}

// A thread that takes `lock` (any Lockable) on construction and keeps it
// until release() or destruction: the holder a contended scenario needs when
// the caller must not hold the lock itself (an RLock would just re-enter).
template <class L>
class HeldByOtherThread {
 public:
  explicit HeldByOtherThread(L& lock)
      : thread_([this, &lock] {
          lock.lock();
          held_.store(true);
          while (!let_go_.load()) std::this_thread::yield();
          lock.unlock();
        }) {
    while (!held_.load()) std::this_thread::yield();
  }
  ~HeldByOtherThread() { release(); }
  HeldByOtherThread(const HeldByOtherThread&) = delete;
  HeldByOtherThread& operator=(const HeldByOtherThread&) = delete;
  // Lets go and waits until the holder has released it.
  void release() {
    let_go_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> held_{false}, let_go_{false};
  std::thread thread_;
};

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
