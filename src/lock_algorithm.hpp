// The one slow path of every object that sleeps on its own state word:
// Lock's acquire (and so RLock's and Condition's), Semaphore's acquire and
// Event's wait. In the spirit of WebKit's LockAlgorithm and parking_lot's
// RawMutex: written once, for any word type, over two ideas of the word --
// "ready" (what the waiter waits for: the lock free, a unit in the counter,
// the flag set) and a "parked" bit (threads may be parked on the word's
// address, so a release must go through the parking core).
//
// LockAlgorithm<Word, kParked>::wait(word, ready, take, on_timeout, deadline):
//
//   loop:
//     s = word (relaxed)
//     ready(s)                 -> take(s): true = done; false = s was stale, loop
//     parked bit clear         -> spin one step (SpinWait below) and loop, while
//                                 the spin lasts; then set the parked bit (CAS)
//     park on &word, validated under the bucket lock: !ready && parked bit set
//     woken with kTokenHandoff -> done: the releaser handed over what we wait for
//     timed out                -> on_timeout() (the last waiter to leave the
//                                 queue clears the parked bit first)
//     otherwise                -> spin afresh, loop
//
// The parked bit is set only by a waiter, before it parks; it is cleared only
// under the bucket lock of &word: by a release's unpark callback when it
// dequeues the last waiter, or by the last waiter that times out
// (clear_parked_if_last). So a release that reads it clear needs no unpark,
// and one that reads it set never misses a sleeper: a waiter that set it but
// has not yet slept validates under the lock the release's callback holds.
//
// Spinning happens here and only here for these objects: SpinWait (spin.hpp),
// re-reading the word between steps, and only while nobody is parked (with a
// queue, what is released belongs to a thread that has waited longer). The
// park itself is asked not to spin again (parking_lot::kNoSpin).
//
// take(s) decides the memory ordering of success: Lock and Semaphore take
// with an acquire CAS (pairs with the release that freed the lock or added
// the unit); Event re-reads the word with acquire (pairs with set()). The
// relaxed orders below only move the parked bit, which carries no data: every
// decision made on it is re-checked under the bucket lock.
#pragma once

#include <atomic>

#include "spin.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/timeout.hpp"

namespace threading::detail {

// The unpark token telling a woken waiter that the releaser handed it what it
// waited for (the lock, a unit): it must not take it again.
inline constexpr parking_lot::Token kTokenHandoff = 1;

template <class Word, Word kParked>
struct LockAlgorithm {
  // The slow path above. `deadline` nullptr = no limit. Returns true once
  // taken (or handed over), else on_timeout()'s answer.
  //   ready(Word s) -> bool        may the waiter go, given the word s?
  //   take(Word& s) -> bool        try to go; false reloads s (lost a race)
  //   on_timeout() -> bool         the result when the deadline has passed
  template <class Ready, class Take, class OnTimeout>
  static bool wait(std::atomic<Word>& word, Ready ready, Take take, OnTimeout on_timeout,
                   const Deadline* deadline) {
    SpinWait spinner;
    for (;;) {
      Word s = word.load(std::memory_order_relaxed);
      if (ready(s)) {
        if (take(s)) return true;
        continue;
      }
      if ((s & kParked) == 0) {
        if (spinner.spin()) continue;
        // Relaxed: the bit carries no data. A release's RMW reads the latest
        // value of the word: it sees the bit if we set it first (then it
        // unparks under the bucket lock our validate takes); if it came
        // first, validate finds the word ready and we do not sleep.
        if (!word.compare_exchange_weak(s, s | kParked, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
          continue;
        }
      }
      parking_lot::ParkResult r = parking_lot::park(
          &word,
          [&] {
            // Under the bucket lock: the bucket lock orders this read after
            // any release callback that cleared the bit or made us ready.
            Word v = word.load(std::memory_order_relaxed);
            return !ready(v) && (v & kParked) != 0;
          },
          [] {}, [&word](const void*, bool was_last) { clear_parked_if_last(word, was_last); },
          parking_lot::kDefaultToken, deadline, parking_lot::kNoSpin);
      if (r.status == parking_lot::ParkStatus::kUnparked && r.token == kTokenHandoff) return true;
      if (r.status == parking_lot::ParkStatus::kTimedOut) return on_timeout();
      spinner.reset();
    }
  }

  // A waiter left the queue on its timeout (under the bucket lock): if it was
  // the last, no release need unpark any more. Relaxed: the bucket lock
  // orders it with every other change of the bit.
  static void clear_parked_if_last(std::atomic<Word>& word, bool was_last) noexcept {
    if (was_last) word.fetch_and(static_cast<Word>(~kParked), std::memory_order_relaxed);
  }
};

}  // namespace threading::detail
