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
// Implementation (Java CyclicBarrier-style generations, without a mutex):
// one atomic word holds the generation number, the arrival count of the
// current generation and the broken flag. A waiter is counted and enqueued
// on the word in the parking core in one step (inside park()'s validate,
// under the bucket lock). Whoever ends a generation -- the last arriver
// (trip, or break if the action threw), abort(), reset(), or a waiter whose
// timeout expired -- changes the word inside an unpark callback, under that
// same bucket lock, so the threads it dequeues are exactly that generation's
// waiters, and each is handed the outcome (tripped / broken) as its unpark
// token: nobody has to infer it from a word that may already have moved on.
// The rare waiter that is counted but off the queue (its timeout expired,
// or it was woken to retry) is counted in out_, and a generation is ended
// only when out_ is 0 (but for the ender itself): every other member is then
// on the queue and dequeued in the same critical section, so after the
// state change that lets the waiters go the ender touches nothing, and no
// other member reads the object again. Of the waiters whose timeouts expire
// together, only the first becomes the breaker (the kBreaking bit); the
// others wait for the outcome.
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
    return (s & kBroken) != 0 ? 0 : static_cast<std::size_t>(count_of(s));
  }
  bool broken() const noexcept { return (word_.load(std::memory_order_acquire) & kBroken) != 0; }

 private:
  // Word: bit 0 broken, bit 1 "threads are parked waiting for the action to
  // finish", bit 2 "a timed-out waiter is breaking the barrier", bits 3-33
  // the arrival count of the current generation, bits 34-63 the generation
  // number (wrapping).
  static constexpr std::uint64_t kBroken = 1;
  static constexpr std::uint64_t kActionWaiters = 2;
  static constexpr std::uint64_t kBreaking = 4;
  static constexpr int kCountShift = 3;
  static constexpr std::uint64_t kOne = std::uint64_t{1} << kCountShift;
  static constexpr std::uint64_t kCountMask = std::uint64_t{0x7FFFFFFF} << kCountShift;
  static constexpr int kGenShift = 34;
  static constexpr std::uint64_t kGenOne = std::uint64_t{1} << kGenShift;

  static std::uint64_t count_of(std::uint64_t s) noexcept {
    return (s & kCountMask) >> kCountShift;
  }
  static std::uint64_t gen_of(std::uint64_t s) noexcept { return s >> kGenShift; }
  // Every party is in: the last arriver is running the action.
  bool tripping(std::uint64_t s) const noexcept {
    return (s & kBroken) == 0 && count_of(s) >= parties_;
  }
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
