// threading::Barrier — Python's cyclic barrier for a fixed number of threads.
//
//   Python                                        C++
//   b = threading.Barrier(3)                      threading::Barrier b(3);
//   b = threading.Barrier(3, action, timeout=5)   threading::Barrier b(3, action, 5.0);
//   i = b.wait(); i = b.wait(0.5)                 auto i = b.wait(); b.wait(500ms);
//   b.reset(); b.abort()                          b.reset(); b.abort();
//   b.parties; b.n_waiting; b.broken              b.parties(); b.n_waiting(); b.broken();
//   threading.BrokenBarrierError                  threading::BrokenBarrierError
//
// Contract (as CPython; SPEC §11):
//   * Barrier(0) raises ValueError("parties must be > 0") (CPython 3.13's
//     rule; 3.11 accepted it and then blocked forever).
//   * wait() blocks until `parties` threads are waiting, then releases them
//     all. Each gets a distinct index in 0..parties-1, in arrival order. The
//     last to arrive runs `action` (if any) before anyone is released; the
//     action's writes happen-before every released thread's return.
//   * If the action throws, the barrier breaks: that thread gets the action's
//     own exception, every other waiter BrokenBarrierError.
//   * wait(timeout) overrides the constructor's timeout; std::nullopt means
//     "use the constructor's" (whose std::nullopt means no limit). When it
//     expires the barrier breaks and every waiter raises BrokenBarrierError.
//     A timeout <= 0 breaks it at once unless the caller is the last to
//     arrive; NaN never expires; above TIMEOUT_MAX raises OverflowError
//     (only for a caller that would wait) and leaves the barrier untouched.
//   * wait() on a broken barrier raises BrokenBarrierError at once.
//   * abort() breaks it: current and later waiters raise until reset().
//   * reset() makes current waiters raise BrokenBarrierError and returns the
//     barrier to its empty, unbroken state once they have left; on an idle or
//     broken-but-empty barrier it takes effect at once.
//   * The barrier is reusable. A thread arriving while the previous cycle's
//     threads are still leaving (or a reset is in progress) waits for them.
//   * n_waiting() counts the threads waiting in the current filling cycle; it
//     reads 0 while a cycle is being released or reset, or when broken.
//   * As in CPython, the action runs "inside" the barrier: calling wait(),
//     reset() or abort() on the same barrier from the action deadlocks.
//     Reading parties(), n_waiting() (== parties) or broken() is fine.
//
// Implementation: one atomic word (phase, count, parked bit) driven by
// compare-and-swap, with blocked threads parked on it in the parking core.
// It follows CPython's state machine (filling, draining, resetting, broken),
// so every observable transition matches, without an internal mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "threading/timeout.hpp"

namespace threading {

class Barrier {
 public:
  explicit Barrier(std::size_t parties, std::function<void()> action = {},
                   Timeout timeout = std::nullopt);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  std::size_t wait(Timeout timeout = std::nullopt);
  void reset();
  void abort();

  std::size_t parties() const noexcept { return parties_; }
  std::size_t n_waiting() const noexcept {
    std::uint64_t s = word_.load(std::memory_order_relaxed);
    return (s & kPhaseMask) == kFilling ? static_cast<std::size_t>(s >> kCountShift) : 0;
  }
  bool broken() const noexcept {
    return (word_.load(std::memory_order_acquire) & kPhaseMask) == kBroken;
  }

 private:
  // Word: bits 0-1 the phase, bit 2 "threads may be parked on the word",
  // bits 3-63 how many threads are inside wait() for the current cycle.
  static constexpr std::uint64_t kPhaseMask = 3;
  static constexpr std::uint64_t kFilling = 0;    // accepting arrivals
  static constexpr std::uint64_t kDraining = 1;   // tripped; waiters are leaving
  static constexpr std::uint64_t kResetting = 2;  // reset(); waiters are leaving
  static constexpr std::uint64_t kBroken = 3;
  static constexpr std::uint64_t kParked = 4;
  static constexpr int kCountShift = 3;
  static constexpr std::uint64_t kOne = std::uint64_t{1} << kCountShift;

  // Filling with every party inside: the last arriver is running the action.
  bool tripping(std::uint64_t s) const noexcept {
    return (s & kPhaseMask) == kFilling && (s >> kCountShift) >= parties_;
  }
  // An arrival must wait: the previous cycle is still leaving or tripping.
  bool busy(std::uint64_t s) const noexcept {
    std::uint64_t phase = s & kPhaseMask;
    return phase == kDraining || phase == kResetting || tripping(s);
  }

  std::size_t trip(std::size_t index);
  std::size_t await_release(std::size_t index, const Timeout& timeout);
  // Blocks while `still(word)` holds; returns the word that ended the wait.
  template <class Pred>
  std::uint64_t wait_while(Pred still);
  // The tripping thread ends the cycle with `phase` (draining, or broken if
  // the action threw) and leaves it, in one step, waking everyone parked.
  void release_cycle(std::uint64_t phase);
  // Leaves the current cycle; the last to leave a drain or reset reopens it.
  void depart();

  std::function<void()> action_;
  Timeout timeout_;
  std::size_t parties_;
  std::atomic<std::uint64_t> word_{0};
};

}  // namespace threading
