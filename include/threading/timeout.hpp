// Timeouts as Python spells them: float seconds, or None for "no limit".
//
// `Timeout` is built implicitly from any arithmetic value (seconds), any
// std::chrono::duration, or std::nullopt (Python's None). It keeps the value
// as given, NaN and negatives included, because each blocking call decides
// what those mean exactly as CPython does (see the table in the README).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
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
      : is_none_(false), seconds_(to_double(seconds)) {}
  // Any duration: the seconds it holds, beyond double's range +-inf.
  template <class Rep, class Period>
  constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept
      : is_none_(false),
        seconds_(to_double(static_cast<long double>(d.count()) * Period::num / Period::den)) {}

  constexpr bool is_none() const noexcept { return is_none_; }
  // Seconds; meaningless when is_none().
  constexpr double seconds() const noexcept { return seconds_; }

 private:
  // A long double outside double's range would make the conversion undefined.
  template <class T>
  static constexpr double to_double(T v) noexcept {
    if constexpr (std::is_floating_point_v<T> && sizeof(T) > sizeof(double)) {
      if (v > std::numeric_limits<double>::max()) return std::numeric_limits<double>::infinity();
      if (v < -std::numeric_limits<double>::max()) return -std::numeric_limits<double>::infinity();
    }
    return static_cast<double>(v);
  }

  bool is_none_ = true;
  double seconds_ = 0;
};

namespace detail {

// Nanoseconds per tick of a duration with this period, when that is an
// integer that fits (ns, us, ms, s, minutes, hours, days...); 0 otherwise.
template <class Period>
constexpr std::intmax_t exact_ns_per_tick() noexcept {
  constexpr std::intmax_t kNano = 1000000000;
  // std::ratio is reduced, so the count is exact iff den divides 10^9.
  if (kNano % Period::den != 0) return 0;
  std::intmax_t factor = 0;
  if (__builtin_mul_overflow(Period::num, kNano / Period::den, &factor)) return 0;
  return factor;
}

// THE conversion of a duration to nanoseconds, saturating: any
// representation (integer or floating point) and any period; the result is
// clamped to [INT64_MIN, INT64_MAX], rounded up (a wait is never cut short),
// and NaN gives 0. Never overflows.
template <class Rep, class Period>
std::int64_t saturating_ns(const std::chrono::duration<Rep, Period>& d) noexcept {
  static_assert(std::is_arithmetic_v<Rep>, "timeouts take arithmetic durations");
  constexpr std::intmax_t kFactor = exact_ns_per_tick<Period>();
  if constexpr (std::is_integral_v<Rep> && kFactor != 0) {
    std::int64_t ns = 0;
    if (!__builtin_mul_overflow(d.count(), kFactor, &ns)) return ns;
    return d.count() > 0 ? INT64_MAX : INT64_MIN;
  } else {
    // 64-bit mantissa on x86-64: every int64 nanosecond count is exact.
    long double x = static_cast<long double>(d.count()) * Period::num / Period::den * 1e9L;
    if (std::isnan(x)) return 0;
    x = std::ceil(x);
    if (x >= 0x1p63L) return INT64_MAX;
    if (x <= -0x1p63L) return INT64_MIN;
    return static_cast<std::int64_t>(x);
  }
}

// An absolute CLOCK_MONOTONIC instant in nanoseconds. Every timed park takes
// one, so the time left is recomputed after each spurious or EINTR wake-up.
//
// Every timed call builds its deadline through saturating_ns() and
// after_ns(): from a Timeout (float seconds, after validation), from any
// std::chrono duration (after()) or from a time point of any clock (at()).
// Nothing overflows at any argument: too far ahead is kNever (INT64_MAX,
// which no wait reaches), and in the past or NaN is "now" (already expired).
struct Deadline {
  std::int64_t ns;

  static constexpr std::int64_t kNever = INT64_MAX;

  static std::int64_t now_ns() noexcept;
  // now + ns, saturating: ns <= 0 gives now (expired), too far gives kNever.
  static Deadline after_ns(std::int64_t ns) noexcept;
  // now + seconds, saturating (any double, NaN/negative = now, inf = kNever).
  static Deadline after(double seconds) noexcept {
    return after(std::chrono::duration<double>(seconds));
  }
  template <class Rep, class Period>
  static Deadline after(const std::chrono::duration<Rep, Period>& d) noexcept {
    return after_ns(saturating_ns(d));
  }
  // A time point of any clock: the time left until it is measured on its own
  // clock (through Clock::now()), then counted on the monotonic clock, so
  // steady_clock, system_clock and any other clock work alike.
  template <class Clock, class Duration>
  static Deadline at(const std::chrono::time_point<Clock, Duration>& t) noexcept {
    std::int64_t target = saturating_ns(t.time_since_epoch());
    std::int64_t now = saturating_ns(Clock::now().time_since_epoch());
    std::int64_t left = 0;
    if (__builtin_sub_overflow(target, now, &left)) left = target > now ? INT64_MAX : INT64_MIN;
    return after_ns(left);
  }

  bool expired() const noexcept { return now_ns() >= ns; }
  std::int64_t remaining_ns() const noexcept;
};

// A Timeout as a deadline: None is "no limit" (nullopt); a number goes
// through Deadline::after (so NaN and non-positive values are expired).
// Callers validate first, as CPython does for each call.
inline std::optional<Deadline> to_deadline(const Timeout& t) noexcept {
  if (t.is_none()) return std::nullopt;
  return Deadline::after(t.seconds());
}

// Validation shared by the blocking calls; each raises what CPython raises.
// Throws OverflowError when seconds > TIMEOUT_MAX (or infinite).
void check_not_too_large(double seconds);
// Lock/RLock.acquire only: CPython converts their timeout to a signed 64-bit
// nanosecond count first, so below -2^63 ns (-inf, -1e10) is OverflowError.
void check_not_too_small(double seconds);
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
