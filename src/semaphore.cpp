#include "threading/semaphore.hpp"

#include <cmath>

#include "lock_algorithm.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

namespace {
constexpr char kReleasedTooMany[] = "Semaphore released too many times";  // ValueError
constexpr char kValueTooLarge[] = "semaphore value too large";            // OverflowError

[[noreturn]] void throw_release_error(const char* what) {
  if (what == kReleasedTooMany) throw ValueError(what);
  throw OverflowError(what);
}
}  // namespace

Semaphore::Semaphore(long long value, bool bounded) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  if (value > kMaxValue) throw OverflowError(kValueTooLarge);
  // Relaxed: the constructor; whoever shares the object publishes it.
  state_.store((static_cast<std::uint64_t>(value) << kCountShift) | (bounded ? kBounded : 0),
               std::memory_order_relaxed);
}

bool Semaphore::acquire_with_timeout(bool blocking, const Timeout& timeout) {
  // CPython rejects any timeout with blocking=false before looking at the counter.
  if (!blocking) throw ValueError("can't specify timeout for non-blocking acquire");
  if (try_lock()) return true;
  // The timeout is only examined once the call has to wait (SM-08..SM-10).
  double t = timeout.seconds();
  if (std::isnan(t)) return acquire_slow(nullptr);  // CPython re-polls forever
  if (t <= 0) return false;
  detail::check_not_too_large(t);
  detail::Deadline deadline = detail::Deadline::after(t);
  return acquire_slow(&deadline);
}

bool Semaphore::acquire_slow(const detail::Deadline* deadline) {
  detail::WaitScope scope{detail::WaitKind::kSemaphore, this, deadline};
  return detail::LockAlgorithm<std::uint64_t, kParked>::wait(
      state_, [](std::uint64_t s) { return s >= kOne; },
      [this](std::uint64_t& s) {
        // Acquire: pairs with the release CAS in release()/release_slow()
        // that published the unit.
        return state_.compare_exchange_weak(s, s - kOne, std::memory_order_acquire,
                                            std::memory_order_relaxed);
      },
      // Timed out: a unit released just now still counts (CPython re-checks
      // the counter after its wait returns).
      [this] { return try_lock(); }, deadline);
}

// Why adding n units to the state `s` is not allowed, or nullptr if it is.
const char* Semaphore::release_error(std::uint64_t s, std::size_t n) const noexcept {
  std::uint64_t count = s >> kCountShift;
  if ((s & kBounded) != 0) {
    // The bounded bit is set only by BoundedSemaphore's constructor.
    auto bound = static_cast<std::uint64_t>(static_cast<const BoundedSemaphore*>(this)->initial_);
    if (count > bound || n > bound - count) return kReleasedTooMany;
  } else if (n > static_cast<std::uint64_t>(kMaxValue) - count) {
    return kValueTooLarge;
  }
  return nullptr;
}

void Semaphore::release_slow(std::size_t n) {
  if (n == 0) throw ValueError("n must be one or more");
  const std::uint64_t add = static_cast<std::uint64_t>(n) << kCountShift;
  // Relaxed: only the expected value of the CAS below, which publishes.
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (const char* error = release_error(s, n)) throw_release_error(error);
    if ((s & kParked) != 0) break;
    // Nobody parked: publishing the units is the last touch of *this.
    // Release: pairs with the acquire CAS of the thread that takes a unit.
    if (state_.compare_exchange_weak(s, s + add, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  // Waiters may be parked. The units are published inside the unpark
  // callback, under the bucket lock: a waiter that has set the parked bit but
  // not yet slept validates under that same lock, so it cannot see the units
  // (take one, return and destroy the semaphore) before the callback is done,
  // and after it this thread only wakes the dequeued waiters (their records
  // are on their own stacks): it never touches *this again.
  //
  // Usually the woken threads compete for the units with any thread that
  // arrives meanwhile (throughput); when the parking core says it is time to
  // be fair, the units are handed to them directly instead.
  const char* error = nullptr;
  pl::unpark_n(&state_, n, [&](pl::UnparkResult r) -> pl::Token {
    // Relaxed: the expected value of the release CAS below.
    std::uint64_t v = state_.load(std::memory_order_relaxed);
    for (;;) {
      // A racing release may have filled a BoundedSemaphore meanwhile: then
      // add nothing; any dequeued waiter just re-checks and parks again.
      error = release_error(v, n);
      if (error != nullptr) return pl::kDefaultToken;
      std::uint64_t nv = v + add;
      if (!r.have_more_threads) nv &= ~kParked;
      bool handoff = r.be_fair && r.unparked_threads > 0;  // n >= unparked_threads units
      if (handoff) nv -= static_cast<std::uint64_t>(r.unparked_threads) << kCountShift;
      // Release: pairs with the acquire CAS of a thread that takes one of the
      // units (a handed-off unit is synchronised by the wake-up itself).
      if (state_.compare_exchange_weak(v, nv, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        return handoff ? detail::kTokenHandoff : pl::kDefaultToken;
      }
    }
  });
  if (error != nullptr) throw_release_error(error);
}

}  // namespace threading
