// threading::Lock — Python's primitive lock.
//
// One byte. Not owned: any thread may release it, and releasing it when it is
// not locked raises RuntimeError("release unlocked lock"). It is not
// re-entrant: a holder that acquires again blocks (or times out).
//
//   Python                        C++
//   lock = threading.Lock()       threading::Lock lock;
//   lock.acquire()                lock.acquire();
//   lock.acquire(False)           lock.acquire(false);
//   lock.acquire(timeout=0.5)     lock.acquire(true, 0.5);  // or 500ms
//   lock.release()                lock.release();
//   lock.locked()                 lock.locked();
//   with lock: ...                std::lock_guard g(lock);
//
// acquire(blocking, timeout) validates its arguments exactly as CPython 3.11:
//   * timeout -1 (the default) waits forever; std::nullopt does too (Python
//     would raise TypeError for None; C++ has no such error to give);
//   * another negative timeout, or NaN         -> ValueError;
//   * above TIMEOUT_MAX (or infinite)          -> OverflowError, even if free;
//   * blocking=false with a timeout other than -1 -> ValueError.
// A timed acquire never returns false before the timeout has elapsed.
//
// Performance: uncontended acquire and release are one atomic compare-and-swap
// each. Contended, a thread spins briefly on loads, then parks in the parking
// core. About once a millisecond a release hands the lock directly to the
// longest waiter, so no thread starves however hard others hammer the lock.
//
// Destroying a Lock that is still held is fine (Python allows it); destroying
// one while threads wait on it is undefined, as for any object.
//
// Destruction is self-synchronising (as POSIX promises for mutexes): once
// acquire() has returned in thread A, A may destroy the Lock even if the
// thread that released it has not yet returned from release(). The release
// that lets a waiter go is its last access to the Lock's memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "threading/detail/timed_lockable.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/timeout.hpp"

namespace threading {

class Condition;
class RLock;

class Lock : public detail::TimedLockable<Lock> {
 public:
  constexpr Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  bool acquire(bool blocking = true, Timeout timeout = -1) {
    if (timeout.is_none() || timeout.seconds() != -1) [[unlikely]] {
      return noted(acquire_with_timeout(blocking, timeout));
    }
    if (try_lock_raw()) [[likely]]
      return noted(true);
    if (!blocking) return false;
    return noted(lock_slow(nullptr));
  }

  void release() {
    detail::note_released(this);
    release_raw();
  }

  // Relaxed: a snapshot that orders nothing (as CPython's locked()).
  bool locked() const noexcept { return (state_.load(std::memory_order_relaxed) & kLocked) != 0; }

  // Python 2 `thread` module aliases.
  bool acquire_lock(bool blocking = true, Timeout timeout = -1) {
    return acquire(blocking, timeout);
  }
  void release_lock() { release(); }
  bool locked_lock() const noexcept { return locked(); }

  // Standard Lockable / TimedLockable, so std::lock_guard, std::unique_lock
  // and std::scoped_lock are the C++ `with`. try_lock_for/until (from
  // detail::TimedLockable) follow C++ conventions: a non-positive duration is
  // a single try, not an error, and no duration or time point overflows.
  void lock() {
    if (!try_lock_raw()) [[unlikely]]
      lock_slow(nullptr);
    noted(true);
  }
  bool try_lock() noexcept { return noted(try_lock_raw()); }
  void unlock() { release(); }

 private:
  friend class Condition;
  friend class RLock;
  friend class detail::TimedLockable<Lock>;
  static constexpr std::uint8_t kLocked = 1;  // someone holds the lock
  static constexpr std::uint8_t kParked = 2;  // threads may be parked on it

  bool acquire_with_timeout(bool blocking, const Timeout& timeout);
  // try_lock_for/until, after a failed try_lock().
  bool timed_lock(const detail::Deadline& deadline) {
    return noted(!deadline.expired() && lock_slow(&deadline));
  }
  // The operations without the debug-mode hooks (for RLock and Condition,
  // which report themselves).
  bool try_lock_raw() noexcept {
    std::uint8_t expected = 0;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void release_raw() {
    std::uint8_t expected = kLocked;
    if (!state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                        std::memory_order_relaxed)) [[unlikely]] {
      release_slow();
    }
  }
  bool noted(bool ok) noexcept { return detail::note_acquired(ok, this, detail::WaitKind::kLock); }
  // Waits for the lock until `deadline` (nullptr = forever); true if taken.
  bool lock_slow(const detail::Deadline* deadline);
  void release_slow();
  // Release that reports misuse instead of throwing (for Condition.wait).
  bool release_nothrow() noexcept;
  // Called under the bucket lock when a waiter parked on state_ times out.
  void waiter_timed_out(bool was_last) noexcept;
  // Condition.notify: make sure a release will unpark requeued waiters. Runs
  // under the bucket lock; returns whether the lock was held.
  bool mark_parked_if_locked() noexcept;

  std::atomic<std::uint8_t> state_{0};
};

}  // namespace threading
