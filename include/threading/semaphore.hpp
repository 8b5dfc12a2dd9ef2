// threading::Semaphore and threading::BoundedSemaphore — Python's counting
// semaphores.
//
//   Python                                  C++
//   sem = threading.Semaphore(3)            threading::Semaphore sem(3);
//   sem = threading.BoundedSemaphore(3)     threading::BoundedSemaphore sem(3);
//   sem.acquire()                           sem.acquire();
//   sem.acquire(False)                      sem.acquire(false);
//   sem.acquire(timeout=0.5)                sem.acquire(true, 0.5);   // or 500ms
//   sem.release(); sem.release(n)           sem.release(); sem.release(n);
//   with sem: ...                           std::lock_guard g(sem);
//
// Contract (as CPython 3.11):
//   * Semaphore(value) with value < 0 raises
//     ValueError("semaphore initial value must be >= 0").
//   * acquire() takes one unit, blocking while the counter is 0; it returns
//     true, or false when non-blocking or timed out.
//   * acquire(false, <any timeout>) raises
//     ValueError("can't specify timeout for non-blocking acquire") — even 0.
//   * A timeout <= 0 just polls. A NaN timeout never expires. A timeout above
//     TIMEOUT_MAX raises OverflowError, but only when the call has to wait.
//     A timed acquire never returns false before its timeout has elapsed.
//   * release(n) adds n and wakes up to n waiters; n == 0 raises
//     ValueError("n must be one or more"). A Semaphore has no upper bound.
//   * BoundedSemaphore::release(n) raises
//     ValueError("Semaphore released too many times") if the counter would
//     exceed the initial value; nothing is added (all or nothing). The bound
//     holds even when released through a Semaphore& (no virtual call needed:
//     the state word carries a "bounded" bit).
//
// Differences from Python, because C++ integers are finite: the counter holds
// at most kMaxValue (2^62 - 1); a larger initial value or a release past it
// raises OverflowError("semaphore value too large").
//
// Destruction is self-synchronising (as POSIX promises for sem_t): once
// acquire() has returned in thread A, A may destroy the semaphore even if
// the thread that released it has not yet returned from release(). When
// waiters may be parked, the units are published inside the parking core's
// unpark callback, after which release() never touches the object again.
//
// Performance: 8 bytes. Uncontended acquire and release are one atomic
// compare-and-swap each. Waiters are recorded by a "parked" bit in the state
// word, never inferred from the counter, so a release cannot miss a sleeper.
// About once a millisecond a release hands units straight to the woken
// threads, so a waiter is not starved by threads that keep barging in.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "threading/detail/timed_lockable.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/timeout.hpp"

namespace threading {

class Semaphore : public detail::TimedLockable<Semaphore> {
 public:
  static constexpr long long kMaxValue = (1LL << 62) - 1;

  explicit Semaphore(long long value = 1) : Semaphore(value, false) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  bool acquire(bool blocking = true, Timeout timeout = std::nullopt) {
    if (!timeout.is_none()) [[unlikely]] {
      return noted(acquire_with_timeout(blocking, timeout));
    }
    if (try_lock_raw()) [[likely]]
      return noted(true);
    if (!blocking) return false;
    return noted(acquire_slow(nullptr));
  }

  void release(std::size_t n = 1) {
    // Relaxed: the expected value of the CAS, which publishes (release: pairs
    // with the acquire CAS of the thread that takes the unit).
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    std::uint64_t add = static_cast<std::uint64_t>(n) << kCountShift;
    if (n - 1 < kSmallRelease && (s & (kParked | kBounded)) == 0 &&
        (s >> kCountShift) + n <= kMaxValue) [[likely]] {
      if (state_.compare_exchange_strong(s, s + add, std::memory_order_release,
                                         std::memory_order_relaxed)) {
        return;
      }
    }
    release_slow(n);
  }

  // The counter's current value (CPython shows it only in repr()).
  long long value() const noexcept {
    // Relaxed: a snapshot that orders nothing.
    return static_cast<long long>(state_.load(std::memory_order_relaxed) >> kCountShift);
  }

  // Standard Lockable / TimedLockable, so std::lock_guard, std::unique_lock
  // and std::scoped_lock are the C++ `with`. try_lock_for/until (from
  // detail::TimedLockable) follow C++ conventions: a non-positive duration is
  // a single try, not an error, and no duration or time point overflows.
  void lock() {
    if (!try_lock_raw()) [[unlikely]]
      acquire_slow(nullptr);
    noted(true);
  }
  bool try_lock() noexcept { return noted(try_lock_raw()); }
  void unlock() { release(); }

 private:
  // Without the debug-mode hook (debug mode records the last acquirer).
  bool try_lock_raw() noexcept {
    // Acquire CAS: pairs with the release CAS of the release() that added the
    // unit; the relaxed load is only its expected value.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    while (s >= kOne) {
      if (state_.compare_exchange_weak(s, s - kOne, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  bool noted(bool ok) noexcept {
    return detail::note_acquired(ok, this, detail::WaitKind::kSemaphore);
  }

  friend class BoundedSemaphore;
  friend class detail::TimedLockable<Semaphore>;
  Semaphore(long long value, bool bounded);

  // State word: bit 0 = threads may be parked on it, bit 1 = this is a
  // BoundedSemaphore, bits 2..63 = the counter.
  static constexpr std::uint64_t kParked = 1;
  static constexpr std::uint64_t kBounded = 2;
  static constexpr int kCountShift = 2;
  static constexpr std::uint64_t kOne = std::uint64_t{1} << kCountShift;
  // Releases of more than this go through the slow path (keeps the inline
  // shift free of overflow).
  static constexpr std::size_t kSmallRelease = std::size_t{1} << 32;

  bool acquire_with_timeout(bool blocking, const Timeout& timeout);
  // try_lock_for/until, after a failed try_lock().
  bool timed_lock(const detail::Deadline& deadline) {
    return noted(!deadline.expired() && acquire_slow(&deadline));
  }
  // Waits for a unit until `deadline` (nullptr = forever); true if taken.
  bool acquire_slow(const detail::Deadline* deadline);
  void release_slow(std::size_t n);
  const char* release_error(std::uint64_t s, std::size_t n) const noexcept;

  std::atomic<std::uint64_t> state_{0};
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(long long value = 1) : Semaphore(value, true), initial_(value) {}

  // The initial value, which release() may not exceed.
  long long initial_value() const noexcept { return initial_; }

 private:
  friend class Semaphore;
  long long initial_;
};

}  // namespace threading
