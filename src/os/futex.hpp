// The per-thread sleep: the one place that talks to the OS to block a thread.
// Part of the OS wall (src/os/): one implementation per platform, chosen by
// CMake. Linux uses the futex directly (os/linux/futex.cpp); elsewhere, or
// with the CMake option PYTHREADING_FUTEX=OFF, a small table of pthread
// mutex/condvar pairs hashed by address stands in for it (os/posix/futex.cpp).
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

// One CPU pause in a spin loop (the processor's hint, not a system call).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace threading::detail
