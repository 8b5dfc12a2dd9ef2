#include "threading/event.hpp"

#include <sched.h>

#include <optional>

#include "futex.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

namespace {

// Spinning before parking, adaptively per thread: three short bursts of
// pause (2, 4, 8), then up to `t_spin_limit - 3` sched_yield()s. The limit
// grows while spins succeed (the other side is running and answers fast) and
// shrinks when they fail, down to the pause bursts alone (~0.3 us). Yielding rather
// than pausing for long matters when threads outnumber cores and on virtual
// machines where pause is slow: the thread we wait for gets the CPU.
constexpr int kMinSpin = 3;
constexpr int kMaxSpin = 10;
thread_local int t_spin_limit = kMaxSpin;

template <class Done>
bool spin_until(const std::atomic<std::uint64_t>& word, Done done) {
  const int limit = t_spin_limit;
  for (int spins = 1; spins <= limit; ++spins) {
    if (spins <= 3) {
      for (int i = 0; i < (1 << spins); ++i) detail::cpu_relax();
    } else {
      sched_yield();
    }
    if (done(word.load(std::memory_order_acquire))) {
      if (t_spin_limit < kMaxSpin) ++t_spin_limit;
      return true;
    }
  }
  if (t_spin_limit > kMinSpin) --t_spin_limit;
  return false;
}

}  // namespace

void Event::set() {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  std::uint64_t next;
  for (;;) {
    if ((s & kSet) != 0) {
      // Already set: still write (the same value) so that this thread's
      // earlier writes reach any wait() that later reads the flag.
      if (state_.compare_exchange_weak(s, s, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        return;
      }
      continue;
    }
    next = ((s & ~kParked) | kSet) + kGenOne;
    if (state_.compare_exchange_weak(s, next, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      break;
    }
  }
  // Every thread parked before the CAS above is woken; the new generation
  // tells each that the flag was set during its wait.
  if ((s & kParked) != 0) pl::unpark_all(&state_);
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
