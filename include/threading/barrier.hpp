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
//   * reset() makes current waiters raise BrokenBarrierError and leaves the
//     barrier empty, unbroken and reusable; on an idle barrier it does nothing.
//   * The barrier is reusable: when a generation trips, the next one begins
//     at once (see the difference from CPython below).
//   * n_waiting() counts the threads inside wait() for the current
//     generation (== parties while the action runs); it reads 0 when broken.
//   * As in CPython, the action runs "inside" the barrier: while it runs,
//     other arrivals, abort(), reset() and waiters whose timeout expires wait
//     for it, so calling wait(), reset() or abort() on the same barrier from
//     the action deadlocks. Reading parties(), n_waiting() (== parties) or
//     broken() is fine.
//
// The one deliberate difference from CPython 3.11: there is no "draining"
// (or "resetting") phase. CPython makes a thread that arrives while the
// released threads of the previous generation are still waking up (or while
// the waiters of a reset() are still leaving) wait until they have all left;
// here it joins the next generation at once (as Java's CyclicBarrier and
// std::barrier do). Indices, the action, timeouts, abort() and reset() are
// otherwise as in CPython, generation by generation.
//
// Destruction: once wait() has returned (or raised) in thread A, A may
// destroy the Barrier even if the other threads of that generation -- the
// one that tripped it (still finishing the action), the one whose timeout,
// abort() or reset() let A go -- have not yet returned from their call,
// provided no thread is still blocked in, or will make, another call on it.
//
// Implementation (Java CyclicBarrier-style generations, without a mutex).
// One atomic word holds the generation number, the arrival count of the
// current generation and three flags; its value is always in one of four
// named states (state_of()):
//
//   kFilling   not broken, count < parties (count 0: idle)
//   kBreaking  kFilling, and a waiter whose deadline passed has claimed the
//              break (kBreakingBit); it breaks once every other member is
//              back on the queue
//   kTripping  count == parties: the last arriver is running the action
//   kBroken    kBrokenBit set, count 0: every wait() raises until reset()
//
// Transitions (state x event). "T" and "R" = wake all: the generation's
// waiters are dequeued and each handed its outcome as the unpark token,
// kTokenTripped (return your index) or kTokenRaise (raise BrokenBarrierError:
// the generation was broken or reset). A transition that ends a generation
// (T, R, and the breaker's) is made inside that unpark's callback, under the
// bucket lock of &word_. "count" = count+1; "await" = park until the outcome
// (or the action, or the breaker) decides, then act in the new state; "·" =
// cannot happen.
//
// clang-format off
//              arrive      last        deadline    abort()     reset()     action      action
//                          arrival     passes                              returns     throws
//   kFilling   count;park¹ →kTripping  →kBreaking  R→kBroken   R→kFilling² ·           ·
//   kBreaking  count;park  →kTripping³ await       await⁴      await⁴      ·           ·
//   kTripping  await⁵      ·           await       await⁵      await⁵      T→kFilling  R→kBroken⁶
//   kBroken    raise       raise       ·           nothing     →kFilling   ·           ·
// clang-format on
//
//   ¹ with a timeout <= 0 (and not last) it also claims the break: -> kBreaking.
//   ² on an idle barrier (count 0) reset() does nothing.
//   ³ the breaker's deadline lost the race: it shares the trip (returns its index).
//   ⁴ the breaker, once every other member is back on the queue: R -> kBroken.
//   ⁵ parked on action_key() until the action ends.
//   ⁶ the thread that ran the action gets the action's own exception.
//   kBreaking + a deadline: only the first waiter whose deadline passes
//   breaks; the others await its outcome. A gen+1 (T, or reset()) starts the
//   next generation at once with count 0.
//
// Arrivals, the breaker and abort()/reset() never wait for a thread's
// decision, only for the action (parked on action_key()) and for members
// that are off the queue for a few instructions (next paragraph).
//
// A waiter is counted and enqueued in one step (inside park()'s validate,
// under the bucket lock); the last arriver is counted without that lock.
// A member that is counted but off the queue -- its deadline passed, or it
// was woken with kTokenRetry because a generation could not end while
// another member was off the queue -- is counted in out_ (changed only under
// the bucket lock) until it is back on the queue or has its outcome. A
// generation is ended only when out_ is 0 (but for the ender itself), so
// every other member is dequeued in the same critical section as the state
// change: after it the ender touches nothing, and no member reads the object
// again (the self-synchronising destruction above). Of several waiters whose
// deadlines pass together, only the first becomes the breaker; the others
// wait for its outcome.
//
// Why the ender yields (sched_yield) while out_ drains instead of parking:
// a member in out_ has already made its decision and is runnable (woken, or
// never slept); what is left is a bounded, non-blocking step -- take the
// bucket lock, re-enqueue, decrement out_ -- so the wait is as short as a
// bucket-lock hold, and yielding hands the core to exactly that thread on a
// loaded machine. Parking would cost a futex sleep and wake per drain and a
// second wake-up handshake (who unparks the ender, and when it may still
// touch the object), for a case that exists only while a timeout, abort()
// or reset() races with an ending generation. (The cost: a yielder of higher
// real-time priority than the member it waits for, pinned to its core,
// would starve it; the library assumes ordinary scheduling, as sched_yield
// loops elsewhere in it do.)
//
// Memory orderings (spelled out at each use in src/barrier.cpp): every CAS
// that counts an arrival is a release that the last arriver's acquire reads
// (one release sequence on word_), so the action sees every waiter's earlier
// writes; the CAS that ends a generation is a release that the woken read
// through their wake flag and later callers through wait()'s acquire load,
// so every released thread sees the action's writes.
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
  // Relaxed: a snapshot that orders nothing.
  std::size_t n_waiting() const noexcept {
    std::uint64_t s = word_.load(std::memory_order_relaxed);
    return state_of(s) == State::kBroken ? 0 : static_cast<std::size_t>(count_of(s));
  }
  // Acquire: pairs with the release CAS that broke the barrier.
  bool broken() const noexcept {
    return state_of(word_.load(std::memory_order_acquire)) == State::kBroken;
  }

 private:
  // Word: bit 0 kBrokenBit, bit 1 kActionWaitersBit (threads are parked on
  // action_key() until the action finishes), bit 2 kBreakingBit, bits 3-33
  // the arrival count of the current generation, bits 34-63 the generation
  // number (wrapping).
  static constexpr std::uint64_t kBrokenBit = 1;
  static constexpr std::uint64_t kActionWaitersBit = 2;
  static constexpr std::uint64_t kBreakingBit = 4;
  static constexpr int kCountShift = 3;
  static constexpr std::uint64_t kOne = std::uint64_t{1} << kCountShift;
  static constexpr std::uint64_t kCountMask = std::uint64_t{0x7FFFFFFF} << kCountShift;
  static constexpr int kGenShift = 34;
  static constexpr std::uint64_t kGenOne = std::uint64_t{1} << kGenShift;

  static std::uint64_t count_of(std::uint64_t s) noexcept {
    return (s & kCountMask) >> kCountShift;
  }
  static std::uint64_t gen_of(std::uint64_t s) noexcept { return s >> kGenShift; }
  // The states of the table above.
  enum class State : std::uint8_t { kFilling, kBreaking, kTripping, kBroken };
  State state_of(std::uint64_t s) const noexcept {
    if ((s & kBrokenBit) != 0) return State::kBroken;
    if (count_of(s) >= parties_) return State::kTripping;
    return (s & kBreakingBit) != 0 ? State::kBreaking : State::kFilling;
  }
  bool tripping(std::uint64_t s) const noexcept { return state_of(s) == State::kTripping; }
  const void* action_key() const noexcept { return &out_; }

  // The last arriver (`seen`: the word just before it was counted).
  std::size_t trip(std::uint64_t seen);
  // A counted waiter of generation `gen` off the queue (counted in out_):
  // re-enqueues, or decides its outcome, and waits for it.
  std::size_t await(std::uint64_t gen, std::size_t index, const detail::Deadline* deadline);
  // Ends the current generation (tripped, or broken when the action threw),
  // waking its waiters and anyone waiting for the action.
  void end_generation(bool tripped);
  // The breaker (it set kBreaking and is counted in out_) breaks generation
  // `gen` once every other member is on the queue, or, if the last party
  // arrived meanwhile, shares the trip. Returns the index or throws.
  std::size_t break_generation(std::uint64_t gen, std::size_t index);
  // Parks until the action of the generation in `seen` has finished.
  void wait_for_action(std::uint64_t seen);
  // How a waiter of generation `gen` whose deadline passed leaves: run under
  // the bucket lock once it is off the queue.
  enum class Late : std::uint8_t;
  Late settle_timed_out(std::uint64_t gen) noexcept;
  // Acts on settle_timed_out()'s verdict: returns the index or throws.
  std::size_t finish_timed_out(Late late, std::uint64_t gen, std::size_t index);

  std::function<void()> action_;
  Timeout timeout_;
  std::size_t parties_;
  std::atomic<std::uint64_t> word_{0};
  // Counted waiters off the queue (see above). Changed only under the bucket
  // lock of &word_. Its address is also the key the action's waiters park on.
  std::atomic<std::uint32_t> out_{0};
};

}  // namespace threading
