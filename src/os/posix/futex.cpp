// The per-thread sleep anywhere POSIX threads exist (CMake's
// PYTHREADING_FUTEX=OFF, so it is also built and tested on Linux): a hashed
// table of pthread mutex/condvar pairs stands in for the futex. The one place
// in the library where a pthread mutex or condvar is used.
#include "../futex.hpp"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "../../fatal.hpp"
#include "../timespec.hpp"

namespace threading::detail {

using os::is_forever;
using os::to_timespec;

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

}  // namespace threading::detail
