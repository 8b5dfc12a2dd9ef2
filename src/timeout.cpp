#include "threading/timeout.hpp"

#include <cmath>
#include <ctime>

#include "threading/errors.hpp"

namespace threading::detail {

std::int64_t Deadline::now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Deadline Deadline::after_ns(std::int64_t ns) noexcept {
  std::int64_t now = now_ns();
  if (ns <= 0) return Deadline{now};
  if (ns >= kNever - now) return Deadline{kNever};  // now >= 0: no overflow
  return Deadline{now + ns};
}

std::int64_t Deadline::remaining_ns() const noexcept {
  std::int64_t left = ns - now_ns();
  return left > 0 ? left : 0;
}

void check_not_too_large(double seconds) {
  if (seconds > TIMEOUT_MAX) throw OverflowError("timestamp out of range for platform time_t");
}

void check_not_too_small(double seconds) {
  // CPython 3.11 rounds the nanosecond count away from zero (floor, here)
  // and refuses anything below INT64_MIN; -inf included.
  if (std::floor(seconds * 1e9) < -0x1p63) {
    throw OverflowError("timestamp out of range for platform time_t");
  }
}

std::optional<Deadline> lock_acquire_deadline(bool blocking, const Timeout& timeout) {
  if (timeout.is_none()) {
    if (!blocking) return Deadline{0};
    return std::nullopt;
  }
  double t = timeout.seconds();
  if (std::isnan(t)) throw ValueError("Invalid value NaN (not a number)");
  check_not_too_large(t);  // CPython converts before the non-blocking check
  check_not_too_small(t);
  if (!blocking) {
    if (t != -1) throw ValueError("can't specify a timeout for a non-blocking call");
    return Deadline{0};
  }
  if (t == -1) return std::nullopt;
  if (t < 0) throw ValueError("timeout value must be positive");
  return to_deadline(timeout);
}

std::optional<Deadline> wait_deadline(const Timeout& timeout) {
  if (timeout.is_none()) return std::nullopt;
  double t = timeout.seconds();
  if (std::isnan(t) || t <= 0) return Deadline{0};
  check_not_too_large(t);
  return to_deadline(timeout);
}

}  // namespace threading::detail
