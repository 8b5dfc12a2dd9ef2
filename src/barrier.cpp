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

// What a woken waiter is handed (the unpark token).
constexpr pl::Token kTripped = 1;  // its generation tripped: return the index
constexpr pl::Token kBrokeIt = 2;  // its generation broke (or was reset): raise
constexpr pl::Token kRetry = 3;    // woken in a race; it is counted in out_: re-validate

constexpr auto kAcqRel = std::memory_order_acq_rel;
constexpr auto kAcquire = std::memory_order_acquire;
constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)), timeout_(timeout), parties_(parties) {
  if (parties == 0) throw ValueError("parties must be > 0");
}

enum class Barrier::Late : std::uint8_t {
  kTripped,       // (not reached: a generation ends only with its members queued)
  kBroken,        // (likewise)
  kBreaker,       // this thread breaks the barrier (break_generation)
  kAwaitOutcome,  // the action is running, or another waiter is breaking it
};

Barrier::Late Barrier::settle_timed_out(std::uint64_t gen) noexcept {
  // Under the bucket lock, off the queue. No state change here: the thread
  // stays counted (in out_) until the generation's outcome reaches it.
  std::uint64_t v = word_.load(kAcquire);
  for (;;) {
    if (gen_of(v) != gen) return Late::kTripped;
    if ((v & kBroken) != 0) return Late::kBroken;
    if (tripping(v) || (v & kBreaking) != 0) {
      out_.fetch_add(1, kRelaxed);
      return Late::kAwaitOutcome;
    }
    // Claim the break; only kBreaking changes, which lets nobody go.
    // Acquire/acquire: only re-reads the word (bucket lock orders the rest).
    if (word_.compare_exchange_weak(v, v | kBreaking, kAcquire, kAcquire)) {
      out_.fetch_add(1, kRelaxed);
      return Late::kBreaker;
    }
  }
}

std::size_t Barrier::finish_timed_out(Late late, std::uint64_t gen, std::size_t index) {
  switch (late) {
    case Late::kTripped:
      return index;
    case Late::kBroken:
      throw BrokenBarrierError();
    case Late::kBreaker:
      return break_generation(gen, index);
    case Late::kAwaitOutcome:
      break;
  }
  return await(gen, index, nullptr);  // the outcome, without a limit
}

std::size_t Barrier::wait(Timeout timeout) {
  if (timeout.is_none()) timeout = timeout_;
  const bool timed = !timeout.is_none() && !std::isnan(timeout.seconds());  // NaN: no limit
  // Checked only for a caller that would wait, before it is counted (BR-12).
  const bool too_large = timed && timeout.seconds() > TIMEOUT_MAX;
  // A timeout <= 0 breaks the barrier at once unless the caller is last (BR-10).
  const bool expired = timed && !(timeout.seconds() > 0);

  for (;;) {
    std::uint64_t s = word_.load(kAcquire);
    if ((s & kBroken) != 0) throw BrokenBarrierError();
    // The last arriver is counted without the bucket lock: every other waiter
    // of its generation was counted and enqueued in one step under that lock,
    // or is counted in out_, which end_generation() waits out.
    if (count_of(s) + 1 == parties_) {
      if (word_.compare_exchange_strong(s, s + kOne, kAcqRel, kAcquire)) return trip(s);
      continue;
    }
    if (tripping(s)) {
      wait_for_action(s);
      continue;
    }

    enum class Arrival : std::uint8_t { kCounted, kLast, kFoundBroken, kBusy, kTooLarge, kBreak };
    Arrival arrival = Arrival::kFoundBroken;
    std::uint64_t seen = 0;  // the word just before this thread was counted
    // What a timed-out waiter found under the bucket lock.
    Late late = Late::kBroken;

    std::optional<detail::Deadline> deadline;
    if (timed && !too_large && !expired) deadline = detail::Deadline::after(timeout.seconds());

    detail::WaitScope scope{detail::WaitKind::kBarrier, this, deadline ? &*deadline : nullptr};
    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          // Under the bucket lock: count this thread and enqueue it in one step.
          std::uint64_t v = word_.load(kAcquire);
          for (;;) {
            if ((v & kBroken) != 0) {
              arrival = Arrival::kFoundBroken;
              return false;
            }
            if (tripping(v)) {
              arrival = Arrival::kBusy;
              seen = v;
              return false;
            }
            bool last = count_of(v) + 1 == parties_;
            if (!last && too_large) {
              arrival = Arrival::kTooLarge;
              return false;
            }
            // An expired arrival is counted and breaks the barrier, unless a
            // timed-out waiter is already breaking it: then it just waits
            // (without a limit) for that outcome, like any waiter.
            bool breaks = !last && expired && (v & kBreaking) == 0;
            std::uint64_t next = (v + kOne) | (breaks ? kBreaking : 0);
            // Acq_rel: the last arriver's trip must see every earlier
            // arrival's writes, and they must see the action's (via the token).
            if (word_.compare_exchange_weak(v, next, kAcqRel, kAcquire)) {
              seen = v;
              if (breaks) {
                out_.fetch_add(1, kRelaxed);  // counted, off the queue: the breaker
                arrival = Arrival::kBreak;
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
        if (r.token == kTripped) return index;
        if (r.token == kBrokeIt) throw BrokenBarrierError();
        return await(gen_of(seen), index, deadline ? &*deadline : nullptr);  // kRetry
      case pl::ParkStatus::kTimedOut:
        return finish_timed_out(late, gen_of(seen), index);
      case pl::ParkStatus::kInvalid:
        switch (arrival) {
          case Arrival::kLast:
            return trip(seen);
          case Arrival::kFoundBroken:
            throw BrokenBarrierError();
          case Arrival::kBusy:
            wait_for_action(seen);
            continue;
          case Arrival::kTooLarge:
            detail::check_not_too_large(timeout.seconds());  // throws OverflowError
            continue;                                        // (not reached)
          case Arrival::kBreak:
            return break_generation(gen_of(seen), index);
          case Arrival::kCounted:
            break;  // not reached: a counted arrival is enqueued
        }
        break;
    }
  }
}

std::size_t Barrier::await(std::uint64_t gen, std::size_t index, const detail::Deadline* deadline) {
  // This thread is counted in generation `gen` and in out_, and is off the
  // queue. Nobody ends a generation while out_ counts anyone but the ender,
  // so `gen` is still running: re-enqueue and wait for the outcome.
  for (;;) {
    enum class Seen : std::uint8_t { kPending, kMovedOn, kSawBroken };
    Seen seen = Seen::kPending;
    Late late = Late::kBroken;
    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          std::uint64_t v = word_.load(kAcquire);
          out_.fetch_sub(1, kRelaxed);
          if (gen_of(v) != gen) {  // (not reached; kept for safety)
            seen = Seen::kMovedOn;
            return false;
          }
          if ((v & kBroken) != 0) {  // (likewise)
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
        if (r.token == kTripped) return index;
        if (r.token == kBrokeIt) throw BrokenBarrierError();
        continue;  // kRetry: counted in out_ again
      case pl::ParkStatus::kTimedOut:
        return finish_timed_out(late, gen, index);
    }
  }
}

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

void Barrier::end_generation(bool tripped) {
  for (;;) {
    // Members off the queue (timed out during the action, or woken to
    // retry) are a few instructions from re-enqueueing.
    while (out_.load(kAcquire) != 0) sched_yield();
    bool retry = false;
    bool action_waiters = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      // Under the bucket lock, with the queued waiters dequeued.
      if (out_.load(kRelaxed) != 0) {
        retry = true;  // one went off the queue meanwhile: they all re-enqueue
        out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), kRelaxed);
        return kRetry;
      }
      std::uint64_t v = word_.load(kRelaxed);
      std::uint64_t next;
      do {
        action_waiters = (v & kActionWaiters) != 0;
        std::uint64_t base = v & ~(kCountMask | kActionWaiters | kBreaking);
        next = tripped ? base + kGenOne : base | kBroken;
        // Acq_rel: publishes the outcome (and the action's writes) to every
        // thread that later reads the word; the woken get it through the wake-up.
      } while (!word_.compare_exchange_weak(v, next, kAcqRel, kRelaxed));
      return tripped ? kTripped : kBrokeIt;
    });
    if (retry) continue;
    // Only threads still inside a call park on the action key; *this is alive.
    if (action_waiters) pl::unpark_all(action_key());
    return;
  }
}

std::size_t Barrier::break_generation(std::uint64_t gen, std::size_t index) {
  for (;;) {
    // Wait (briefly) for the other members off the queue to re-enqueue, so
    // the unpark below rarely has to send everyone round again.
    while (out_.load(kAcquire) > 1) sched_yield();
    enum class Outcome : std::uint8_t { kBroke, kTripped, kShareTrip, kRetry };
    Outcome outcome = Outcome::kRetry;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      const auto dequeued = static_cast<std::uint32_t>(r.unparked_threads);
      std::uint64_t v = word_.load(kAcquire);
      for (;;) {
        if (gen_of(v) != gen || (v & kBroken) != 0) {
          // (Not reached: nobody else ends a generation while we are out.)
          outcome = gen_of(v) != gen ? Outcome::kTripped : Outcome::kBroke;
          out_.fetch_sub(1, kRelaxed);
          if ((v & kBroken) != 0 && gen_of(v) == gen) return kBrokeIt;
          out_.fetch_add(dequeued, kRelaxed);
          return kRetry;
        }
        if (tripping(v) || out_.load(kRelaxed) != 1) {
          // The last party arrived first (then the generation trips and we
          // share it), or other members are off the queue: everyone dequeued
          // re-enqueues; we stay counted in out_.
          outcome = tripping(v) ? Outcome::kShareTrip : Outcome::kRetry;
          out_.fetch_add(dequeued, kRelaxed);
          return kRetry;
        }
        // Every other member is dequeued: break. Breaking empties the
        // generation (n_waiting() reads 0). This thread leaves out_ first: a
        // new arrival reads the word without the bucket lock, so once it reads
        // broken it may raise and destroy the barrier; the CAS is the last
        // access. (out_ changes only under this lock: undone if the CAS fails.)
        out_.store(0, kRelaxed);
        std::uint64_t next = (v & ~(kCountMask | kBreaking)) | kBroken;
        // Acq_rel: publishes the outcome to every later reader of the word.
        if (word_.compare_exchange_weak(v, next, kAcqRel, kAcquire)) {
          outcome = Outcome::kBroke;
          return kBrokeIt;
        }
        out_.store(1, kRelaxed);
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

void Barrier::wait_for_action(std::uint64_t seen) {
  pl::park(
      action_key(),
      [&] {
        std::uint64_t v = word_.load(kAcquire);
        for (;;) {
          if (!tripping(v) || gen_of(v) != gen_of(seen)) return false;
          if ((v & kActionWaiters) != 0) return true;
          // Acquire/acquire: only re-reads the word; end_generation() reads
          // the bit under the word's bucket lock and wakes us under this one.
          if (word_.compare_exchange_weak(v, v | kActionWaiters, kAcquire, kAcquire)) return true;
        }
      },
      nullptr);
}

void Barrier::abort() {
  for (;;) {
    std::uint64_t s = word_.load(kAcquire);
    if ((s & kBroken) != 0) return;  // BR-14: twice is harmless
    if (tripping(s)) {
      wait_for_action(s);
      continue;
    }
    if (out_.load(kAcquire) != 0) {
      sched_yield();  // a member off the queue is about to re-enqueue or break it
      continue;
    }
    bool retry = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      std::uint64_t v = word_.load(kAcquire);
      for (;;) {
        // Broken meanwhile: whoever is still queued belongs to that broken
        // generation (not reached: it would have been dequeued).
        if ((v & kBroken) != 0) return kBrokeIt;
        if (tripping(v) || out_.load(kRelaxed) != 0) {
          // The last party arrived, or a member went off the queue: retry.
          retry = true;
          out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), kRelaxed);
          return kRetry;
        }
        // Acq_rel: publishes the outcome to later readers of the word.
        if (word_.compare_exchange_weak(v, (v & ~(kCountMask | kBreaking)) | kBroken, kAcqRel,
                                        kAcquire)) {
          return kBrokeIt;
        }
      }
    });
    if (!retry) return;
  }
}

void Barrier::reset() {
  for (;;) {
    std::uint64_t s = word_.load(kAcquire);
    if (tripping(s)) {
      wait_for_action(s);
      continue;
    }
    if (out_.load(kAcquire) != 0) {
      // A member off the queue is about to re-enqueue or break the barrier:
      // a few instructions away.
      sched_yield();
      continue;
    }
    if ((s & kBroken) == 0 && count_of(s) == 0) return;  // idle: nothing to do
    bool retry = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      std::uint64_t v = word_.load(kAcquire);
      for (;;) {
        if (tripping(v) || out_.load(kRelaxed) != 0) {
          retry = true;
          out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), kRelaxed);
          return kRetry;
        }
        // Current waiters raise; a new, empty, unbroken generation begins.
        // Acq_rel: publishes the outcome to later readers of the word.
        std::uint64_t next = (v & ~(kCountMask | kBroken | kBreaking)) + kGenOne;
        if (word_.compare_exchange_weak(v, next, kAcqRel, kAcquire)) return kBrokeIt;
      }
    });
    if (!retry) return;
  }
}

}  // namespace threading
