// Barrier: the states, the transition table and the out_ protocol are in
// include/threading/barrier.hpp; each function below says which cells of the
// table it implements.
//
// Orderings on word_: out_ is changed only under the bucket lock of &word_
// and read there relaxed (the lock orders it); read outside the lock it is
// only a hint, re-checked under the lock. The loads of word_ that decide
// what a thread does are acquire: they pair with the release CAS that ended
// a generation or broke the barrier, so a thread that raises or goes on sees
// the writes of whoever did it (and the action's).
#include "threading/barrier.hpp"

#include <sched.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

namespace {

// The outcome handed to a woken waiter (its unpark token).
constexpr pl::Token kTokenTripped = 1;  // its generation tripped: return the index
constexpr pl::Token kTokenRaise = 2;    // its generation was broken or reset: raise
constexpr pl::Token kTokenRetry = 3;    // no outcome yet; it is counted in out_: re-enqueue

}  // namespace

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)), timeout_(timeout), parties_(parties) {
  if (parties == 0) throw ValueError("parties must be > 0");
}

enum class Barrier::Late : std::uint8_t {
  kAlreadyTripped,  // (not reached: a generation ends only with its members queued)
  kAlreadyBroken,   // (likewise)
  kBreaker,         // this thread breaks the barrier (break_generation)
  kAwaitOutcome,    // the action is running, or another waiter is breaking it
};

// Table, column "a deadline passes". Under the bucket lock, off the queue.
// No state change but the claim of the break: the thread stays counted (in
// out_) until the generation's outcome reaches it.
Barrier::Late Barrier::settle_timed_out(std::uint64_t gen) noexcept {
  // Acquire: pairs with the release CAS that ended the generation (not
  // reached, see Late).
  std::uint64_t v = word_.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(v) != gen) return Late::kAlreadyTripped;
    switch (state_of(v)) {
      case State::kBroken:
        return Late::kAlreadyBroken;
      case State::kTripping:
      case State::kBreaking:
        out_.fetch_add(1, std::memory_order_relaxed);
        return Late::kAwaitOutcome;
      case State::kFilling:
        break;
    }
    // kFilling -> kBreaking: claim the break. Only the bit changes, which
    // lets nobody go, so the CAS publishes nothing; acquire (both orders)
    // only re-reads the word like the load above.
    if (word_.compare_exchange_weak(v, v | kBreakingBit, std::memory_order_acquire,
                                    std::memory_order_acquire)) {
      out_.fetch_add(1, std::memory_order_relaxed);
      return Late::kBreaker;
    }
  }
}

std::size_t Barrier::finish_timed_out(Late late, std::uint64_t gen, std::size_t index) {
  switch (late) {
    case Late::kAlreadyTripped:
      return index;
    case Late::kAlreadyBroken:
      throw BrokenBarrierError();
    case Late::kBreaker:
      return break_generation(gen, index);
    case Late::kAwaitOutcome:
      break;
  }
  return await(gen, index, nullptr);  // the outcome, without a limit
}

// Table, columns "arrive" and "last arrival".
std::size_t Barrier::wait(Timeout timeout) {
  if (timeout.is_none()) timeout = timeout_;
  const bool timed = !timeout.is_none() && !std::isnan(timeout.seconds());  // NaN: no limit
  // Checked only for a caller that would wait, before it is counted (BR-12).
  const bool too_large = timed && timeout.seconds() > TIMEOUT_MAX;
  // A timeout <= 0 breaks the barrier at once unless the caller is last (BR-10).
  const bool expired = timed && !(timeout.seconds() > 0);

  for (;;) {
    // Acquire: pairs with the release CAS that broke the barrier or ended the
    // last generation.
    std::uint64_t s = word_.load(std::memory_order_acquire);
    switch (state_of(s)) {
      case State::kBroken:
        throw BrokenBarrierError();
      case State::kTripping:
        wait_for_action(s);
        continue;
      case State::kFilling:
      case State::kBreaking:
        break;
    }
    // The last arriver is counted without the bucket lock: every other member
    // of its generation was counted and enqueued in one step under that lock,
    // or is counted in out_, which end_generation() waits out.
    if (count_of(s) + 1 == parties_) {
      // Acquire: the action runs after every earlier arrival's writes (their
      // counting CASes are releases in this RMW chain on word_). Release: as
      // every counting CAS; the waiters get this thread's writes later,
      // through end_generation()'s release.
      if (word_.compare_exchange_strong(s, s + kOne, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        return trip(s);
      }
      continue;
    }

    enum class Arrival : std::uint8_t {
      kCounted,        // counted and enqueued
      kLast,           // counted as the last party: trip
      kBarrierBroken,  // kBroken: raise
      kBusy,           // kTripping: wait for the action
      kTooLarge,       // would wait with a timeout above TIMEOUT_MAX
      kClaimsBreak,    // counted with a timeout <= 0: it breaks the barrier
    };
    Arrival arrival = Arrival::kBarrierBroken;
    std::uint64_t seen = 0;  // the word just before this thread was counted
    // What a timed-out waiter found under the bucket lock.
    Late late = Late::kAlreadyBroken;

    std::optional<detail::Deadline> deadline;
    if (timed && !too_large && !expired) deadline = detail::Deadline::after(timeout.seconds());

    detail::WaitScope scope{detail::WaitKind::kBarrier, this, deadline ? &*deadline : nullptr};
    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          // Under the bucket lock: count this thread and enqueue it in one
          // step. Acquire: as the load at the top of the loop.
          std::uint64_t v = word_.load(std::memory_order_acquire);
          for (;;) {
            switch (state_of(v)) {
              case State::kBroken:
                arrival = Arrival::kBarrierBroken;
                return false;
              case State::kTripping:
                arrival = Arrival::kBusy;
                seen = v;
                return false;
              case State::kFilling:
              case State::kBreaking:
                break;
            }
            bool last = count_of(v) + 1 == parties_;
            if (!last && too_large) {
              arrival = Arrival::kTooLarge;
              return false;
            }
            // An expired arrival is counted and breaks the barrier (kFilling
            // -> kBreaking), unless a timed-out waiter is already breaking
            // it: then it just waits (without a limit) for that outcome.
            bool breaks = !last && expired && state_of(v) == State::kFilling;
            std::uint64_t next = (v + kOne) | (breaks ? kBreakingBit : 0);
            // Release: publishes this arrival's writes to the last arriver's
            // acquire (and so to the action). Acquire: a last arrival counted
            // here runs the action after the earlier arrivals' writes.
            if (word_.compare_exchange_weak(v, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
              seen = v;
              if (breaks) {
                out_.fetch_add(1, std::memory_order_relaxed);  // counted, off the queue
                arrival = Arrival::kClaimsBreak;
              } else {
                arrival = last ? Arrival::kLast : Arrival::kCounted;
              }
              return arrival == Arrival::kCounted;
            }
          }
        },
        [] {},
        [&](const void*, bool) {
          // Timed out, now off the queue, under the bucket lock.
          late = settle_timed_out(gen_of(seen));
        },
        pl::kDefaultToken, deadline ? &*deadline : nullptr);

    const auto index = static_cast<std::size_t>(count_of(seen));
    switch (r.status) {
      case pl::ParkStatus::kUnparked:
        if (r.token == kTokenTripped) return index;
        if (r.token == kTokenRaise) throw BrokenBarrierError();
        return await(gen_of(seen), index, deadline ? &*deadline : nullptr);  // kTokenRetry
      case pl::ParkStatus::kTimedOut:
        return finish_timed_out(late, gen_of(seen), index);
      case pl::ParkStatus::kInvalid:
        switch (arrival) {
          case Arrival::kLast:
            return trip(seen);
          case Arrival::kBarrierBroken:
            throw BrokenBarrierError();
          case Arrival::kBusy:
            wait_for_action(seen);
            continue;
          case Arrival::kTooLarge:
            detail::check_not_too_large(timeout.seconds());  // throws OverflowError
            continue;                                        // (not reached)
          case Arrival::kClaimsBreak:
            return break_generation(gen_of(seen), index);
          case Arrival::kCounted:
            break;  // not reached: a counted arrival is enqueued
        }
        break;
    }
  }
}

// A member off the queue (counted in out_) re-enqueues: "await" in the table.
std::size_t Barrier::await(std::uint64_t gen, std::size_t index, const detail::Deadline* deadline) {
  // This thread is counted in generation `gen` and in out_, and is off the
  // queue. Nobody ends a generation while out_ counts anyone but the ender,
  // so `gen` is still running: re-enqueue and wait for the outcome.
  for (;;) {
    enum class Seen : std::uint8_t { kPending, kMovedOn, kSawBroken };
    Seen seen = Seen::kPending;
    Late late = Late::kAlreadyBroken;
    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          // Acquire: as wait()'s load (the cases it would matter for are not
          // reached).
          std::uint64_t v = word_.load(std::memory_order_acquire);
          out_.fetch_sub(1, std::memory_order_relaxed);  // back on the queue (or leaving)
          if (gen_of(v) != gen) {                        // (not reached; kept for safety)
            seen = Seen::kMovedOn;
            return false;
          }
          if (state_of(v) == State::kBroken) {  // (likewise)
            seen = Seen::kSawBroken;
            return false;
          }
          return true;  // back on the queue, still in its generation
        },
        [] {}, [&](const void*, bool) { late = settle_timed_out(gen); }, pl::kDefaultToken,
        deadline);
    switch (r.status) {
      case pl::ParkStatus::kInvalid:
        if (seen == Seen::kMovedOn) return index;
        throw BrokenBarrierError();
      case pl::ParkStatus::kUnparked:
        if (r.token == kTokenTripped) return index;
        if (r.token == kTokenRaise) throw BrokenBarrierError();
        continue;  // kTokenRetry: counted in out_ again
      case pl::ParkStatus::kTimedOut:
        return finish_timed_out(late, gen, index);
    }
  }
}

// kTripping: the last arriver runs the action ("action returns" / "action
// throws").
std::size_t Barrier::trip(std::uint64_t seen) {
  // The word reads count == parties while the action runs: n_waiting() reads
  // parties, and everyone who would change the word (abort, reset, a
  // timed-out waiter, new arrivals) waits for the action, as they would wait
  // for CPython's lock.
  if (action_) {
    try {
      action_();
    } catch (...) {
      end_generation(false);
      throw;
    }
  }
  end_generation(true);
  return static_cast<std::size_t>(count_of(seen));
}

// kTripping -> kFilling of the next generation (T) or -> kBroken (R).
void Barrier::end_generation(bool tripped) {
  for (;;) {
    // Members off the queue (timed out during the action, or woken to
    // retry) are a few instructions from re-enqueueing: yield to them (why
    // not park: barrier.hpp). Relaxed: a hint, re-checked under the lock.
    while (out_.load(std::memory_order_relaxed) != 0) sched_yield();
    bool retry = false;
    bool action_waiters = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      // Under the bucket lock, with the queued waiters dequeued.
      if (out_.load(std::memory_order_relaxed) != 0) {
        retry = true;  // one went off the queue meanwhile: they all re-enqueue
        out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), std::memory_order_relaxed);
        return kTokenRetry;
      }
      // Relaxed: the expected value of the CAS below.
      std::uint64_t v = word_.load(std::memory_order_relaxed);
      std::uint64_t next;
      do {
        action_waiters = (v & kActionWaitersBit) != 0;
        std::uint64_t base = v & ~(kCountMask | kActionWaitersBit | kBreakingBit);
        next = tripped ? base + kGenOne : base | kBrokenBit;
        // Release: publishes the outcome and the action's writes to every
        // thread that later reads the word with acquire (wait(), broken(),
        // the action's waiters); the woken get them through their wake flag.
        // Acquire: none needed (one RMW; the bucket lock orders the rest).
      } while (!word_.compare_exchange_weak(v, next, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
      return tripped ? kTokenTripped : kTokenRaise;
    });
    if (retry) continue;
    // Only threads still inside a call park on the action key; *this is alive.
    if (action_waiters) pl::unpark_all(action_key());
    return;
  }
}

// kBreaking -> kBroken (the breaker), or the breaker shares a trip.
std::size_t Barrier::break_generation(std::uint64_t gen, std::size_t index) {
  for (;;) {
    // Wait (briefly) for the other members off the queue to re-enqueue, so
    // the unpark below rarely has to send everyone round again. Relaxed: a
    // hint, re-checked under the lock.
    while (out_.load(std::memory_order_relaxed) > 1) sched_yield();
    enum class Outcome : std::uint8_t { kBroke, kTripped, kShareTrip, kRetry };
    Outcome outcome = Outcome::kRetry;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      const auto dequeued = static_cast<std::uint32_t>(r.unparked_threads);
      // Acquire: as wait()'s load (the cases it would matter for are not
      // reached).
      std::uint64_t v = word_.load(std::memory_order_acquire);
      for (;;) {
        if (gen_of(v) != gen || state_of(v) == State::kBroken) {
          // (Not reached: nobody else ends a generation while we are out.)
          outcome = gen_of(v) != gen ? Outcome::kTripped : Outcome::kBroke;
          out_.fetch_sub(1, std::memory_order_relaxed);
          if (state_of(v) == State::kBroken && gen_of(v) == gen) return kTokenRaise;
          out_.fetch_add(dequeued, std::memory_order_relaxed);
          return kTokenRetry;
        }
        if (tripping(v) || out_.load(std::memory_order_relaxed) != 1) {
          // The last party arrived first (then the generation trips and we
          // share it), or other members are off the queue: everyone dequeued
          // re-enqueues; we stay counted in out_.
          outcome = tripping(v) ? Outcome::kShareTrip : Outcome::kRetry;
          out_.fetch_add(dequeued, std::memory_order_relaxed);
          return kTokenRetry;
        }
        // Every other member is dequeued: break. Breaking empties the
        // generation (n_waiting() reads 0). This thread leaves out_ first: a
        // new arrival reads the word without the bucket lock, so once it reads
        // broken it may raise and destroy the barrier; the CAS is the last
        // access. (out_ changes only under this lock: undone if the CAS fails.)
        out_.store(0, std::memory_order_relaxed);
        std::uint64_t next = (v & ~(kCountMask | kBreakingBit)) | kBrokenBit;
        // Release: publishes the outcome to every later acquire reader of the
        // word (wait(), broken()). Acquire (also on failure): as the load above.
        if (word_.compare_exchange_weak(v, next, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
          outcome = Outcome::kBroke;
          return kTokenRaise;
        }
        out_.store(1, std::memory_order_relaxed);
      }
    });
    switch (outcome) {
      case Outcome::kBroke:
        throw BrokenBarrierError();
      case Outcome::kTripped:
        return index;
      case Outcome::kShareTrip:
        return await(gen, index, nullptr);
      case Outcome::kRetry:
        sched_yield();  // the others are a few instructions from re-enqueueing
        continue;
    }
  }
}

// kTripping: "await" the action, parked on action_key().
void Barrier::wait_for_action(std::uint64_t seen) {
  pl::park(
      action_key(),
      [&] {
        // Acquire (the load and both CAS orders): pairs with end_generation()'s
        // release CAS, for a thread that finds the action already over (it
        // re-reads the word in its caller anyway).
        std::uint64_t v = word_.load(std::memory_order_acquire);
        for (;;) {
          if (!tripping(v) || gen_of(v) != gen_of(seen)) return false;
          if ((v & kActionWaitersBit) != 0) return true;
          // end_generation() reads the bit under the word's bucket lock and
          // wakes us under this one.
          if (word_.compare_exchange_weak(v, v | kActionWaitersBit, std::memory_order_acquire,
                                          std::memory_order_acquire)) {
            return true;
          }
        }
      },
      nullptr);
}

// Column "abort()".
void Barrier::abort() {
  for (;;) {
    // Acquire: as wait()'s load.
    std::uint64_t s = word_.load(std::memory_order_acquire);
    switch (state_of(s)) {
      case State::kBroken:
        return;  // BR-14: twice is harmless
      case State::kTripping:
        wait_for_action(s);
        continue;
      case State::kFilling:
      case State::kBreaking:
        break;
    }
    // A member off the queue is about to re-enqueue or break the barrier (in
    // kBreaking, the breaker): yield to it (why not park: barrier.hpp).
    // Relaxed: a hint, re-checked under the lock.
    if (out_.load(std::memory_order_relaxed) != 0) {
      sched_yield();
      continue;
    }
    bool retry = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      // Acquire: as wait()'s load.
      std::uint64_t v = word_.load(std::memory_order_acquire);
      for (;;) {
        // Broken meanwhile: whoever is still queued belongs to that broken
        // generation (not reached: it would have been dequeued).
        if (state_of(v) == State::kBroken) return kTokenRaise;
        if (tripping(v) || out_.load(std::memory_order_relaxed) != 0) {
          // The last party arrived, or a member went off the queue: retry.
          retry = true;
          out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), std::memory_order_relaxed);
          return kTokenRetry;
        }
        // kFilling -> kBroken (R). Release: publishes the outcome to every
        // later acquire reader of the word. Acquire: as the load above.
        if (word_.compare_exchange_weak(v, (v & ~(kCountMask | kBreakingBit)) | kBrokenBit,
                                        std::memory_order_acq_rel, std::memory_order_acquire)) {
          return kTokenRaise;
        }
      }
    });
    if (!retry) return;
  }
}

// Column "reset()".
void Barrier::reset() {
  for (;;) {
    // Acquire: as wait()'s load.
    std::uint64_t s = word_.load(std::memory_order_acquire);
    if (state_of(s) == State::kTripping) {
      wait_for_action(s);
      continue;
    }
    // A member off the queue is about to re-enqueue or break the barrier: a
    // few instructions away; yield to it (why not park: barrier.hpp).
    // Relaxed: a hint, re-checked under the lock.
    if (out_.load(std::memory_order_relaxed) != 0) {
      sched_yield();
      continue;
    }
    if (state_of(s) != State::kBroken && count_of(s) == 0) return;  // idle: nothing to do
    bool retry = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      // Acquire: as wait()'s load.
      std::uint64_t v = word_.load(std::memory_order_acquire);
      for (;;) {
        if (tripping(v) || out_.load(std::memory_order_relaxed) != 0) {
          retry = true;
          out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), std::memory_order_relaxed);
          return kTokenRetry;
        }
        // Current waiters raise (R); a new, empty, unbroken generation
        // begins (-> kFilling). Release: publishes the outcome to every later
        // acquire reader of the word. Acquire: as the load above.
        std::uint64_t next = (v & ~(kCountMask | kBrokenBit | kBreakingBit)) + kGenOne;
        if (word_.compare_exchange_weak(v, next, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
          return kTokenRaise;
        }
      }
    });
    if (!retry) return;
  }
}

}  // namespace threading
