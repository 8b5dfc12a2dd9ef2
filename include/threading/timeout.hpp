// Timeouts as Python spells them: float seconds, or None for "no limit".
//
// `Timeout` is built implicitly from any arithmetic value (seconds), any
// std::chrono::duration, or std::nullopt (Python's None). It keeps the value
// as given, NaN and negatives included, because each blocking call decides
// what those mean exactly as CPython does (see the table in the README).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>

namespace threading {

// The largest timeout any blocking call accepts, in seconds (CPython's value
// on 64-bit Linux). Larger values raise OverflowError.
inline constexpr double TIMEOUT_MAX = 9223372036.0;

class Timeout {
 public:
  constexpr Timeout() noexcept = default;  // None
  constexpr Timeout(std::nullopt_t) noexcept {}
  template <class T>
  requires(std::is_arithmetic_v<T> &&
           !std::is_same_v<T, bool>) constexpr Timeout(T seconds) noexcept
      : is_none_(false), seconds_(static_cast<double>(seconds)) {}
  template <class Rep, class Period>
  constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept
      : is_none_(false), seconds_(std::chrono::duration<double>(d).count()) {}

  constexpr bool is_none() const noexcept { return is_none_; }
  // Seconds; meaningless when is_none().
  constexpr double seconds() const noexcept { return seconds_; }

 private:
  bool is_none_ = true;
  double seconds_ = 0;
};

namespace detail {

// An absolute CLOCK_MONOTONIC instant in nanoseconds. Every timed park takes
// one, so the time left is recomputed after each spurious or EINTR wake-up.
struct Deadline {
  std::int64_t ns;

  static std::int64_t now_ns() noexcept;
  // now + seconds, saturating. `seconds` must already be validated (finite, <= TIMEOUT_MAX).
  static Deadline after(double seconds) noexcept;
  bool expired() const noexcept { return now_ns() >= ns; }
  std::int64_t remaining_ns() const noexcept;
};

// Validation shared by the blocking calls; each raises what CPython raises.
// Throws OverflowError when seconds > TIMEOUT_MAX (or infinite).
void check_not_too_large(double seconds);
// Lock/RLock.acquire(blocking, timeout). Returns: nullopt = wait forever,
// else a deadline (a non-positive timeout gives an already-expired one).
// None is accepted as "wait forever" (C++ has no TypeError; see README).
std::optional<Deadline> lock_acquire_deadline(bool blocking, const Timeout& timeout);

// For waits where None means forever and a non-positive or NaN timeout means
// "poll only": returns nullopt for forever, Deadline{0} (expired) for a poll,
// and raises OverflowError above TIMEOUT_MAX.
std::optional<Deadline> wait_deadline(const Timeout& timeout);

}  // namespace detail
}  // namespace threading
