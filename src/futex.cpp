#include "futex.hpp"

#include <cerrno>
#include <ctime>

// CMake's PYTHREADING_FUTEX option decides; other builds default to the futex on Linux.
#if !defined(PYTHREADING_USE_FUTEX)
#if defined(__linux__)
#define PYTHREADING_USE_FUTEX 1
#else
#define PYTHREADING_USE_FUTEX 0
#endif
#endif

#if PYTHREADING_USE_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <pthread.h>
#endif

namespace threading::detail {

#if PYTHREADING_USE_FUTEX

bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept {
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline != nullptr) {
    if (deadline->ns <= Deadline::now_ns()) return false;
    ts.tv_sec = deadline->ns / 1000000000;
    ts.tv_nsec = deadline->ns % 1000000000;
    tsp = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so the deadline
  // never drifts however often the sleep is interrupted.
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word),
                    FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp, nullptr,
                    FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;
}

void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count,
          nullptr, nullptr, 0);
}

#else  // Portable fallback: a hashed table of mutex/condvar pairs.

namespace {
struct alignas(64) SleepSlot {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
};
SleepSlot g_slots[64];
SleepSlot& slot_for(const void* p) {
  auto h = reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull;
  return g_slots[h >> 58];
}
}  // namespace

bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept {
  SleepSlot& s = slot_for(word);
  pthread_mutex_lock(&s.mutex);
  bool in_time = true;
  if (word->load(std::memory_order_acquire) == expected) {
    if (deadline == nullptr) {
      pthread_cond_wait(&s.cond, &s.mutex);
    } else {
      // pthread_cond_timedwait measures CLOCK_REALTIME here; convert the
      // remaining monotonic time once per call (callers loop).
      std::int64_t left = deadline->remaining_ns();
      if (left <= 0) {
        in_time = false;
      } else {
        timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        std::int64_t abs = now.tv_sec * 1000000000ll + now.tv_nsec + left;
        timespec ts{static_cast<time_t>(abs / 1000000000), static_cast<long>(abs % 1000000000)};
        pthread_cond_timedwait(&s.cond, &s.mutex, &ts);
        in_time = !deadline->expired();
      }
    }
  }
  pthread_mutex_unlock(&s.mutex);
  return in_time;
}

void futex_wake(std::atomic<std::uint32_t>* word, int) noexcept {
  SleepSlot& s = slot_for(word);
  pthread_mutex_lock(&s.mutex);
  pthread_cond_broadcast(&s.cond);  // the slot is shared: wake all, they re-check
  pthread_mutex_unlock(&s.mutex);
}

#endif

void WordLock::lock_slow() noexcept {
  for (int spin = 0; spin < 100; ++spin) {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == 0 &&
        state_.compare_exchange_weak(s, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
    if (s == 2) break;
    cpu_relax();
  }
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2, nullptr);
}

}  // namespace threading::detail
