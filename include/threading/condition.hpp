// threading::Condition — Python's condition variable.
//
//   Python                              C++
//   cv = threading.Condition()          threading::Condition cv;        // owns a new RLock
//   cv = threading.Condition(lock)      threading::Condition cv(lock);  // a Lock& or RLock&
//   with cv: ...                        std::unique_lock g(cv);
//   cv.wait(timeout=None) -> bool       cv.wait() / cv.wait(0.5) / cv.wait(500ms)
//   cv.wait_for(pred, timeout)          cv.wait_for([&] { return ...; }, 2.0)
//   cv.notify(n=1); cv.notify_all()     cv.notify(n); cv.notify_all();
//
// Contract (as CPython):
//   * wait/notify/notify_all without the lock raise RuntimeError ("cannot wait
//     on un-acquired lock" / "cannot notify on un-acquired lock"). Over a Lock,
//     "held" means locked by any thread; over an RLock, owned by this thread.
//   * wait() releases the lock completely (all RLock levels), blocks until
//     notified or timed out, re-acquires it (restoring the recursion level),
//     and returns true if notified, false on timeout. A non-positive or NaN
//     timeout does not block but still releases and re-acquires the lock.
//     Above TIMEOUT_MAX: OverflowError, with the lock still held.
//   * wait_for(pred, timeout) returns pred's last value (not a bool), the
//     timeout being one overall deadline; NaN never times out.
//   * notify(n) wakes exactly min(n, waiters) threads, oldest first; a waiter
//     whose timeout expires concurrently never swallows the notification
//     (CPython gh-92530). There are no spurious wake-ups.
//   * Notified threads are moved onto the lock's own wait queue rather than
//     woken, so notify_all() causes no thundering herd: they wake one by one
//     as the lock is released.
//
// Destruction is self-synchronising: once wait() has returned in thread A, A
// may destroy the Condition (and, if it wants, the lock) even if the thread
// that notified it has not yet returned from notify() or from the release of
// the lock. notify() changes the Condition only under the lock, and the
// lock's release is as safe as Lock's and RLock's.
//
// Size: 16 bytes plus the lock it uses (the default constructor allocates its
// RLock on the heap).
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "threading/detail/timed_lockable.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/timeout.hpp"

namespace threading {

class Condition : public detail::TimedLockable<Condition> {
 public:
  Condition();
  explicit Condition(Lock& lock) noexcept : lock_(&lock), kind_(Kind::kLock) {}
  explicit Condition(RLock& lock) noexcept : lock_(&lock), kind_(Kind::kRLock) {}
  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // The underlying lock's own acquire/release, results passed through.
  bool acquire(bool blocking = true, Timeout timeout = -1) {
    return kind_ == Kind::kLock ? as_lock().acquire(blocking, timeout)
                                : as_rlock().acquire(blocking, timeout);
  }
  void release() { kind_ == Kind::kLock ? as_lock().release() : as_rlock().release(); }

  bool wait(Timeout timeout = std::nullopt);

  // Python's wait_for: returns the predicate's last value.
  template <class Pred>
  auto wait_for(Pred predicate, Timeout timeout = std::nullopt) -> decltype(predicate()) {
    auto result = predicate();
    if (timeout.is_none() || std::isnan(timeout.seconds())) {
      while (!result) {
        wait();
        result = predicate();
      }
      return result;
    }
    bool have_end = false;
    double end = 0, wait_time = timeout.seconds();
    while (!result) {
      if (!have_end) {
        end = now_seconds() + wait_time;
        have_end = true;
      } else {
        wait_time = end - now_seconds();
        if (wait_time <= 0) break;
      }
      wait(wait_time);
      result = predicate();
    }
    return result;
  }

  void notify(std::size_t n = 1);
  void notify_all() { notify(SIZE_MAX); }
  void notifyAll() { notify_all(); }  // Python 2 spelling

  // Lockable / TimedLockable (try_lock_for/until from detail::TimedLockable).
  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  // Threads currently blocked in wait() (a snapshot).
  // Relaxed: a snapshot (exact when read with the lock held, which orders it).
  std::size_t waiter_count() const noexcept { return waiters_.load(std::memory_order_relaxed); }

 private:
  enum class Kind : std::uint8_t { kLock, kRLock, kOwnedRLock };
  friend class detail::TimedLockable<Condition>;

  bool timed_lock(const detail::Deadline& deadline) {
    return kind_ == Kind::kLock ? as_lock().timed_lock(deadline) : as_rlock().timed_lock(deadline);
  }

  Lock& as_lock() const noexcept { return *static_cast<Lock*>(lock_); }
  RLock& as_rlock() const noexcept { return *static_cast<RLock*>(lock_); }
  Lock& raw_lock() const noexcept { return kind_ == Kind::kLock ? as_lock() : as_rlock().lock_; }
  bool is_owned() const noexcept;
  static double now_seconds() noexcept;

  void* lock_;
  // Threads inside wait(). Relaxed everywhere: changed and read for
  // decisions only with the user's lock held, which orders it.
  std::atomic<std::uint32_t> waiters_{0};
  Kind kind_;
};

}  // namespace threading
