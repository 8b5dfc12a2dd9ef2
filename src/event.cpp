#include "threading/event.hpp"

#include <cstdint>
#include <optional>

#include "os/futex.hpp"
#include "spin.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
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

void Event::set() {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((s & kParked) != 0) break;
    // Already set: still write (the same value) so that this thread's earlier
    // writes reach any wait() that later reads the flag. Not set: set it and
    // count a generation. Either way nobody is parked, so this write is the
    // last touch of *this. Release: pairs with the acquire load in wait().
    std::uint64_t next = (s & kSet) != 0 ? s : (s | kSet) + kGenOne;
    if (state_.compare_exchange_weak(s, next, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  // Threads may be parked: set the flag inside the unpark callback, under the
  // bucket lock, with every parked waiter already dequeued. A waiter that has
  // set the parked bit but not yet slept validates under that lock, so none
  // can see the flag (return, and destroy the event) before the callback
  // ends; after it this thread touches only the dequeued waiters' records.
  // The new generation tells each woken waiter that the flag was set during
  // its wait, even if clear() runs before it wakes.
  pl::unpark_n(&state_, SIZE_MAX, [this](pl::UnparkResult) {
    std::uint64_t v = state_.load(std::memory_order_relaxed);
    std::uint64_t next;
    do {
      // Every waiter is dequeued: the parked bit goes.
      next = ((v & kSet) != 0 ? v : (v | kSet) + kGenOne) & ~kParked;
      // Release: pairs with the acquire load in wait().
    } while (!state_.compare_exchange_weak(v, next, std::memory_order_release,
                                           std::memory_order_relaxed));
    return pl::kDefaultToken;
  });
}

bool Event::wait_slow(std::uint64_t seen, const Timeout& timeout) {
  // Throws OverflowError above TIMEOUT_MAX; only reached with the flag unset.
  std::optional<detail::Deadline> deadline = detail::wait_deadline(timeout);
  const std::uint64_t gen = seen >> kGenShift;
  // True once the flag is set, or a set() has happened since wait() began.
  auto signalled = [gen](std::uint64_t v) { return (v & kSet) != 0 || (v >> kGenShift) != gen; };
  if (deadline && deadline->expired()) {
    return signalled(state_.load(std::memory_order_acquire));  // t <= 0 or NaN: poll
  }

  if (spin_until(state_, signalled)) return true;

  const detail::Deadline* limit = deadline ? &*deadline : nullptr;
  for (;;) {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    if (signalled(s)) return true;
    if ((s & kParked) == 0 &&
        !state_.compare_exchange_weak(s, s | kParked, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
      continue;
    }
    detail::WaitScope scope{detail::WaitKind::kEvent, this, limit};
    pl::ParkResult r = pl::park(
        &state_,
        [&] {
          std::uint64_t v = state_.load(std::memory_order_relaxed);
          return !signalled(v) && (v & kParked) != 0;
        },
        [] {},
        [this](const void*, bool was_last) {
          if (was_last) state_.fetch_and(~kParked, std::memory_order_relaxed);
        },
        pl::kDefaultToken, limit);
    // Woken (or the state moved on before we slept): the generation says
    // whether a set() ran since wait() began, even if clear() followed it. A
    // late unpark from a set() that ran before this wait began (its
    // generation already seen) is ignored by the same test.
    if (r.status == pl::ParkStatus::kTimedOut) {
      return signalled(state_.load(std::memory_order_acquire));
    }
  }
}

}  // namespace threading
