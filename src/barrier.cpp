#include "threading/barrier.hpp"

#include <cmath>
#include <optional>
#include <utility>

#include "futex.hpp"
#include "spin.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

namespace {

// Spin-then-yield before parking (spin.hpp), on this object's state word.
thread_local detail::SpinBudget t_spin;

template <class Done>
bool spin_until(const std::atomic<std::uint64_t>& word, Done done) {
  return detail::spin_then_yield(t_spin,
                                 [&] { return done(word.load(std::memory_order_acquire)); });
}

}  // namespace

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)), timeout_(timeout), parties_(parties) {
  if (parties == 0) throw ValueError("parties must be > 0");
}

std::size_t Barrier::wait(Timeout timeout) {
  if (timeout.is_none()) timeout = timeout_;
  std::uint64_t s = word_.load(std::memory_order_acquire);
  for (;;) {
    if ((s & kPhaseMask) == kBroken) throw BrokenBarrierError();
    if (busy(s)) {
      // CPython's _enter: wait, with no time limit, for the previous cycle to
      // finish leaving (or resetting) before joining the next one.
      s = wait_while([this](std::uint64_t v) { return busy(v); });
      continue;
    }
    auto index = static_cast<std::size_t>(s >> kCountShift);
    bool last = index + 1 == parties_;
    // A timeout that is too large is refused before this thread is counted,
    // so the barrier is left exactly as it was (BR-12). The last arriver
    // never waits, so it never looks at the timeout.
    if (!last && !timeout.is_none()) detail::check_not_too_large(timeout.seconds());
    if (word_.compare_exchange_weak(s, s + kOne, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return last ? trip(index) : await_release(index, timeout);
    }
  }
}

std::size_t Barrier::trip(std::size_t index) {
  // The phase stays "filling" with count == parties while the action runs:
  // n_waiting() reads parties, and everyone who would change the phase
  // (abort, reset, a timed-out waiter, new arrivals) waits for the action,
  // just as they would wait for CPython's lock.
  if (action_) {
    try {
      action_();
    } catch (...) {
      release_cycle(kBroken);
      throw;
    }
  }
  release_cycle(kDraining);
  return index;
}

std::size_t Barrier::await_release(std::size_t index, const Timeout& timeout) {
  std::optional<detail::Deadline> deadline;
  if (!timeout.is_none() && !std::isnan(timeout.seconds())) {
    deadline = detail::Deadline::after(timeout.seconds());  // <= 0: already expired
  }
  auto released = [](std::uint64_t v) { return (v & kPhaseMask) != kFilling; };
  bool spun = false;
  for (;;) {
    std::uint64_t s = word_.load(std::memory_order_acquire);
    std::uint64_t phase = s & kPhaseMask;
    if (phase == kDraining) {
      depart();
      return index;
    }
    if (phase != kFilling) {  // broken, or reset
      depart();
      throw BrokenBarrierError();
    }
    bool action_running = tripping(s);
    if (deadline && !action_running && deadline->expired()) {
      // Timed out: break the barrier and leave it, in one step.
      std::uint64_t next = ((s - kOne) & ~(kPhaseMask | kParked)) | kBroken;
      if (!word_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        continue;
      }
      if ((s & kParked) != 0) pl::unpark_all(&word_);
      throw BrokenBarrierError();
    }
    if (!spun) {
      spun = true;
      if (spin_until(word_, released)) continue;
    }
    if ((s & kParked) == 0 &&
        !word_.compare_exchange_weak(s, s | kParked, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      continue;
    }
    pl::park(
        &word_,
        [this] {
          std::uint64_t v = word_.load(std::memory_order_relaxed);
          return (v & kPhaseMask) == kFilling && (v & kParked) != 0;
        },
        [] {},
        [this](const void*, bool was_last) {
          if (was_last) word_.fetch_and(~kParked, std::memory_order_relaxed);
        },
        pl::kDefaultToken, action_running || !deadline ? nullptr : &*deadline);
  }
}

template <class Pred>
std::uint64_t Barrier::wait_while(Pred still) {
  spin_until(word_, [&](std::uint64_t v) { return !still(v); });
  for (;;) {
    std::uint64_t s = word_.load(std::memory_order_acquire);
    if (!still(s)) return s;
    if ((s & kParked) == 0 &&
        !word_.compare_exchange_weak(s, s | kParked, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      continue;
    }
    pl::park(
        &word_,
        [&] {
          std::uint64_t v = word_.load(std::memory_order_relaxed);
          return still(v) && (v & kParked) != 0;
        },
        nullptr);
  }
}

void Barrier::release_cycle(std::uint64_t phase) {
  std::uint64_t s = word_.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = ((s - kOne) & ~(kPhaseMask | kParked)) | phase;
    // Barrier(1): the tripper was the whole cycle; it is over already.
    if ((next >> kCountShift) == 0 && phase == kDraining) next &= ~kPhaseMask;
  } while (
      !word_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_relaxed));
  if ((s & kParked) != 0) pl::unpark_all(&word_);
}

void Barrier::depart() {
  std::uint64_t s = word_.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = s - kOne;
    std::uint64_t phase = s & kPhaseMask;
    if ((next >> kCountShift) == 0 && (phase == kDraining || phase == kResetting)) {
      next &= ~(kPhaseMask | kParked);  // -> filling: the next cycle may begin
    }
  } while (
      !word_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_relaxed));
  if ((s & kParked) != 0 && (next & kParked) == 0) pl::unpark_all(&word_);
}

void Barrier::reset() {
  std::uint64_t s = word_.load(std::memory_order_acquire);
  for (;;) {
    if (tripping(s)) {
      s = wait_while([this](std::uint64_t v) { return tripping(v); });
      continue;
    }
    std::uint64_t phase = s & kPhaseMask;
    std::uint64_t next;
    if ((s >> kCountShift) == 0) {
      if (phase == kFilling) return;       // idle: nothing to do
      next = s & ~(kPhaseMask | kParked);  // broken and empty: usable at once
    } else if (phase == kFilling || phase == kBroken) {
      // Waiters still inside: they raise, and the last out reopens it.
      next = (s & ~(kPhaseMask | kParked)) | kResetting;
    } else {
      return;  // draining or already resetting: CPython leaves it alone
    }
    if (word_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      if ((s & kParked) != 0) pl::unpark_all(&word_);
      return;
    }
  }
}

void Barrier::abort() {
  std::uint64_t s = word_.load(std::memory_order_acquire);
  for (;;) {
    if (tripping(s)) {
      s = wait_while([this](std::uint64_t v) { return tripping(v); });
      continue;
    }
    if ((s & kPhaseMask) == kBroken) return;
    std::uint64_t next = (s & ~(kPhaseMask | kParked)) | kBroken;
    if (word_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      if ((s & kParked) != 0) pl::unpark_all(&word_);
      return;
    }
  }
}

}  // namespace threading
