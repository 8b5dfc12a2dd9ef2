#include "threading/rlock.hpp"

#include <limits>

#include "threading/errors.hpp"

namespace threading {

bool RLock::acquire_with_timeout(std::uintptr_t me, bool blocking, const Timeout& timeout) {
  // Validate even on re-entry, as CPython's C RLock does.
  std::optional<detail::Deadline> deadline = detail::lock_acquire_deadline(blocking, timeout);
  if (owner_.load(std::memory_order_relaxed) == me) return reenter();
  if (!lock_.try_lock_raw()) {
    if (!blocking) return false;
    if (deadline && deadline->expired()) return false;
    if (!lock_slow(deadline ? &*deadline : nullptr)) return false;
  }
  take(me, 1);
  detail::note_acquired(true, this, detail::WaitKind::kRLock);
  return true;
}

bool RLock::lock_slow(const detail::Deadline* deadline) {
  detail::WaitContext context{detail::WaitKind::kRLock, this, &owner_};
  detail::WaitContextScope named(context);
  return lock_.lock_slow(deadline);
}

bool RLock::reenter() {
  if (count_ == std::numeric_limits<std::uint32_t>::max()) {
    throw OverflowError("Internal lock count overflowed");
  }
  ++count_;
  return true;
}

void RLock::throw_not_owned() { throw RuntimeError("cannot release un-acquired lock"); }

}  // namespace threading
