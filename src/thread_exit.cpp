// Process exit's wait for the non-daemon threads (CPython's
// threading._shutdown): who runs it (the main thread's exit-time waiter, or
// an atexit handler), what it does, and abandon_exit_wait().
#include <cstdlib>
#include <mutex>  // std::lock_guard only

#include "thread_registry.hpp"
#include "threading/detail/exit_wait.hpp"

namespace threading {
namespace detail {
namespace {

constinit std::atomic<bool> g_atexit_registered{false};
// Set by abandon_exit_wait(): exit_wait() returns at once.
constinit std::atomic<bool> g_exit_wait_abandoned{false};

// Destroyed by glibc at the start of exit() in the thread that calls it,
// before any atexit handler or static destructor. Armed only in the
// process's main thread.
struct ExitWaiter {
  bool armed = false;
  ~ExitWaiter() {
    if (!armed) return;
    try {
      ExitWait::exit_wait();
    } catch (...) {
    }
  }
};

ExitWaiter& exit_waiter() {
  thread_local ExitWaiter waiter;
  return waiter;
}

void exit_wait_at_exit() {
  try {
    ExitWait::exit_wait();
  } catch (...) {
  }
}

}  // namespace

void ExitWait::make_waiter() noexcept { (void)exit_waiter(); }
void ExitWait::arm_waiter() noexcept { exit_waiter().armed = true; }

void ExitWait::register_at_exit() noexcept {
  if (!g_atexit_registered.exchange(true)) std::atexit(&exit_wait_at_exit);
}

void ExitWait::exit_wait() {
  // Acquire: pairs with abandon_exit_wait()'s release (a flag, no data).
  if (g_exit_wait_abandoned.load(std::memory_order_acquire)) return;
  ThreadRegistry& r = ThreadRegistry::get();
  Thread& m = *r.main;
  if (m.kind_ == Thread::Kind::kMain && ThreadRegistry::is_main(m) &&
      m.state_.load(std::memory_order_acquire) == Thread::kStarted) {
    ThreadRegistry::mark_stopped(m);
  }
  for (;;) {
    std::shared_ptr<Thread> next;
    {
      std::lock_guard g(r.lock);
      for (auto* v : {&r.limbo, &r.active}) {
        for (auto& t : *v) {
          if (t->kind_ == Thread::Kind::kNormal && !t->daemon() && t.get() != tls_current) {
            next = t;
            break;
          }
        }
        if (next) break;
      }
    }
    if (!next) return;
    next->wait_stopped(nullptr);
    next->os_join(nullptr);
  }
}

void exit_wait() { ExitWait::exit_wait(); }

}  // namespace detail

void abandon_exit_wait() noexcept {
  detail::g_exit_wait_abandoned.store(true, std::memory_order_release);
}

}  // namespace threading
