// threading::Thread and the module functions — Python's Thread object, with
// Python's lifetime rules.
//
//   Python                                   C++
//   t = Thread(target=f, args=(1, "x"))      auto t = std::make_shared<Thread>(f, 1, "x");
//   t = Thread(target=f, name="io",          auto t = std::make_shared<Thread>(Thread::Options{
//              daemon=True)                            .target = f, .name = "io", .daemon = true});
//   class T(Thread): def run(self): ...      struct T : Thread { void run() override; };
//   t.start(); t.join(); t.join(0.5)         t->start(); t->join(); t->join(0.5);
//   t.is_alive(); t.name; t.name = "x"       t->is_alive(); t->name(); t->name("x");
//   t.ident; t.native_id; t.daemon           t->ident(); t->native_id(); t->daemon();
//   threading.current_thread()               threading::current_thread()   // shared_ptr<Thread>
//
// Ownership. A Thread lives in a std::shared_ptr, like every Python object
// lives behind a reference. start() takes a reference for the running thread
// and keeps it until run() has returned, so dropping your handle never stops,
// detaches or frees a running thread; the object dies with its last handle.
// A Thread that no shared_ptr owns (on the stack, a member) can be built and
// run() called directly, but start() refuses it with RuntimeError.
//
// Destruction. The running thread stops touching the object before it drops
// its reference, and no library call touches it after the change of state
// that lets join() return, except through a reference of its own. So once
// join() has returned (or is_alive() has turned false, or a Timer's
// finished() has been set), the caller may drop the last handle at once,
// even if the thread itself has not finished exiting; the object is then
// destroyed by whichever of them lets go last (possibly the thread itself,
// after its run() has returned). Each caller of a member must of course
// hold its own reference for the length of the call.
//
// Contract (CPython 3.11 unless noted):
//   * The activity is the target called with decay-copies of the arguments
//     (moved into the call, as std::thread does), or a subclass's run(). With
//     neither, run() does nothing; an empty std::function or a null function
//     pointer is no target (Python's target=None), whatever the arguments. run() releases the
//     target when it returns, so whatever the target captured is freed by the thread that ran it.
//   * start() at most once ("threads can only be started once"). It returns
//     after the new thread has published ident() and native_id() and entered
//     enumerate() (without waiting for the new thread to run: the ident is
//     the pthread_t and native_id() waits, if asked that early, for the
//     thread to publish its kernel id, which it does before anything else).
//     Strong guarantee: if start() throws (RuntimeError("can't start new
//     thread") when the OS refuses the thread, bad_alloc when the registry
//     cannot grow) no thread was created and the object is as before: not
//     alive, not listed, startable.
//   * is_alive() is true from just before run() starts until just after it
//     returns (or throws).
//   * join(timeout) waits for run() to end; std::nullopt waits forever, a
//     negative timeout polls, NaN raises ValueError and one above TIMEOUT_MAX
//     OverflowError (on a finished thread every timeout just returns). It
//     returns nothing: check is_alive() to learn whether it timed out. The
//     timeout is measured on the monotonic clock (a wall-clock change does
//     not move it) from a saturating deadline, so TIMEOUT_MAX or 9e9 just
//     mean "a very long time". Any number of threads may join at once, any
//     number of times, and a joiner cancelled inside join() (pthread_cancel)
//     leaves the others able to join. An untimed join, and a timed one that
//     sees run() end in time, also waits (within the same deadline) until
//     the OS thread is gone, so its thread_local data (and local<T> values)
//     have been destroyed when join() returns.
//   * An exception escaping run() goes to threading::excepthook (by default
//     "Exception in thread NAME:" and the exception's type and what() on
//     stderr); the thread then ends normally and nothing else sees it.
//   * name(): "Thread-N" unless given (one counter shared with dummies' "Dummy-N";
//     an empty name counts as none); settable at any time. The OS copy
//     (pthread_setname_np, 15 bytes) is set when the thread starts and when a
//     thread renames itself; the main thread never renames the process.
//   * daemon(): inherited from the creating thread (the main thread is not a
//     daemon, dummies are); settable only before start().
//   * Thread-safe: every member may be called from any thread at any time.
//
// Process exit, as in Python: returning from main (or std::exit) first waits
// for every alive non-daemon Thread; daemon threads are abandoned and keep
// running while the process is torn down, so the library's own state is
// never destroyed. Exactly: on glibc, when the main thread exits the wait
// runs before any atexit handler and static destructor (glibc destroys the
// exiting thread's thread_locals first; the library plants one in the main
// thread at load time). When another thread calls std::exit, the wait runs
// from an atexit handler registered by the first start(), so it follows
// handlers registered after that start(). threading::_shutdown() runs the
// same wait on demand.
//
// fork(): waits until no Thread is inside its thread's start-up (before
// run()), so none is caught there. In the child only the forking thread
// remains (the fork handlers allocate nothing in the child: what it needs is
// made in the parent before the fork). It becomes
// main_thread() (keeping its name), its ident/native_id are updated, every
// other Thread reports is_alive() false and joins at once.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "threading/errors.hpp"
#include "threading/timeout.hpp"

namespace threading {

using ident_t = std::uintptr_t;    // pthread_self(), as get_ident() reports
using native_id_t = std::int64_t;  // the kernel's thread id (gettid)

namespace detail {
// A type-erased, move-only `void()` activity (std::function would demand
// copyable targets and arguments; std::thread does not).
class Task {
 public:
  virtual ~Task() = default;
  virtual void invoke() = 0;
};

template <class F, class... Args>
class BoundTask final : public Task {
 public:
  template <class G, class... A>
  explicit BoundTask(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}
  void invoke() override { std::apply(std::move(f_), std::move(args_)); }

 private:
  F f_;
  std::tuple<Args...> args_;
};

template <class F>
inline constexpr bool kIsStdFunction = false;
template <class R, class... A>
inline constexpr bool kIsStdFunction<std::function<R(A...)>> = true;

// An empty std::function or a null (member) function pointer: Python's
// target=None, whatever the arguments.
template <class F>
bool is_no_target(const F& f) noexcept {
  if constexpr (kIsStdFunction<F>) {
    return !f;
  } else if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
    return f == nullptr;
  } else {
    return false;
  }
}

template <class F, class... Args>
std::unique_ptr<Task> make_task(F&& f, Args&&... args) {
  return std::make_unique<BoundTask<std::decay_t<F>, std::decay_t<Args>...>>(
      std::forward<F>(f), std::forward<Args>(args)...);
}

struct ThreadAccess;
}  // namespace detail

class Thread : public std::enable_shared_from_this<Thread> {
 public:
  // Python's keyword arguments. An empty target is Python's target=None; an
  // absent or empty name gives "Thread-N"; an absent daemon is inherited
  // (from current_thread(), as in Python: a foreign thread gets its dummy).
  // stack_size (an extension) overrides threading::stack_size() for this
  // thread, checked at construction by the same rules as stack_size(n)
  // (ValueError "size not valid: N bytes"); above the largest ssize_t,
  // OverflowError as CPython's int conversion.
  struct Options {
    // (Default member initialisers keep -Wextra quiet about omitted designators.)
    std::function<void()> target{};
    std::optional<std::string> name{};
    std::optional<bool> daemon{};
    std::size_t stack_size = 0;
  };

  Thread();
  explicit Thread(Options options);
  // target(args...) on the new thread, with decay-copies of the arguments.
  template <class F, class... Args>
  requires(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> &&
           !std::is_same_v<std::remove_cvref_t<F>, Options>) explicit Thread(F&& target,
                                                                             Args&&... args)
      : Thread(detail::is_no_target<std::decay_t<F>>(target)
                   ? nullptr
                   : detail::make_task(std::forward<F>(target), std::forward<Args>(args)...)) {}

  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  virtual ~Thread();

  void start();
  // The thread's activity. Call it directly to run it synchronously (the
  // Thread is then not started). The default calls the target once.
  virtual void run();
  void join(Timeout timeout = std::nullopt);
  bool is_alive() const noexcept;

  std::string name() const;
  void name(std::string name);
  bool daemon() const noexcept;
  void daemon(bool daemonic);
  std::optional<ident_t> ident() const noexcept;
  std::optional<native_id_t> native_id() const noexcept;

  // Python's repr(): "<Thread(Thread-1, started daemon 1403...)>".
  std::string repr() const;

  // Python 2 names.
  std::string getName() const { return name(); }
  void setName(std::string n) { name(std::move(n)); }
  bool isDaemon() const noexcept { return daemon(); }
  void setDaemon(bool daemonic) { daemon(daemonic); }
  bool isAlive() const noexcept { return is_alive(); }

 private:
  friend struct detail::ThreadAccess;
  enum class Kind : std::uint8_t { kNormal, kMain, kDummy };
  enum State : std::uint32_t { kInitial, kStarting, kStarted, kStopped };
  // kStartHolds: start() may still read the new thread through its pthread_t,
  // so nobody may reap it yet (from start()'s pthread_create until it is done).
  enum OsJoin : std::uint32_t { kStartHolds, kNotJoined, kJoining, kJoined };
  static constexpr native_id_t kNativeIdWaited = -1;

  explicit Thread(std::unique_ptr<detail::Task> target);
  Thread(Kind kind, std::string name, bool daemonic);  // main and dummy threads

  static void* bootstrap(void* self);  // not noexcept: pthread_exit unwinds through it
  void bootstrap_inner();
  bool is_current() const noexcept;
  void publish_native_id(native_id_t id) noexcept;
  pthread_t handle() const noexcept {
    return static_cast<pthread_t>(ident_.load(std::memory_order_acquire));
  }
  // Waits until run() has ended (or a start attempt failed); false on timeout.
  bool wait_stopped(const detail::Deadline* deadline);
  // Reaps the OS thread exactly once (pthread_join), unless it belongs to the
  // parent of a fork; gives up at `deadline`.
  void os_join(const detail::Deadline* deadline);

  std::unique_ptr<detail::Task> target_;
  std::string name_;  // guarded by one of a few global name locks
  std::atomic<bool> daemon_{false};
  std::atomic<std::uint32_t> state_{kInitial};
  std::atomic<std::uint32_t> os_join_{kStartHolds};
  // The pthread_t, published by start() and by the new thread (same value).
  std::atomic<ident_t> ident_{0};  // 0 = none yet
  // 0 = none yet; kNativeIdWaited = none yet and a native_id() caller is parked on it.
  mutable std::atomic<native_id_t> native_id_{0};
  std::uint64_t fork_generation_ = 0;  // the process (fork count) that made the OS thread
  std::size_t stack_size_ = 0;
  std::shared_ptr<Thread> self_ref_;  // the running thread's reference, handed over in start()
  Kind kind_ = Kind::kNormal;
};

// --- module functions ------------------------------------------------------

// Number of alive Thread objects (main, started, dummies); == enumerate().size().
std::size_t active_count();
inline std::size_t activeCount() { return active_count(); }
// The calling thread's Thread; a foreign thread (std::thread, a C library's
// callback thread) gets a daemonic "Dummy-N" the first time, which leaves
// enumerate() when that thread exits. (Constructing a Thread without a daemon
// flag asks this, as Python's Thread.__init__ does, so a foreign thread gets
// its dummy then, numbered after the new Thread.)
std::shared_ptr<Thread> current_thread();
inline std::shared_ptr<Thread> currentThread() { return current_thread(); }
// The process's initial thread ("MainThread"), whoever asks.
std::shared_ptr<Thread> main_thread();
// A new list of the alive threads: main first, then in the order they became
// alive, then those still inside start().
std::vector<std::shared_ptr<Thread>> enumerate();
// pthread_self() of the calling thread; equals Thread::ident(). May be reused
// by a later thread once this one has ended.
inline ident_t get_ident() noexcept { return static_cast<ident_t>(pthread_self()); }
// The kernel's id for the calling thread (the pid for the main thread).
native_id_t get_native_id() noexcept;

// The stack size for threads started from now on (0: the platform default).
// stack_size() returns the setting AND resets it to 0, as CPython does;
// stack_size(n) sets it and returns the old one. n must be 0 or >= 32768
// (ValueError "size not valid: N bytes"; negative: "size must be 0 or a
// positive value"). A size the OS cannot honour fails at start().
std::size_t stack_size();
std::size_t stack_size(long long size);

// C++ has no sys.settrace: a trace or profile hook is a function that every
// thread started afterwards calls on itself just before run() (trace first).
// An empty function removes it. An exception from a hook goes to excepthook.
using TraceFunction = std::function<void()>;
void settrace(TraceFunction func);
void setprofile(TraceFunction func);
TraceFunction gettrace();
TraceFunction getprofile();

// What threading.excepthook receives.
struct ExceptHookArgs {
  const std::type_info* exc_type = nullptr;  // the thrown object's type
  std::exception_ptr exc_value;
  std::shared_ptr<Thread> thread;  // null when reported for no Thread
};
using ExceptHook = std::function<void(const ExceptHookArgs&)>;
// Python's threading.excepthook: called (looked up afresh each time) when an
// exception escapes run(). excepthook(hook) installs one (nullptr: the default)
// and returns the previous; excepthook() returns the current one;
// excepthook(args) calls it. If the hook throws, "Exception in
// threading.excepthook:" and that exception are printed instead.
ExceptHook excepthook();
ExceptHook excepthook(ExceptHook hook);
void excepthook(const ExceptHookArgs& args);
// Python's threading.__excepthook__: "Exception in thread NAME:" then
// "TYPE: what()" (type demangled) on stderr, in one write.
void default_excepthook(const ExceptHookArgs& args);

// What process exit does first (CPython's threading._shutdown): marks the main
// thread stopped if called from it, then joins every alive non-daemon Thread
// except the caller, including threads started meanwhile. Idempotent.
void _shutdown();

// Makes every later _shutdown(), including the one process exit runs, return
// at once: the non-daemon threads still running are abandoned, as daemon
// threads are. For a runtime whose own exit-time wait was cut short (CPython
// stops waiting for its threads at the first Ctrl-C).
void abandon_exit_wait() noexcept;

}  // namespace threading
