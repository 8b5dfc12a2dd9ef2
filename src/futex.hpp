// The per-thread sleep: the one place that talks to the OS to block a thread.
// Linux uses the futex directly; elsewhere (or with the CMake option
// PYTHREADING_FUTEX=OFF) a small table of pthread mutex/condvar pairs hashed
// by address stands in for it.
#pragma once

#include <atomic>
#include <cstdint>

#include "threading/timeout.hpp"

namespace threading::detail {

// Sleeps while *word == expected, until woken or `deadline` passes
// (nullptr, or the saturated Deadline{INT64_MAX} = no limit). Returns false
// only when the deadline has passed; true on a wake-up, a value mismatch,
// EINTR or a spurious return — callers re-check their condition in a loop
// either way. Any other failure of the OS (e.g. a futex refused by a seccomp
// filter) is fatal (fatal_os_error): never a silent spin.
bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept;

// Wakes up to `count` threads sleeping on `word` (the portable path may wake
// more: they re-check). Fatal if the OS refuses.
void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept;

// In the child after fork(): forget the sleepers of the parent's threads.
// Allocates nothing. Called by parking_lot::reinit_after_fork.
void futex_reinit_after_fork() noexcept;

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

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace threading::detail
