// Deadlines as the POSIX sleep calls want them: shared by the sleep
// implementations behind the OS wall (src/os/*/futex.cpp).
#pragma once

#include <time.h>

#include <cstdint>
#include <limits>

#include "threading/timeout.hpp"

namespace threading::detail::os {

// A deadline this far away is "never" (Deadline::after saturates there): the
// caller sleeps untimed rather than pass the OS a time it may not represent.
inline bool is_forever(const Deadline* deadline) noexcept {
  return deadline == nullptr || deadline->ns == std::numeric_limits<std::int64_t>::max();
}

// Absolute CLOCK_MONOTONIC nanoseconds (positive) as a timespec, saturating
// where time_t is narrower than 64 bits.
inline timespec to_timespec(std::int64_t ns) noexcept {
  std::int64_t sec = ns / 1000000000;
  timespec ts{};
  if (sec > static_cast<std::int64_t>(std::numeric_limits<time_t>::max())) {
    ts.tv_sec = std::numeric_limits<time_t>::max();
    ts.tv_nsec = 999999999;
  } else {
    ts.tv_sec = static_cast<time_t>(sec);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
  }
  return ts;
}

}  // namespace threading::detail::os
