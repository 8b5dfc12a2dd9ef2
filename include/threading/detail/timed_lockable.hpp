// The C++ TimedLockable half (try_lock_for / try_lock_until), written once
// for every lock-like object: Lock, RLock, Condition, Semaphore.
//
// A CRTP mixin: `class Lock : public detail::TimedLockable<Lock>`. The
// derived class provides (privately, befriending the mixin)
//   bool try_lock();                                // one attempt
//   bool timed_lock(const detail::Deadline& d);     // wait until d; true if taken
// and the mixin turns any std::chrono duration or time point, of any clock,
// representation or period, into one monotonic deadline through the
// saturating conversion in timeout.hpp, so no argument can overflow:
// duration::max() or time_point::max() waits (practically) forever;
// zero, negative, min() and past time points make a single try. These follow
// C++ conventions, not Python's: nothing here throws for a bad timeout.
#pragma once

#include <chrono>

#include "threading/timeout.hpp"

namespace threading::detail {

template <class Derived>
class TimedLockable {
 public:
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
    if (self().try_lock()) return true;
    return self().timed_lock(Deadline::after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& t) {
    if (self().try_lock()) return true;
    return self().timed_lock(Deadline::at(t));
  }

 protected:
  constexpr TimedLockable() noexcept = default;

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace threading::detail
