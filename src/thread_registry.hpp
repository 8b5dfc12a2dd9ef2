// Internal to the Thread layer (src/thread*.cpp): the registry of alive
// threads, the per-thread globals, and the fork and exit invariants.
//
// Everything global here is immortal: constant-initialised trivially
// destructible objects, or heap objects that are never freed. Daemon threads
// keep running while exit() destroys static objects, and must never touch a
// destroyed one.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "threading/lock.hpp"
#include "threading/thread.hpp"

namespace threading::detail {

// --- the calling thread ------------------------------------------------------

// The calling thread's Thread once known (set by its bootstrap, or by
// current_thread() for the main thread and dummies); null after run().
extern constinit thread_local Thread* tls_current;
// The calling thread's kernel id, cached (0: not asked yet).
extern constinit thread_local native_id_t tls_tid;

// --- fork and exit invariants -------------------------------------------------
//
// g_starting: the number of Threads between start()'s listing (in limbo) and
//   the end of their own start-up, in their bootstrap (raised under the
//   registry lock). prepare_fork() holds the registry lock and waits for it
//   to be 0, so a fork never catches a new thread inside its C library or
//   sanitizer start-up code; the child resets it to 0 (its threads are gone).
//   Changed only in src/thread_registry.cpp.
extern constinit std::atomic<std::uint32_t> g_starting;
// g_fork_generation: the number of fork()s this process descends through,
//   raised by the child handler. Thread::fork_generation_ records it when
//   start() makes the OS thread; a Thread whose generation differs belongs to
//   an ancestor process: its OS thread does not exist here, so it is never
//   joined, detached or asked for its kernel id.
extern constinit std::atomic<std::uint64_t> g_fork_generation;
// Thread::os_join_ (kStartHolds -> kNotJoined -> kJoining -> kJoined): the OS
//   thread is reaped (or detached by ~Thread) exactly once. kStartHolds
//   until start() has finished reading the new thread through its handle
//   (nobody may reap it before); kJoining while one joiner reaps it (others
//   park on the word); a joiner cancelled in the wait puts back kNotJoined.
//   The fork child sets kJoined (with kStopped) on every Thread but the
//   forking one: nothing to reap there.
// ThreadRegistry::zombies: those parent-process Threads, kept alive for good
//   in the child (never destroyed from inside a fork handler, which may not
//   free memory); prepare_fork() reserves their room in the parent.
// Exit: process exit runs ExitWait::exit_wait() once, from the main thread's
//   thread_local ExitWaiter (armed at load time, and in a fork child) or
//   from the atexit handler the first start() registers; both are no-ops
//   after abandon_exit_wait().

// The alive threads (CPython's _active and _limbo), main and dummies, and
// every operation on them that needs a Thread's privates, including the fork
// handlers that keep them consistent across fork().
struct ThreadRegistry {
  Lock lock;  // guards active, limbo, main, zombies, fork_survivor
  // Invariant: active.capacity() >= active.size() + limbo.size(), so moving
  // a thread from limbo to active (after its OS thread is made) never
  // allocates, and cannot fail: every push makes room first.
  std::vector<std::shared_ptr<Thread>> active;  // main first, in activation order
  std::vector<std::shared_ptr<Thread>> limbo;   // inside start()
  std::shared_ptr<Thread> main;
  std::vector<std::shared_ptr<Thread>> zombies;  // parent-process threads, after fork
  // From prepare_fork to the fork's other handler: the forking thread's
  // Thread, made in advance if it has none (the child must not allocate).
  std::shared_ptr<Thread> fork_survivor;

  ThreadRegistry();

  // The one registry, made at load time and never destroyed.
  static ThreadRegistry& get();

  // start()'s steps. enter_limbo lists a Thread being started (may throw
  // bad_alloc; nothing changed then); leave_limbo_failed undoes it, back to
  // "new"; leave_limbo_started moves it to active, "started" unless it has
  // already stopped. startup_done: the new thread's own start-up has ended.
  static void enter_limbo(const std::shared_ptr<Thread>& t);
  static void leave_limbo_failed(Thread& t);
  static void leave_limbo_started(Thread& t);
  static void startup_done() noexcept;

  // The calling thread's Thread when it is not in tls_current: the main
  // thread, or a new dummy for a foreign thread (may throw bad_alloc).
  static std::shared_ptr<Thread> current_slow();
  // The calling thread's daemon flag (Thread.__init__'s default).
  static bool current_daemon();
  // Unlists a thread whose run() has ended and marks it stopped; wakes joiners.
  static void mark_stopped(Thread& t);
  // Whether `m` (the main Thread) is the calling thread's.
  static bool is_main(Thread& m);

  // pthread_atfork handlers.
  static void prepare_fork();
  static void parent_after_fork();
  static void child_after_fork();

 private:
  static void bind_main(Thread& m);
  static void reap_dummy(void* p);
  std::shared_ptr<Thread> registered_current();

  pthread_key_t dummy_key_{};  // its value reaps a dummy when its thread exits
};

// The process-exit wait (src/thread_exit.cpp).
struct ExitWait {
  static void exit_wait();
  // The main thread's (or fork child's) thread_local waiter: make it exist
  // without arming it (prepare_fork: its first use allocates), and arm it.
  static void make_waiter() noexcept;
  static void arm_waiter() noexcept;
  // Registers the atexit handler, once (start()).
  static void register_at_exit() noexcept;
};

// --- names ---------------------------------------------------------------------

// Guards Thread::name_ (striped by address: a per-object Lock would have to
// be reset in every Thread object after fork, and we cannot find them all).
constexpr std::size_t kNameLocks = 16;
extern constinit Lock g_name_locks[kNameLocks];
Lock& name_lock(const void* t);
// "Thread-N" and "Dummy-N": one counter for both.
std::string next_name(const char* prefix);

// --- hooks (src/thread_hooks.cpp) ---------------------------------------------

// The lock guarding settrace/setprofile/excepthook's hooks (the fork handlers
// hold it across fork()).
Lock& hooks_lock();
// Copies of the trace and profile hooks, for a new thread to call before run().
void start_hooks(TraceFunction& trace, TraceFunction& profile);
// Hands the exception being handled to excepthook for `thread`; called inside
// a catch block.
void report_exception(const std::shared_ptr<Thread>& thread);
// A C++ type's readable name.
std::string demangle(const char* mangled);

// --- module state (src/thread_module.cpp) -------------------------------------

// threading::stack_size()'s setting (0: the platform's default).
extern constinit std::atomic<std::size_t> g_stack_size;
// CPython's rules for a thread stack size: 0, or at least 32768 and accepted
// by the platform; ValueError otherwise.
void check_stack_size(long long size);

}  // namespace threading::detail
