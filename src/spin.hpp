// Spinning before parking: the one spin policy of the library.
//
// A waiter spins in exactly one layer. Objects that sleep on their own state
// word (Lock, RLock, Condition's re-acquire, Semaphore, Event) spin in
// LockAlgorithm (lock_algorithm.hpp), re-reading the word with SpinWait, and
// then park without spinning again (parking_lot::kNoSpin). Every other park
// (Condition's wait, Barrier, Thread.join) watches its wake flag in the
// parking core instead (ParkSpin below); the queue runs that same watch on
// its own waiter record through parking_lot::watch(), then parks with
// kNoSpin.
//
// A hand-off between threads running on different cores completes in well
// under a microsecond; a futex sleep plus wake-up costs several, tens on a VM
// whose idle CPU has to be woken.
#pragma once

#include <sched.h>

#include <cstdint>

#include "os/futex.hpp"
#include "threading/timeout.hpp"

namespace threading::detail {

// For a lock word: three short bursts of pause (2, 4, 8; a pause costs tens
// of ns on recent x86), then sched_yield()s, the budget of Rust's
// parking_lot SpinWait. A lock is held for a few instructions, so the owner
// is about to release it or is not running; yielding lets it run when threads
// outnumber cores. One step at a time: spin() returns false once it is time
// to park.
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

// For a parked thread's wake flag: the same pauses, then sched_yield()s for
// a time adapted per thread. Two threads handing work to each other on two
// cores keep each other awake only if a watch outlasts the other side's
// wake-up from a sleep (tens of microseconds on a VM): a shorter watch fails
// whenever the other side slept, so it sleeps too, and the pair settles into
// a sleep and a wake-up on every hand-off (measured: a capacity-1 queue
// 20-50x slower, with a watch of seven yields). So a watch lasts up to
// kMaxNs; it doubles after a success and halves after a failure, and below
// kMinNs it is skipped but for one call in 16, a probe, so a thread whose
// waits became short finds out. A probe watches the whole kMaxNs and its
// failure leaves the time as it was: a probe of kMinNs never saw waits of
// tens of microseconds, so a thread whose watches had once failed (the
// main thread of a benchmark, after another case) slept on every wait
// after. It yields rather than pauses: when threads outnumber
// cores, the thread we wait for may need our core, and a waiter that has not
// slept needs no futex wake-up. A yield that took over kRanNs ran another
// thread; after kMaxRan of those the watch ends whatever its time (the old
// budget of seven yields), so oversubscribed threads do not spin longer.
struct ParkSpin {
  static constexpr std::int64_t kMaxNs = 50000;
  static constexpr std::int64_t kMinNs = 1000;
  static constexpr int kMaxRan = 7;
  static constexpr std::int64_t kRanNs = 3000;
  std::int64_t ns = kMaxNs;
  unsigned skipped = 0;

  // Returns true as soon as done() holds, false if it did not while watching.
  template <class Done>
  bool watch(Done done) {
    const bool probe = ns < kMinNs;
    if (probe && ++skipped % 16 != 0) return false;
    const std::int64_t limit = probe ? kMaxNs : ns;
    bool ok = run(limit, done);
    if (ok) {
      ns = limit * 2 < kMaxNs ? limit * 2 : kMaxNs;
    } else if (!probe) {
      ns = limit / 2;
    }
    return ok;
  }

 private:
  template <class Done>
  static bool run(std::int64_t limit, Done& done) {
    std::int64_t start = Deadline::now_ns();
    SpinWait pauses(3);
    while (pauses.spin()) {
      if (done()) return true;
    }
    int ran = 0;
    for (std::int64_t now = Deadline::now_ns();;) {
      if (done()) return true;
      if (now - start >= limit || ran == kMaxRan) return false;
      sched_yield();
      std::int64_t then = now;
      now = Deadline::now_ns();
      if (now - then > kRanNs) ++ran;
    }
  }
};

}  // namespace threading::detail
