// The per-thread sleep on Linux: the futex system call (built when CMake's
// PYTHREADING_FUTEX is ON, the default where <linux/futex.h> exists).
#include "../futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "../../fatal.hpp"
#include "../timespec.hpp"

namespace threading::detail {

using os::is_forever;
using os::to_timespec;

bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept {
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline != nullptr) {
    if (deadline->ns <= Deadline::now_ns()) return false;
    if (!is_forever(deadline)) {
      ts = to_timespec(deadline->ns);
      tsp = &ts;
    }
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so the deadline
  // never drifts however often the sleep is interrupted.
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word),
                    FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp, nullptr,
                    FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return true;
  int err = errno;
  switch (err) {
    case EAGAIN:  // *word != expected already
    case EINTR:
      return true;
    case ETIMEDOUT:
      return false;
    default:
      // ENOSYS/EPERM (a seccomp filter), EFAULT, EINVAL: treating these as a
      // wake-up would turn every wait into a spin.
      fatal_os_error("futex(FUTEX_WAIT_BITSET)", err);
  }
}

void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept {
  // A private futex's key is the address alone: waking one whose memory is
  // gone (a parked thread's finished stack) is not an error, just a no-op.
  if (syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
              count, nullptr, nullptr, 0) == -1) {
    fatal_os_error("futex(FUTEX_WAKE)", errno);
  }
}

void futex_reinit_after_fork() noexcept {}  // the kernel keeps no state for us

}  // namespace threading::detail
