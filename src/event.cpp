#include "threading/event.hpp"

#include <cstdint>
#include <optional>

#include "lock_algorithm.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

void Event::set() {
  // Relaxed: the expected value of the release CAS below.
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
    // Relaxed: the expected value of the release CAS below.
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
    // t <= 0 or NaN: poll. Acquire: pairs with set()'s release CAS.
    return signalled(state_.load(std::memory_order_acquire));
  }

  // Once woken (or if the state moved on before we slept), the generation
  // says whether a set() ran since wait() began, even if clear() followed
  // it; a late unpark from a set() that ran before this wait began (its
  // generation already seen) just sends the waiter round again.
  const detail::Deadline* limit = deadline ? &*deadline : nullptr;
  detail::WaitScope scope{detail::WaitKind::kEvent, this, limit};
  return detail::LockAlgorithm<std::uint64_t, kParked>::wait(
      state_, signalled,
      [&](std::uint64_t& s) {
        // Acquire: pairs with the release CAS in set() that made us ready
        // (once signalled, always signalled: the generation only grows).
        s = state_.load(std::memory_order_acquire);
        return signalled(s);
      },
      // The deadline passed; a set() racing with it still counts. Acquire:
      // pairs with set()'s release CAS.
      [&] { return signalled(state_.load(std::memory_order_acquire)); }, limit);
}

}  // namespace threading
