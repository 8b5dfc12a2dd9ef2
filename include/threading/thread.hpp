// threading::Thread and the module functions — Python's Thread object, with
// Python's lifetime rules.
//
// clang-format off
//   Python                                   C++
//   t = Thread(target=f, args=(1, "x"))      auto t = std::make_shared<Thread>(f, 1, "x");
//   t = Thread(target=f, name="io",          auto t = std::make_shared<Thread>(Thread::Options{
//              daemon=True)                      .target = f, .name = "io", .daemon = true});
//   class T(Thread): def run(self): ...      struct T : Thread { void run() override; };
//   t.start(); t.join(); t.join(0.5)         t->start(); t->join(); t->join(0.5);
//   t.is_alive(); t.name; t.name = "x"       t->is_alive(); t->name(); t->name("x");
//   t.ident; t.native_id; t.daemon           t->ident(); t->native_id(); t->daemon();
//   threading.current_thread()               threading::current_thread()   // shared_ptr<Thread>
// clang-format on
//
// Semantics are CPython 3.11's unless a member says otherwise. Every member
// may be called from any thread at any time; what each may race with is
// stated with it.
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
// hold its own reference for the length of the call. A Thread destroyed
// while its OS thread is unjoined lets that OS thread reap itself.
//
// States. A Thread's life, and what each step may race with (main and dummy
// threads are born started; "joined" is the OS thread's reaping, tracked
// apart from the rest):
//
// clang-format off
//   transition          by                                  may race with
//   new -> starting     start() (one caller wins)           another start() (it raises "threads
//                                                           can only be started once");
//                                                           daemon(bool) (refused from here on)
//   starting -> new     start() failing (the OS refused, or the exit wait, if waiting on it
//                       bad_alloc)                          (woken)
//   starting -> started start() once the OS thread exists,  each other (the first wins);
//                       or the new thread before run(),     is_alive(); enumerate() (lists it in
//                       whichever is first                  both states); fork() (waits for
//                                                           start-ups to end)
//   started -> stopped  the thread itself when run() ends,  join(timeout) and the exit wait (woken
//                       however it ends; a dummy's thread   by it); in a fork child, every Thread
//                       exiting; the exit wait (main        but the forking one goes to stopped
//                       thread)                             and joined at once
//   stopped -> joined   the first join() to reap the OS     other joiners (they wait for it, or
//                       thread (a joiner cancelled in the   for their deadline); ~Thread (detaches
//                       wait leaves it joinable)            it instead, if nobody joined)
// clang-format on
//
//   is_alive() is true in "started" only. join() raises in "new" and
//   "starting"; it returns once "stopped" is reached (a timed join, also
//   once the deadline passes), after also reaching "joined" when it can.
//
// Process exit, as in Python: returning from main (or std::exit) first waits
// for every alive non-daemon Thread; daemon threads are abandoned and keep
// running while the process is torn down, so the library's own state is
// never destroyed. Exactly: on glibc, when the main thread exits the wait
// runs before any atexit handler and static destructor (glibc destroys the
// exiting thread's thread_locals first; the library plants one in the main
// thread at load time). When another thread calls std::exit, the wait runs
// from an atexit handler registered by the first start(), so it follows
// handlers registered after that start(). abandon_exit_wait() turns the wait
// off.
//
// fork(): waits until no Thread is inside its thread's start-up (before
// run()), so none is caught there. In the child only the forking thread
// remains (the fork handlers allocate nothing in the child: what it needs is
// made in the parent before the fork). It becomes main_thread() (keeping its
// name), its ident/native_id are updated, every other Thread reports
// is_alive() false and joins at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "threading/detail/task.hpp"
#include "threading/detail/thread_id.hpp"
#include "threading/errors.hpp"
#include "threading/timeout.hpp"

namespace threading {

using ident_t = std::uintptr_t;    // pthread_self(), as get_ident() reports
using native_id_t = std::int64_t;  // the kernel's thread id (gettid)

namespace detail {
// The library's own parts that reach into a Thread (src/thread_registry.hpp).
struct ThreadRegistry;
struct ExitWait;
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

  // A new, unstarted Thread ("new" in the table above) named "Thread-N", with
  // no target (run() does nothing unless overridden) and the creating
  // thread's daemon flag. Raises: bad_alloc; the Options form, as above.
  Thread();
  explicit Thread(Options options);
  // target(args...) on the new thread, with decay-copies of the arguments
  // (moved into the call, as std::thread does). An empty std::function or a
  // null function pointer is no target (Python's target=None), whatever the
  // arguments.
  // clang-format off
  template <class F, class... Args>
    requires(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> &&
             !std::is_same_v<std::remove_cvref_t<F>, Options>)
  explicit Thread(F&& target, Args&&... args)
      : Thread(detail::is_no_target<std::decay_t<F>>(target)
                   ? nullptr
                   : detail::make_task(std::forward<F>(target), std::forward<Args>(args)...)) {}
  // clang-format on

  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  virtual ~Thread();

  // Runs run() on a new OS thread. Returns once the new thread has its
  // ident() and native_id() and is listed by enumerate(), without waiting for
  // it to run (the ident is the handle start() already has, and native_id()
  // waits, if asked that early, for the thread to publish its kernel id,
  // which it does before anything else).
  // Raises RuntimeError: "threads can only be started once"; "can't start new
  // thread" when the OS refuses the thread; when no std::shared_ptr owns the
  // object. bad_alloc when the registry cannot grow. Strong guarantee: if it
  // raises, no thread was created and the object is as before (not alive,
  // not listed, startable).
  // Races: see the state table (new -> starting -> started).
  void start();
  // The thread's activity: by default calls the target once and then
  // releases it, so whatever the target captured is freed by the thread that
  // ran it. Override it in a subclass (Python's run()). Called directly it
  // runs synchronously, and the Thread is not started. An exception escaping
  // it on a started thread goes to excepthook (see there); the thread then
  // ends normally and nothing else sees it.
  virtual void run();
  // Waits for run() to end. timeout: std::nullopt waits forever; a negative
  // one polls. It returns nothing: check is_alive() to learn whether it timed
  // out. Measured on the monotonic clock (a wall-clock change does not move
  // it) from a saturating deadline, so TIMEOUT_MAX or 9e9 just mean "a very
  // long time". An untimed join, and a timed one that sees run() end in
  // time, also waits (within the same deadline) until the OS thread is gone,
  // so its thread_local data (and local<T> values) have been destroyed when
  // join() returns.
  // Raises RuntimeError: "cannot join a dummy thread", "cannot join thread
  // before it is started" (new or starting), "cannot join current thread";
  // ValueError for NaN and OverflowError above TIMEOUT_MAX, unless the thread
  // has already stopped (then every timeout just returns, as CPython <= 3.12).
  // Races: any number of threads may join at once, any number of times; a
  // joiner cancelled inside join() (pthread_cancel) leaves the others able
  // to join.
  void join(Timeout timeout = std::nullopt);
  // True from just before run() starts until just after it returns (or
  // throws): the "started" state. Never raises.
  bool is_alive() const noexcept;

  // The name: "Thread-N" unless given (one counter shared with dummies'
  // "Dummy-N"; an empty name given counts as none), "MainThread" for the
  // main thread. Settable at any time, from any thread. The OS's copy (cut
  // to the 15 bytes Linux keeps) is set when the thread starts and when a
  // started thread renames itself; the main thread never renames the
  // process. Raises: bad_alloc only.
  std::string name() const;
  void name(std::string name);
  // Whether process exit leaves this thread running instead of waiting for
  // it. Inherited from the creating thread (the main thread is not a daemon,
  // dummies are). Setting it raises RuntimeError "cannot set daemon status of
  // active thread" once start() has begun.
  bool daemon() const noexcept;
  void daemon(bool daemonic);
  // The handle get_ident() reports on the thread; std::nullopt before
  // start(). Once set it stays (the OS may reuse the value after the thread
  // has ended).
  std::optional<ident_t> ident() const noexcept;
  // The kernel's id of the thread; std::nullopt before start(), and for a
  // thread of a fork's parent that never published one. Once ident() has a
  // value so does this, even while start() is running: it may wait (briefly)
  // for the new thread to publish it.
  std::optional<native_id_t> native_id() const noexcept;

  // Python's repr(): "<Thread(Thread-1, started daemon 1403...)>" (a subclass
  // shows its own class name; main and dummy threads _MainThread and
  // _DummyThread).
  std::string repr() const;

  // Python 2 names.
  std::string getName() const { return name(); }
  void setName(std::string n) { name(std::move(n)); }
  bool isDaemon() const noexcept { return daemon(); }
  void setDaemon(bool daemonic) { daemon(daemonic); }
  bool isAlive() const noexcept { return is_alive(); }

 private:
  friend struct detail::ThreadRegistry;
  friend struct detail::ExitWait;
  enum class Kind : std::uint8_t { kNormal, kMain, kDummy };
  // The states of the table at the top; "joined" is os_join_'s kJoined.
  enum State : std::uint32_t { kInitial, kStarting, kStarted, kStopped };
  // kStartHolds: start() may still read the new thread through its handle,
  // so nobody may reap it yet (from start()'s thread creation until it is
  // done). See src/thread_registry.hpp for this word's invariants.
  enum OsJoin : std::uint32_t { kStartHolds, kNotJoined, kJoining, kJoined };
  static constexpr native_id_t kNativeIdWaited = -1;

  explicit Thread(std::unique_ptr<detail::Task> target);
  Thread(Kind kind, std::string name, bool daemonic);  // main and dummy threads

  static void* bootstrap(void* self);  // not noexcept: pthread_exit unwinds through it
  void bootstrap_inner();
  bool is_current() const noexcept;
  void publish_native_id(native_id_t id) noexcept;
  // Waits until run() has ended (or a start attempt failed); false on timeout.
  bool wait_stopped(const detail::Deadline* deadline);
  // Reaps the OS thread exactly once, unless it belongs to the parent of a
  // fork; gives up at `deadline`.
  void os_join(const detail::Deadline* deadline);

  std::unique_ptr<detail::Task> target_;
  std::string name_;  // guarded by one of a few global name locks
  std::atomic<bool> daemon_{false};
  std::atomic<std::uint32_t> state_{kInitial};
  std::atomic<std::uint32_t> os_join_{kStartHolds};
  // The OS handle, published by start() and by the new thread (same value).
  std::atomic<ident_t> ident_{0};  // 0 = none yet
  // 0 = none yet; kNativeIdWaited = none yet and a native_id() caller is parked on it.
  mutable std::atomic<native_id_t> native_id_{0};
  std::uint64_t fork_generation_ = 0;  // the process (fork count) that made the OS thread
  std::size_t stack_size_ = 0;
  std::shared_ptr<Thread> self_ref_;  // the running thread's reference, handed over in start()
  Kind kind_ = Kind::kNormal;
};

// --- module functions ------------------------------------------------------
// Each may be called from any thread at any time, including while other
// threads start and stop (each returns a snapshot).

// Number of alive Thread objects (main, started, dummies); == enumerate().size().
std::size_t active_count();
inline std::size_t activeCount() { return active_count(); }
// The calling thread's Thread; a foreign thread (std::thread, a C library's
// callback thread) gets a daemonic "Dummy-N" the first time, which leaves
// enumerate() when that thread exits. (Constructing a Thread without a daemon
// flag asks this, as Python's Thread.__init__ does, so a foreign thread gets
// its dummy then, numbered after the new Thread.) Raises bad_alloc only
// (making a dummy).
std::shared_ptr<Thread> current_thread();
inline std::shared_ptr<Thread> currentThread() { return current_thread(); }
// The process's initial thread ("MainThread"), whoever asks; after fork(),
// the child's forking thread.
std::shared_ptr<Thread> main_thread();
// A new list of the alive threads: main first, then in the order they became
// alive, then those still inside start().
std::vector<std::shared_ptr<Thread>> enumerate();
// The calling thread's handle (pthread_self()); equals Thread::ident(). May be
// reused by a later thread once this one has ended.
inline ident_t get_ident() noexcept { return detail::current_thread_id(); }
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
// A hook replaced while threads start is seen by each of them either old or
// new, never torn.
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

// Makes process exit's wait for the non-daemon threads (see "Process exit"
// above) return at once from now on: the non-daemon threads still running
// are abandoned, as daemon threads are. For a runtime whose own exit-time
// wait was cut short (CPython stops waiting for its threads at the first
// Ctrl-C). Never raises.
void abandon_exit_wait() noexcept;

}  // namespace threading
