// The Thread object's own methods: construction, start() and the new
// thread's bootstrap, join(), and the accessors. The registry, the fork
// handlers, process exit and the hooks each have their own file
// (thread_registry.hpp says which); the OS thread is behind src/os/.
//
// Design (see ANCHORS §5): a process-wide registry (CPython's _active and
// _limbo) holds a shared_ptr to every alive Thread; a started thread also
// holds its own reference until run() returns. Liveness is one atomic state
// word that timed joiners park on (the parking core); the OS thread itself is
// reaped once, by the first joiner that gets there (or detached by
// ~Thread), as CPython 3.13's _ThreadHandle does. An untimed join goes
// straight to the OS's join, and start() never waits for the new thread: it
// knows the ident (the handle) and makes the thread alive and active itself;
// only native_id() may have to wait for the thread to publish it.
#include <cxxabi.h>
#include <sched.h>

#include <climits>
#include <cmath>
#include <mutex>  // std::lock_guard only

#include "os/os_thread.hpp"
#include "thread_registry.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {
namespace detail {

constinit thread_local Thread* tls_current = nullptr;
constinit thread_local native_id_t tls_tid = 0;

constinit Lock g_name_locks[kNameLocks];
namespace {
constinit std::atomic<std::uint64_t> g_name_counter{0};  // Thread-N and Dummy-N
}  // namespace

Lock& name_lock(const void* t) {
  return g_name_locks[(reinterpret_cast<std::uintptr_t>(t) >> 6) % kNameLocks];
}

std::string next_name(const char* prefix) {
  return prefix + std::to_string(g_name_counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

}  // namespace detail

using detail::ThreadRegistry;
using detail::tls_current;
namespace pl = detail::parking_lot;

// --- Thread -----------------------------------------------------------------

Thread::Thread() : Thread(std::unique_ptr<detail::Task>()) {}

Thread::Thread(std::unique_ptr<detail::Task> target)
    : target_(std::move(target)), name_(detail::next_name("Thread-")) {
  daemon_.store(ThreadRegistry::current_daemon(), std::memory_order_relaxed);
}

Thread::Thread(Options options) {
  if (options.stack_size > static_cast<std::size_t>(LLONG_MAX)) {
    throw OverflowError("Python int too large to convert to C ssize_t");
  }
  detail::check_stack_size(static_cast<long long>(options.stack_size));
  stack_size_ = options.stack_size;
  if (options.target) target_ = detail::make_task(std::move(options.target));
  name_ = options.name && !options.name->empty() ? std::move(*options.name)
                                                 : detail::next_name("Thread-");
  daemon_.store(options.daemon ? *options.daemon : ThreadRegistry::current_daemon(),
                std::memory_order_relaxed);
}

Thread::Thread(Kind kind, std::string name, bool daemonic) : name_(std::move(name)), kind_(kind) {
  daemon_.store(daemonic, std::memory_order_relaxed);
  state_.store(kStarted, std::memory_order_relaxed);
}

Thread::~Thread() {
  // Nobody joined the OS thread: let it reap itself. (It cannot be running
  // run() any more: it held a reference to this object until then.)
  if (kind_ == Kind::kNormal && state_.load(std::memory_order_acquire) == kStopped &&
      os_join_.load(std::memory_order_acquire) != kJoined &&
      fork_generation_ == detail::g_fork_generation.load(std::memory_order_relaxed)) {
    detail::os::detach_thread(ident_.load(std::memory_order_acquire));
  }
}

void Thread::run() {
  if (target_) {
    std::unique_ptr<detail::Task> target = std::move(target_);  // freed even if it throws
    target->invoke();
  }
}

void Thread::start() {
  std::shared_ptr<Thread> self = weak_from_this().lock();
  if (!self) {
    throw RuntimeError(
        "Thread::start(): this Thread is not owned by a std::shared_ptr; create it with "
        "std::make_shared<Thread>(...) (the running thread keeps a reference to it)");
  }
  std::uint32_t expected = kInitial;
  if (!state_.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) {
    throw RuntimeError("threads can only be started once");
  }
  // Strong guarantee: everything that can throw happens before the OS
  // thread is made, and each failure puts the object back as it was.
  auto undo = [&] {
    self_ref_.reset();
    ThreadRegistry::leave_limbo_failed(*this);
  };
  try {
    ThreadRegistry::enter_limbo(self);
  } catch (...) {
    undo();
    throw;
  }
  detail::ExitWait::register_at_exit();
  std::size_t size =
      stack_size_ != 0 ? stack_size_ : detail::g_stack_size.load(std::memory_order_relaxed);
  self_ref_ = self;
  fork_generation_ = detail::g_fork_generation.load(std::memory_order_relaxed);
  // Nobody may reap the new thread until we are done with its handle
  // (reading its kernel id through it below).
  os_join_.store(kStartHolds, std::memory_order_relaxed);

  ident_t tid = 0;
  if (detail::os::create_thread(&tid, size, &Thread::bootstrap, this) != 0) {
    undo();
    throw RuntimeError("can't start new thread");
  }
  // From here nothing throws. No waiting for the new thread (THR-S2): its
  // ident is the handle we already have, its native_id() waits for it in
  // the rare case someone asks before it has run, and it becomes alive and
  // active here unless it has already finished (it does both itself too,
  // before run()).
  ident_.store(tid, std::memory_order_release);
  // Safe: the thread cannot have been reaped (kStartHolds), so `tid` still
  // names it, not a later thread reusing its memory.
  if (native_id_t nid = detail::os::kernel_id_of(tid); nid > 0) publish_native_id(nid);
  // Synchronises with the acquire loads in os_join(): a joiner that sees
  // kNotJoined may now reap it.
  os_join_.store(kNotJoined, std::memory_order_release);
  pl::unpark_all(&os_join_);
  ThreadRegistry::leave_limbo_started(*this);
}

void* Thread::bootstrap(void* self) {
  static_cast<Thread*>(self)->bootstrap_inner();
  return nullptr;
}

void Thread::bootstrap_inner() {
  std::shared_ptr<Thread> self = std::move(self_ref_);
  tls_current = this;
  detail::tls_tid = detail::os::kernel_id_of(get_ident());
  if (detail::tls_tid <= 0) detail::tls_tid = detail::os::current_kernel_id();
  // As start() does (same values), so whichever gets there first publishes.
  ident_.store(get_ident(), std::memory_order_release);
  publish_native_id(detail::tls_tid);
  // Alive from just before run(), even if start() has not got that far yet
  // (start() lists it as active; until then it is enumerated from limbo).
  std::uint32_t starting = kStarting;
  state_.compare_exchange_strong(starting, kStarted, std::memory_order_acq_rel);
  detail::os::set_current_name(name());
  ThreadRegistry::startup_done();

  // Runs when run() ends, however it ends (pthread_exit unwinds through here).
  struct Finish {
    Thread* t;
    ~Finish() {
      tls_current = nullptr;
      ThreadRegistry::mark_stopped(*t);
    }
  } finish{this};
  try {
    TraceFunction trace, profile;
    detail::start_hooks(trace, profile);
    if (trace) trace();
    if (profile) profile();
    run();
  } catch (...) {
    // pthread_exit/cancellation unwinds with a foreign exception that has no
    // C++ type (catching abi::__forced_unwind& by name trips UBSan): let it go.
    if (abi::__cxa_current_exception_type() == nullptr) throw;
    detail::report_exception(self);
  }
}

void Thread::publish_native_id(native_id_t id) noexcept {
  if (native_id_.exchange(id, std::memory_order_acq_rel) == kNativeIdWaited) {
    pl::unpark_all(&native_id_);
  }
}

bool Thread::is_current() const noexcept {
  if (tls_current == this) return true;
  return kind_ == Kind::kMain && ident_.load(std::memory_order_acquire) == get_ident();
}

bool Thread::wait_stopped(const detail::Deadline* deadline) {
  auto running = [this] {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    return s == kStarting || s == kStarted;
  };
  while (running()) {
    if (deadline != nullptr && deadline->expired()) return false;
    pl::park(&state_, running, deadline);
  }
  return true;
}

void Thread::os_join(const detail::Deadline* deadline) {
  if (kind_ != Kind::kNormal) return;
  if (fork_generation_ != detail::g_fork_generation.load(std::memory_order_relaxed)) return;
  if (ident_.load(std::memory_order_acquire) == 0) return;  // never created (start() failed)
  for (;;) {
    std::uint32_t s = os_join_.load(std::memory_order_acquire);
    if (s == kJoined) return;
    if (s == kNotJoined) {
      if (!os_join_.compare_exchange_strong(s, kJoining, std::memory_order_acquire)) continue;
      // Settles the join state however this ends: if this joiner is
      // cancelled inside pthread_join (a forced unwind), the thread is still
      // joinable, so the job goes back to the others.
      struct Settle {
        Thread* t;
        std::uint32_t outcome = kNotJoined;
        ~Settle() {
          const void* key = &t->os_join_;
          // Synchronises with the acquire loads of the joiners parked below.
          t->os_join_.store(outcome, std::memory_order_release);
          pl::unpark_all(key);  // the address only
        }
      } settle{this};
      if (detail::os::join_thread(ident_.load(std::memory_order_acquire), deadline)) {
        settle.outcome = kJoined;
      }
      return;
    }
    // start() is not done with it yet, or another joiner is reaping it: wait
    // for that (or for our deadline).
    auto busy = [this] {
      std::uint32_t v = os_join_.load(std::memory_order_acquire);
      return v == kStartHolds || v == kJoining;
    };
    if (deadline != nullptr && deadline->expired()) return;
    pl::park(&os_join_, busy, deadline);
  }
}

void Thread::join(Timeout timeout) {
  if (kind_ == Kind::kDummy) throw RuntimeError("cannot join a dummy thread");
  std::uint32_t s = state_.load(std::memory_order_acquire);
  if (s == kInitial || s == kStarting) {
    throw RuntimeError("cannot join thread before it is started");
  }
  if (is_current()) throw RuntimeError("cannot join current thread");
  detail::WaitScope waiting{detail::WaitKind::kJoin, this, timeout};
  if (timeout.is_none()) {
    // Straight to the OS's join (one sleep, as std::thread::join): the OS
    // thread is gone only after run() has ended and the thread is stopped.
    // Concurrent joiners wait for whichever of them reaps it.
    os_join(nullptr);
    wait_stopped(nullptr);  // main thread, or a thread of a fork's parent
    return;
  }
  double t = timeout.seconds();
  if (s == kStopped) {  // CPython <= 3.12 ignores the timeout's value here
    if (std::isnan(t) || t <= 0) {
      detail::Deadline poll{0};
      os_join(&poll);
    } else if (t > TIMEOUT_MAX) {
      os_join(nullptr);
    } else {
      detail::Deadline d = detail::Deadline::after(t);
      os_join(&d);
    }
    return;
  }
  if (std::isnan(t)) throw ValueError("Invalid value NaN (not a number)");
  detail::check_not_too_large(t);
  detail::Deadline d = detail::Deadline::after(t > 0 ? t : 0);
  if (wait_stopped(&d)) os_join(&d);
}

bool Thread::is_alive() const noexcept {
  return state_.load(std::memory_order_acquire) == kStarted;
}

std::string Thread::name() const {
  std::lock_guard g(detail::name_lock(this));
  return name_;
}

void Thread::name(std::string name) {
  std::string os_copy;
  {
    std::lock_guard g(detail::name_lock(this));
    name_ = std::move(name);
    if (kind_ == Kind::kNormal && tls_current == this) os_copy = name_;
  }
  if (kind_ == Kind::kNormal && tls_current == this) detail::os::set_current_name(os_copy);
}

bool Thread::daemon() const noexcept { return daemon_.load(std::memory_order_relaxed); }

void Thread::daemon(bool daemonic) {
  if (state_.load(std::memory_order_acquire) != kInitial) {
    throw RuntimeError("cannot set daemon status of active thread");
  }
  daemon_.store(daemonic, std::memory_order_relaxed);
}

std::optional<ident_t> Thread::ident() const noexcept {
  ident_t id = ident_.load(std::memory_order_acquire);
  if (id == 0) return std::nullopt;
  return id;
}

std::optional<native_id_t> Thread::native_id() const noexcept {
  native_id_t id = native_id_.load(std::memory_order_acquire);
  if (id > 0) [[likely]] {
    return id;
  }
  // start() publishes the kernel id when it can read it without waiting (see
  // os::kernel_id_of); else the new thread does, first thing, and whoever asks
  // before then waits here.
  // (Once ident() has a value, so does native_id(), even inside start().)
  if (kind_ != Kind::kNormal || ident_.load(std::memory_order_acquire) == 0 ||
      fork_generation_ != detail::g_fork_generation.load(std::memory_order_relaxed)) {
    return std::nullopt;  // no OS thread yet, or one made by the parent of a fork
  }
  for (int i = 0; i < 64; ++i) {
    id = native_id_.load(std::memory_order_acquire);
    if (id > 0) return id;
    sched_yield();
  }
  native_id_t none = 0;
  native_id_.compare_exchange_strong(none, kNativeIdWaited, std::memory_order_acq_rel);
  auto waiting = [this] { return native_id_.load(std::memory_order_acquire) == kNativeIdWaited; };
  while (waiting()) pl::park(&native_id_, waiting, nullptr);
  return native_id_.load(std::memory_order_acquire);
}

std::string Thread::repr() const {
  std::string cls;
  if (kind_ == Kind::kMain) {
    cls = "_MainThread";
  } else if (kind_ == Kind::kDummy) {
    cls = "_DummyThread";
  } else {
    cls = detail::demangle(typeid(*this).name());
    if (cls.rfind("threading::", 0) == 0) cls.erase(0, 11);
  }
  std::uint32_t s = state_.load(std::memory_order_acquire);
  std::string out = "<" + cls + "(" + name() + ", ";
  out += s == kStopped ? "stopped" : s == kStarted ? "started" : "initial";
  if (daemon()) out += " daemon";
  if (auto id = ident()) out += " " + std::to_string(*id);
  return out + ")>";
}

}  // namespace threading
