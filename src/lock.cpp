#include "threading/lock.hpp"

#include "lock_algorithm.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

bool Lock::acquire_with_timeout(bool blocking, const Timeout& timeout) {
  std::optional<detail::Deadline> deadline = detail::lock_acquire_deadline(blocking, timeout);
  if (try_lock()) return true;
  if (!blocking) return false;
  if (!deadline) return lock_slow(nullptr);
  if (deadline->expired()) return false;  // timeout=0: one try, never wait
  return lock_slow(&*deadline);
}

bool Lock::lock_slow(const detail::Deadline* deadline) {
  detail::WaitScope scope{detail::WaitKind::kLock, this, deadline};
  return detail::LockAlgorithm<std::uint8_t, kParked>::wait(
      state_, [](std::uint8_t s) { return (s & kLocked) == 0; },
      [this](std::uint8_t& s) {
        return state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                            std::memory_order_relaxed);
      },
      [] { return false; }, deadline);
}

bool Lock::release_nothrow() noexcept {
  for (;;) {
    // Relaxed: only chooses the path; the CAS below (or the callback) decides.
    std::uint8_t s = state_.load(std::memory_order_relaxed);
    if ((s & kLocked) == 0) return false;
    if ((s & kParked) != 0) break;
    if (state_.compare_exchange_weak(s, 0, std::memory_order_release, std::memory_order_relaxed)) {
      return true;
    }
  }
  // Waiters are parked: decide under the bucket lock whether to hand the lock
  // straight to the oldest (fairness) or just free it and wake one to compete.
  bool was_locked = true;
  pl::unpark_one(&state_, [&](pl::UnparkResult r) -> pl::Token {
    // Relaxed: under the bucket lock, which orders it after every change of
    // the parked bit; the locked bit is ours to clear (or a misuse).
    if ((state_.load(std::memory_order_relaxed) & kLocked) == 0) {
      was_locked = false;  // a racing release got here first
      return pl::kDefaultToken;
    }
    if (r.unparked_threads > 0 && r.be_fair) {
      // Relaxed: the lock stays held, so nothing is published through the
      // word; the woken thread synchronises with us through its wake flag
      // (wake()'s release exchange, the sleeper's acquire load).
      if (!r.have_more_threads) state_.store(kLocked, std::memory_order_relaxed);
      return detail::kTokenHandoff;
    }
    // Release: the unlock; pairs with the next taker's acquire CAS.
    state_.store(r.have_more_threads ? kParked : 0, std::memory_order_release);
    return pl::kDefaultToken;
  });
  return was_locked;
}

void Lock::waiter_timed_out(bool was_last) noexcept {
  detail::LockAlgorithm<std::uint8_t, kParked>::clear_parked_if_last(state_, was_last);
}

void Lock::release_slow() {
  if (!release_nothrow()) throw RuntimeError("release unlocked lock");
}

bool Lock::mark_parked_if_locked() noexcept {
  // Relaxed: under the bucket lock of state_ (held by notify's requeue), which
  // orders the parked bit with the release that will read it in its callback.
  std::uint8_t s = state_.load(std::memory_order_relaxed);
  while ((s & kLocked) != 0) {
    if (state_.compare_exchange_weak(s, s | kParked, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

}  // namespace threading
