// The per-thread sleep: the one place that talks to the OS to block a thread.
// Linux uses the futex directly; elsewhere a small table of pthread
// mutex/condvar pairs hashed by address stands in for it.
#pragma once

#include <atomic>
#include <cstdint>

#include "threading/timeout.hpp"

namespace threading::detail {

// Sleeps while *word == expected, until woken or `deadline` passes
// (nullptr = no limit). Returns false only when the deadline has passed;
// true on a wake-up, a value mismatch, EINTR or a spurious return — callers
// re-check their condition in a loop either way.
bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept;

// Wakes up to `count` threads sleeping on `word`.
void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept;

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
  void reset() noexcept { state_.store(0, std::memory_order_relaxed); }

 private:
  void lock_slow() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace threading::detail
