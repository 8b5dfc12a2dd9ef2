#include "futex.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <type_traits>

#include "fatal.hpp"

// CMake's PYTHREADING_FUTEX option decides; other builds default to the futex on Linux.
#if !defined(PYTHREADING_USE_FUTEX)
#if defined(__linux__)
#define PYTHREADING_USE_FUTEX 1
#else
#define PYTHREADING_USE_FUTEX 0
#endif
#endif

#if PYTHREADING_USE_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <pthread.h>
#include <sched.h>
#endif

namespace threading::detail {
namespace {

// A deadline this far away is "never" (Deadline::after saturates there): the
// caller sleeps untimed rather than pass the OS a time it may not represent.
bool is_forever(const Deadline* deadline) {
  return deadline == nullptr || deadline->ns == std::numeric_limits<std::int64_t>::max();
}

// Absolute CLOCK_MONOTONIC nanoseconds (positive) as a timespec, saturating
// where time_t is narrower than 64 bits.
timespec to_timespec(std::int64_t ns) {
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

}  // namespace

#if PYTHREADING_USE_FUTEX

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

#else  // Portable path: a hashed table of mutex/condvar pairs.

namespace {

struct alignas(64) SleepSlot {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
};
static_assert(std::is_trivially_destructible_v<SleepSlot>);

// Zero-initialised and trivially destructible: the table is never torn down,
// so daemon threads still sleeping while the process exits touch live memory.
// Initialised on first use (a static constructor could run after another
// translation unit's constructor has already parked), because the condvars
// need an attribute (CLOCK_MONOTONIC) that no static initialiser can give.
SleepSlot g_slots[64];
constexpr std::uint32_t kUninit = 0;
constexpr std::uint32_t kIniting = 1;
constexpr std::uint32_t kReady = 2;
std::atomic<std::uint32_t> g_slots_state{kUninit};

void check(int rc, const char* call) {
  if (rc != 0) fatal_os_error(call, rc);
}

// Allocates nothing, so the fork child handler may call it.
void init_slots() noexcept {
  pthread_condattr_t attr;
  check(pthread_condattr_init(&attr), "pthread_condattr_init");
  // Deadlines are CLOCK_MONOTONIC instants; waits must not move with the wall clock.
  check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "pthread_condattr_setclock");
  for (SleepSlot& s : g_slots) {
    std::memset(static_cast<void*>(&s), 0, sizeof s);
    check(pthread_mutex_init(&s.mutex, nullptr), "pthread_mutex_init");
    check(pthread_cond_init(&s.cond, &attr), "pthread_cond_init");
  }
  pthread_condattr_destroy(&attr);
}

[[gnu::noinline]] void init_slots_once() noexcept {
  std::uint32_t state = kUninit;
  // Acquire: the winner needs nothing from before; a loser that reads kReady
  // here is ordered like the loop below (pairs with the release store).
  if (g_slots_state.compare_exchange_strong(state, kIniting, std::memory_order_acquire)) {
    init_slots();
    // release: pairs with the acquire loads in slot_for, publishing the slots.
    g_slots_state.store(kReady, std::memory_order_release);
    return;
  }
  // Another thread is initialising: 64 pairs, a few microseconds (once per
  // process, so a yield loop rather than a sleep). Acquire: pairs with the
  // release store above.
  while (g_slots_state.load(std::memory_order_acquire) != kReady) sched_yield();
}

SleepSlot& slot_for(const void* p) {
  // acquire: pairs with the release in init_slots_once.
  if (g_slots_state.load(std::memory_order_acquire) != kReady) [[unlikely]] {
    init_slots_once();
  }
  auto h = reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull;
  return g_slots[h >> 58];
}

}  // namespace

bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                const Deadline* deadline) noexcept {
  timespec ts{};
  bool timed = !is_forever(deadline);
  if (deadline != nullptr) {
    if (deadline->ns <= Deadline::now_ns()) return false;
    if (timed) ts = to_timespec(deadline->ns);
  }
  SleepSlot& s = slot_for(word);
  check(pthread_mutex_lock(&s.mutex), "pthread_mutex_lock");
  bool in_time = true;
  // Read under the slot mutex, which futex_wake takes after the word changes:
  // either we see the new value or the wake-up finds us waiting. Acquire:
  // pairs with the release that changed the word (e.g. wake()'s exchange),
  // as the kernel's futex read would be followed by the caller's.
  if (word->load(std::memory_order_acquire) == expected) {
    if (timed) {
      int rc = pthread_cond_timedwait(&s.cond, &s.mutex, &ts);
      if (rc == ETIMEDOUT) {
        in_time = false;
      } else if (rc != 0) {
        fatal_os_error("pthread_cond_timedwait", rc);
      }
    } else {
      check(pthread_cond_wait(&s.cond, &s.mutex), "pthread_cond_wait");
    }
  }
  check(pthread_mutex_unlock(&s.mutex), "pthread_mutex_unlock");
  return in_time;
}

void futex_wake(std::atomic<std::uint32_t>* word, int) noexcept {
  SleepSlot& s = slot_for(word);
  check(pthread_mutex_lock(&s.mutex), "pthread_mutex_lock");
  check(pthread_cond_broadcast(&s.cond), "pthread_cond_broadcast");  // shared slot: all re-check
  check(pthread_mutex_unlock(&s.mutex), "pthread_mutex_unlock");
}

void futex_reinit_after_fork() noexcept {
  // The parent's sleepers do not exist here, but the condvars still count
  // them (a broadcast would wait for them forever), and a slot mutex may have
  // been held: start every slot afresh, whatever state the table was in.
  init_slots();
  g_slots_state.store(kReady, std::memory_order_relaxed);  // relaxed: one thread after fork
}

#endif

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
