#include "word_lock.hpp"

namespace threading::detail {

void WordLock::lock_slow() noexcept {
  // A bucket lock is held for a few dozen instructions and must not use the
  // parking core, hence its own short spin (no yield) before the futex.
  for (int spin = 0; spin < 100; ++spin) {
    std::uint32_t s = state_.load(std::memory_order_relaxed);  // the CAS decides
    if (s == 0 &&
        state_.compare_exchange_weak(s, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
    if (s == 2) break;
    cpu_relax();
  }
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2, nullptr);
}

}  // namespace threading::detail
