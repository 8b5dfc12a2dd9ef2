// The parking core's own bucket lock (src/parking_lot.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.hpp"

namespace threading::detail {

// A tiny three-state mutex (unlocked / locked / locked with sleepers) on one
// 32-bit word, for the parking core's own bucket locks. It must not use the
// parking core, so it sleeps on the futex directly. Constant-initialisable and
// trivially destructible, so buckets outlive every thread at exit.
class WordLock {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      lock_slow();
    }
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
  }
  // After fork, in the child's only thread: relaxed.
  void reset() noexcept { state_.store(0, std::memory_order_relaxed); }

 private:
  void lock_slow() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace threading::detail
