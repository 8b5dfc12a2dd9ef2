#include "threading/barrier.hpp"

#include <sched.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "threading/detail/parking_lot.hpp"
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

enum class Barrier::Late : std::uint8_t { kTripped, kBroken, kBreaker, kActionRunning };

Barrier::Late Barrier::settle_timed_out(std::uint64_t gen) noexcept {
  std::uint64_t v = word_.load(kAcquire);
  for (;;) {
    if (gen_of(v) != gen) return Late::kTripped;
    if ((v & kBroken) != 0) return Late::kBroken;
    if (tripping(v)) {
      out_.fetch_add(1, kRelaxed);  // the action is running: wait for its outcome
      return Late::kActionRunning;
    }
    if (word_.compare_exchange_weak(v, (v & ~kCountMask) | kBroken, kAcqRel, kAcquire)) {
      out_.fetch_add(1, kRelaxed);  // until it has woken the others
      return Late::kBreaker;
    }
  }
}

bool Barrier::finish_timed_out(Late late) {
  switch (late) {
    case Late::kTripped:
      return true;
    case Late::kBroken:
      throw BrokenBarrierError();
    case Late::kBreaker:
      wake_after_break();
      throw BrokenBarrierError();
    case Late::kActionRunning:
      break;
  }
  return false;
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
    // so they are all on the queue by the time trip() takes it.
    if (count_of(s) + 1 == parties_) {
      if (word_.compare_exchange_strong(s, s + kOne, kAcqRel, kAcquire)) return trip(s);
      continue;
    }
    if (tripping(s)) {
      wait_for_action(s);
      continue;
    }

    enum class Arrival : std::uint8_t { kCounted, kLast, kBroken, kBusy, kTooLarge, kBreak };
    Arrival arrival = Arrival::kBroken;
    std::uint64_t seen = 0;  // the word just before this thread was counted
    // What a timed-out waiter found under the bucket lock.
    Late late = Late::kBroken;

    std::optional<detail::Deadline> deadline;
    if (timed && !too_large && !expired) deadline = detail::Deadline::after(timeout.seconds());

    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          // Under the bucket lock: count this thread and enqueue it in one step.
          std::uint64_t v = word_.load(kAcquire);
          for (;;) {
            if ((v & kBroken) != 0) {
              arrival = Arrival::kBroken;
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
            bool breaks = !last && expired;
            // Breaking empties the generation: n_waiting() reads 0.
            std::uint64_t next = breaks ? ((v & ~kCountMask) | kBroken) : v + kOne;
            if (word_.compare_exchange_weak(v, next, kAcqRel, kAcquire)) {
              seen = v;
              if (breaks) {
                out_.fetch_add(1, kRelaxed);  // until it has woken the others
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
          // Timed out, now off the queue, under the bucket lock. Every end of
          // a generation dequeues its waiters under this lock, so this
          // thread's generation has not ended, unless broken by another
          // timed-out waiter that has yet to wake the rest.
          late = settle_timed_out(gen_of(seen));  // never kTripped here (see above)
        },
        pl::kDefaultToken, deadline ? &*deadline : nullptr);

    const auto index = static_cast<std::size_t>(count_of(seen));
    switch (r.status) {
      case pl::ParkStatus::kUnparked:
        if (r.token == kTripped) return index;
        if (r.token == kBrokeIt) throw BrokenBarrierError();
        return await(gen_of(seen), index, deadline ? &*deadline : nullptr);  // kRetry
      case pl::ParkStatus::kTimedOut:
        if (finish_timed_out(late)) return index;
        return await(gen_of(seen), index, nullptr);  // the action's outcome, without a limit
      case pl::ParkStatus::kInvalid:
        switch (arrival) {
          case Arrival::kLast:
            return trip(seen);
          case Arrival::kBroken:
            throw BrokenBarrierError();
          case Arrival::kBusy:
            wait_for_action(seen);
            continue;
          case Arrival::kTooLarge:
            detail::check_not_too_large(timeout.seconds());  // throws OverflowError
            continue;                                        // (not reached)
          case Arrival::kBreak:
            wake_after_break();
            throw BrokenBarrierError();
          case Arrival::kCounted:
            break;  // not reached: a counted arrival is enqueued
        }
        break;
    }
  }
}

std::size_t Barrier::await(std::uint64_t gen, std::size_t index, const detail::Deadline* deadline) {
  // This thread is counted in generation `gen` and in out_, and is off the
  // queue. reset() waits for out_ == 0, so `gen` can only have ended by
  // tripping (the generation number moved on) or by breaking (still `gen`,
  // broken): what validate sees under the bucket lock decides it exactly.
  for (;;) {
    enum class Seen : std::uint8_t { kPending, kTripped, kBroken };
    Seen seen = Seen::kPending;
    Late late = Late::kBroken;
    pl::ParkResult r = pl::park(
        &word_,
        [&] {
          std::uint64_t v = word_.load(kAcquire);
          out_.fetch_sub(1, kRelaxed);
          if (gen_of(v) != gen) {
            seen = Seen::kTripped;
            return false;
          }
          if ((v & kBroken) != 0) {
            seen = Seen::kBroken;
            return false;
          }
          return true;  // back on the queue, still in its generation
        },
        [] {}, [&](const void*, bool) { late = settle_timed_out(gen); }, pl::kDefaultToken,
        deadline);
    switch (r.status) {
      case pl::ParkStatus::kInvalid:
        if (seen == Seen::kTripped) return index;
        throw BrokenBarrierError();
      case pl::ParkStatus::kUnparked:
        if (r.token == kTripped) return index;
        if (r.token == kBrokeIt) throw BrokenBarrierError();
        continue;  // kRetry: counted in out_ again
      case pl::ParkStatus::kTimedOut:
        if (finish_timed_out(late)) return index;
        deadline = nullptr;  // the action's outcome, without a limit
        continue;
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
  bool action_waiters = false;
  pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult) {
    // Under the bucket lock, with this generation's waiters dequeued.
    std::uint64_t v = word_.load(kRelaxed);
    std::uint64_t next;
    do {
      action_waiters = (v & kActionWaiters) != 0;
      std::uint64_t base = v & ~(kCountMask | kActionWaiters);
      next = tripped ? base + kGenOne : base | kBroken;
    } while (!word_.compare_exchange_weak(v, next, kAcqRel, kRelaxed));
    return tripped ? kTripped : kBrokeIt;
  });
  if (action_waiters) pl::unpark_all(action_key());
}

void Barrier::wake_after_break() {
  // The word reads broken since this thread broke it, and reset() cannot
  // start a new generation while it is counted in out_: every waiter still
  // on the queue belongs to the broken generation.
  pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult) {
    out_.fetch_sub(1, kRelaxed);
    return kBrokeIt;
  });
}

void Barrier::wait_for_action(std::uint64_t seen) {
  pl::park(
      action_key(),
      [&] {
        std::uint64_t v = word_.load(kAcquire);
        for (;;) {
          if (!tripping(v) || gen_of(v) != gen_of(seen)) return false;
          if ((v & kActionWaiters) != 0) return true;
          if (word_.compare_exchange_weak(v, v | kActionWaiters, kRelaxed, kAcquire)) return true;
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
    bool retry = false;
    pl::unpark_n(&word_, SIZE_MAX, [&](pl::UnparkResult r) {
      std::uint64_t v = word_.load(kAcquire);
      for (;;) {
        // Broken meanwhile: whoever is still queued belongs to that broken
        // generation.
        if ((v & kBroken) != 0) return kBrokeIt;
        if (tripping(v)) {  // the last party arrived meanwhile
          retry = true;
          out_.fetch_add(static_cast<std::uint32_t>(r.unparked_threads), kRelaxed);
          return kRetry;
        }
        if (word_.compare_exchange_weak(v, (v & ~kCountMask) | kBroken, kAcqRel, kAcquire)) {
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
      // A waiter off the queue is deciding its outcome, or waking the others
      // after breaking the barrier on timeout: a few instructions away.
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
        std::uint64_t next = (v & ~(kCountMask | kBroken)) + kGenOne;
        if (word_.compare_exchange_weak(v, next, kAcqRel, kAcquire)) return kBrokeIt;
      }
    });
    if (!retry) return;
  }
}

}  // namespace threading
