// Spin-then-yield before parking: the one spin policy of the library.
//
// A waiter spins in exactly one layer. Objects that sleep on their own state
// word (Lock, RLock, Condition's re-acquire, Semaphore, Event) spin in
// LockAlgorithm (lock_algorithm.hpp), re-reading the word with SpinWait, and
// then park without spinning again (parking_lot::kNoSpin). Every other park
// (Condition's wait, Barrier, Thread.join, the queue) spins in the parking
// core instead, on the waiter's wake flag (spin_then_yield, adaptive).
//
// A hand-off between threads running on different cores completes in well
// under a microsecond; a futex sleep plus wake-up costs several, more on a VM.
// So a thread about to sleep first tries briefly: three short bursts of pause
// (2, 4, 8 — a pause costs tens of ns on recent x86), then sched_yield()s,
// the budget of Rust's parking_lot SpinWait. Yielding rather than spinning
// matters when threads outnumber cores: it lets the thread we wait for run.
// In the parking core the number of rounds adapts per thread: it grows while
// spinning succeeds and shrinks while it fails, so threads that never win
// soon stop burning CPU.
#pragma once

#include <sched.h>

#include "os/futex.hpp"

namespace threading::detail {

// One spin step at a time, for loops that re-read their state between steps
// (LockAlgorithm): spin() returns false once it is time to park.
class SpinWait {
 public:
  static constexpr int kMaxRounds = 10;
  explicit SpinWait(int max_rounds = kMaxRounds) : max_rounds_(max_rounds) {}
  bool spin() {
    if (rounds_ >= max_rounds_) return false;
    ++rounds_;
    if (rounds_ <= 3) {
      for (int i = 0; i < (1 << rounds_); ++i) cpu_relax();
    } else {
      sched_yield();
    }
    return true;
  }
  void reset() { rounds_ = 0; }

 private:
  int max_rounds_;
  int rounds_ = 0;
};

// The number of rounds, adapted per thread and call site.
struct SpinBudget {
  static constexpr int kMin = 3;
  static constexpr int kMax = SpinWait::kMaxRounds;
  int rounds = kMax;
};

// Returns true as soon as done() holds, false once the budget is spent.
template <class Done>
bool spin_then_yield(SpinBudget& budget, Done done) {
  SpinWait spinner(budget.rounds);
  while (spinner.spin()) {
    if (done()) {
      if (budget.rounds < SpinBudget::kMax) ++budget.rounds;
      return true;
    }
  }
  if (budget.rounds > SpinBudget::kMin) --budget.rounds;
  return false;
}

}  // namespace threading::detail
