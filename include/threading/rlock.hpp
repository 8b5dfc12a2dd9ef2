// threading::RLock — Python's re-entrant lock.
//
// The owning thread may acquire it again any number of times; each acquire
// must be matched by a release from the same thread, and the lock is free
// once the last one is released. release() by a thread that does not own it
// raises RuntimeError("cannot release un-acquired lock").
//
//   Python                        C++
//   r = threading.RLock()         threading::RLock r;
//   r.acquire(timeout=1)          r.acquire(true, 1.0);
//   r.release()                   r.release();
//   with r: ...                   std::lock_guard g(r);
//
// acquire() takes and validates its arguments exactly as Lock::acquire —
// also on re-entry, as CPython's C RLock does. If the owning thread ends
// while holding it, the RLock stays locked (as in Python).
//
// Destruction is self-synchronising: once acquire() has returned in thread
// A, A may destroy the RLock even if the thread that released it has not yet
// returned from release() (the inner Lock's release is its last access).
//
// Layout: the owner's thread id, a recursion count and a one-byte Lock —
// 16 bytes against std::recursive_mutex's 40. The owner check is one relaxed
// load; the count is touched only by the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "threading/detail/thread_id.hpp"
#include "threading/detail/timed_lockable.hpp"
#include "threading/lock.hpp"
#include "threading/timeout.hpp"

namespace threading {

class RLock : public detail::TimedLockable<RLock> {
 public:
  RLock() noexcept = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  bool acquire(bool blocking = true, Timeout timeout = -1) {
    std::uintptr_t me = detail::current_thread_id();
    if (timeout.is_none() || timeout.seconds() != -1) [[unlikely]] {
      return acquire_with_timeout(me, blocking, timeout);
    }
    if (owner_.load(std::memory_order_relaxed) == me) return reenter();
    if (!lock_.try_lock_raw()) [[unlikely]] {
      if (!blocking || !lock_slow(nullptr)) return false;
    }
    take(me, 1);
    detail::note_acquired(true, this, detail::WaitKind::kRLock);
    return true;
  }

  void release() {
    if (owner_.load(std::memory_order_relaxed) != detail::current_thread_id()) [[unlikely]] {
      throw_not_owned();
    }
    if (--count_ == 0) {
      owner_.store(0, std::memory_order_relaxed);
      detail::note_released(this);
      lock_.release_raw();
    }
  }

  // True if the calling thread owns the lock (CPython's private _is_owned()).
  bool is_owned() const noexcept {
    return owner_.load(std::memory_order_relaxed) == detail::current_thread_id();
  }
  // The calling thread's recursion level: 0 unless it owns the lock
  // (CPython's _recursion_count()).
  std::uint32_t recursion_count() const noexcept { return is_owned() ? count_ : 0; }

  // Lockable / TimedLockable (std::lock_guard, std::unique_lock,
  // std::scoped_lock); try_lock_for/until come from detail::TimedLockable.
  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }

 private:
  friend class Condition;
  friend class detail::TimedLockable<RLock>;

  // try_lock_for/until, after a failed try_lock() (so not re-entry).
  bool timed_lock(const detail::Deadline& deadline) {
    if (deadline.expired() || !lock_slow(&deadline)) return false;
    take(detail::current_thread_id(), 1);
    detail::note_acquired(true, this, detail::WaitKind::kRLock);
    return true;
  }
  // The inner lock's slow path, telling the wait records it is this RLock.
  bool lock_slow(const detail::Deadline* deadline);

  bool acquire_with_timeout(std::uintptr_t me, bool blocking, const Timeout& timeout);
  bool reenter();
  [[noreturn]] static void throw_not_owned();
  void take(std::uintptr_t me, std::uint32_t count) noexcept {
    owner_.store(me, std::memory_order_relaxed);
    count_ = count;
  }
  // Condition.wait: drop every level, remembering how many (CPython's
  // _release_save / _acquire_restore).
  std::uint32_t release_all() noexcept {
    std::uint32_t saved = count_;
    count_ = 0;
    owner_.store(0, std::memory_order_relaxed);
    lock_.release_nothrow();
    return saved;
  }

  // Every owner_ access is relaxed: a thread reads its own id there only if
  // it stored it itself (program order), and any other value just means
  // "not mine"; who owns it next is ordered by lock_'s acquire/release, and
  // owner_ is atomic only because other threads read it unordered.
  std::atomic<std::uintptr_t> owner_{0};
  std::uint32_t count_ = 0;  // touched only by the owner
  Lock lock_;
};

}  // namespace threading
