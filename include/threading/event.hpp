// threading::Event — Python's event: a flag that threads can wait for.
//
//   Python                          C++
//   ev = threading.Event()          threading::Event ev;
//   ev.is_set() / ev.isSet()        ev.is_set() / ev.isSet()
//   ev.set(); ev.clear()            ev.set(); ev.clear();
//   ev.wait(timeout=None) -> bool   ev.wait() / ev.wait(0.5) / ev.wait(500ms)
//
// Contract (as CPython 3.11):
//   * The flag starts false. set() makes it true and wakes every waiter;
//     clear() makes it false. Both are idempotent.
//   * wait() returns true at once if the flag is set, else blocks until set()
//     or the timeout. It returns true if the flag was set before or during the
//     wait: a thread that was waiting when set() ran returns true even if
//     clear() ran before it woke up (CPython gh-57711).
//   * wait(t) with t <= 0 or NaN returns the flag at once. With the flag set,
//     any timeout (even above TIMEOUT_MAX) returns true without being checked;
//     with it unset, a timeout above TIMEOUT_MAX raises OverflowError.
//     A timed wait never returns false before its timeout has elapsed.
//   * set() happens-before every wait() that returns true because of it.
//   * Event is not Lockable (Python's Event is not a context manager).
//
// Destruction is self-synchronising: once wait() has returned in thread A, A
// may destroy the Event even if the thread that set it has not yet returned
// from set(). With waiters parked, set() changes the flag inside the parking
// core's unpark callback and never touches the Event afterwards.
//
// Performance: 8 bytes, constexpr-constructible. is_set() and wait() on a set
// event are one load. A waiter spins briefly (src/spin.hpp) before
// parking, so a quick hand-off between running threads never sleeps. The
// state word holds the flag, a "parked" bit, and a count of set() calls that
// tells a waiter whether a set() happened during its wait.
#pragma once

#include <atomic>
#include <cstdint>

#include "threading/timeout.hpp"

namespace threading {

class Event {
 public:
  constexpr Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Acquire: pairs with set()'s release CAS (is_set() true => set()'s
  // earlier writes are visible, as after wait()).
  bool is_set() const noexcept { return (state_.load(std::memory_order_acquire) & kSet) != 0; }
  // Python 2 alias.
  bool isSet() const noexcept { return is_set(); }

  void set();
  // Acq_rel (one RMW, not an alias): acquire pairs with the set() it undoes,
  // so the clearing thread sees that set()'s writes; release lets the next
  // set()'s CAS, which reads this value, carry the clearer's writes on to the
  // threads that wait() for that set().
  void clear() noexcept { state_.fetch_and(~kSet, std::memory_order_acq_rel); }

  bool wait(Timeout timeout = std::nullopt) {
    // Acquire: pairs with set()'s release CAS.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    if ((s & kSet) != 0) [[likely]]
      return true;
    return wait_slow(s, timeout);
  }

 private:
  // State word: bit 0 = the flag, bit 1 = threads may be parked on it,
  // bits 2..63 = how many times set() turned the flag on (the generation).
  static constexpr std::uint64_t kSet = 1;
  static constexpr std::uint64_t kParked = 2;
  static constexpr int kGenShift = 2;
  static constexpr std::uint64_t kGenOne = std::uint64_t{1} << kGenShift;

  // `seen` is the state the caller read at the start of wait(), flag unset.
  bool wait_slow(std::uint64_t seen, const Timeout& timeout);

  std::atomic<std::uint64_t> state_{0};
};

}  // namespace threading
