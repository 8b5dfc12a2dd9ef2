// Thread, main and dummy threads, the module functions, process exit and fork.
//
// Design (see ANCHORS §5): a process-wide registry (CPython's _active and
// _limbo) holds a shared_ptr to every alive Thread; a started thread also
// holds its own reference until run() returns. Liveness is one atomic state
// word that timed joiners park on (the parking core); the OS thread itself is
// reaped once, by the first joiner that gets there (or detached by
// ~Thread), as CPython 3.13's _ThreadHandle does. An untimed join goes
// straight to pthread_join, and start() never waits for the new thread: it
// knows the ident (the pthread_t) and makes the thread alive and active
// itself; only native_id() may have to wait for the thread to publish it.
//
// Everything global here is immortal: constant-initialised trivially
// destructible objects, or heap objects that are never freed. Daemon threads
// keep running while exit() destroys static objects, and must never touch a
// destroyed one.
#include "threading/thread.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <mutex>  // std::lock_guard only
#include <new>

#include "fatal.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"

namespace threading {
namespace detail {

namespace {

namespace pl = parking_lot;

constexpr std::size_t kNameLocks = 16;
constexpr long long kMinStackSize = 32768;  // CPython's THREAD_STACK_MIN

// Guards Thread::name_ (striped by address: a per-object Lock would have to
// be reset in every Thread object after fork, and we cannot find them all).
constinit Lock g_name_locks[kNameLocks];
constinit std::atomic<std::uint64_t> g_name_counter{0};  // Thread-N and Dummy-N
constinit std::atomic<std::size_t> g_stack_size{0};
constinit std::atomic<std::uint64_t> g_fork_generation{0};
constinit std::atomic<bool> g_atexit_registered{false};
// Set by abandon_exit_wait(): _shutdown() returns at once.
constinit std::atomic<bool> g_exit_wait_abandoned{false};
// Threads between start()'s registration and the end of their own start-up
// (changed under the registry lock going up). fork() waits for none to be
// left, so a fork never catches a new thread inside its C library or
// sanitizer start-up code, as when start() waited for the thread to run.
constinit std::atomic<std::uint32_t> g_starting{0};

constinit thread_local Thread* tls_current = nullptr;
constinit thread_local native_id_t tls_tid = 0;

native_id_t sys_gettid() noexcept { return static_cast<native_id_t>(syscall(SYS_gettid)); }

// A thread's kernel id without a system call (one costs ~1 us on some VMs),
// from its CPU-time clock id, which encodes it (the kernel's ABI for such
// clocks: ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED, as glibc's
// and musl's pthread_getcpuclockid build it). Used only once the library has
// checked the encoding on its loading thread. 0 when unknown: the check
// failed, or the thread has exited (the kernel clears its tid then).
constinit std::atomic<bool> g_tid_from_clock{false};
native_id_t decode_tid(pthread_t t) noexcept {
  clockid_t c;
  if (pthread_getcpuclockid(t, &c) != 0 || (c & 7) != 6) return 0;
  native_id_t tid = ~static_cast<native_id_t>(c >> 3);
  return tid > 0 ? tid : 0;
}
native_id_t fast_tid(pthread_t t) noexcept {
  return g_tid_from_clock.load(std::memory_order_relaxed) ? decode_tid(t) : 0;
}
void check_fast_tid() noexcept {
  native_id_t tid = sys_gettid();
  g_tid_from_clock.store(decode_tid(pthread_self()) == tid, std::memory_order_relaxed);
}
bool on_initial_thread() noexcept { return sys_gettid() == static_cast<native_id_t>(getpid()); }

Lock& name_lock(const void* t) {
  return g_name_locks[(reinterpret_cast<std::uintptr_t>(t) >> 6) % kNameLocks];
}

std::string next_name(const char* prefix) {
  return prefix + std::to_string(g_name_counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

// The OS copy of a name: at most 15 bytes, not cutting a UTF-8 sequence.
void set_os_name(const std::string& name) {
  std::size_t n = name.size() < 15 ? name.size() : 15;
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  pthread_setname_np(pthread_self(), name.substr(0, n).c_str());
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || s == nullptr) return mangled;
  std::string out(s);
  std::free(s);
  return out;
}

// "TYPE: what()" (or just "TYPE") for the report.
std::string describe(const std::type_info* type, const std::exception_ptr& value) {
  std::string out = type != nullptr ? demangle(type->name()) : "unknown exception";
  std::string what;
  if (value) {
    try {
      std::rethrow_exception(value);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  if (!what.empty()) out += ": " + what;
  return out + "\n";
}

void write_stderr(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

// CPython's rules for a thread stack size (threading.stack_size(n)): 0, or at
// least 32768 and accepted by the platform.
void check_stack_size(long long size) {
  if (size < 0) throw ValueError("size must be 0 or a positive value");
  if (size == 0) return;
  bool ok = size >= kMinStackSize;
  if (ok) {  // as CPython: ask the platform whether it would accept it
    pthread_attr_t attr;
    ok = pthread_attr_init(&attr) == 0;
    if (ok) {
      ok = pthread_attr_setstacksize(&attr, static_cast<std::size_t>(size)) == 0;
      pthread_attr_destroy(&attr);
    }
  }
  if (!ok) throw ValueError("size not valid: " + std::to_string(size) + " bytes");
}

// Makes room for `extra` more elements, growing geometrically (reserve() on
// its own would grow by exactly what is asked, quadratic over many calls).
template <class V>
void make_room(V& v, std::size_t extra) {
  std::size_t need = v.size() + extra;
  if (v.capacity() < need) v.reserve(need > 2 * v.capacity() ? need : 2 * v.capacity());
}

template <class V, class T>
std::shared_ptr<Thread> take_from(V& v, const T* t) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->get() == t) {
      std::shared_ptr<Thread> out = std::move(*it);
      v.erase(it);
      return out;
    }
  }
  return nullptr;
}

}  // namespace

// Friend of Thread: the registry and every internal that needs its privates.
struct ThreadAccess {
  using Kind = Thread::Kind;

  struct Runtime {
    Lock lock;  // guards active, limbo, main, fork_survivor
    // Invariant: active.capacity() >= active.size() + limbo.size(), so moving
    // a thread from limbo to active (after its pthread_create) never
    // allocates, and cannot fail: every push makes room first (make_room).
    std::vector<std::shared_ptr<Thread>> active;  // main first, in activation order
    std::vector<std::shared_ptr<Thread>> limbo;   // inside start()
    std::shared_ptr<Thread> main;
    std::vector<std::shared_ptr<Thread>> zombies;  // parent-process threads, after fork
    // From prepare_fork to the fork's other handler: the forking thread's
    // Thread, made in advance if it has none (the child must not allocate).
    std::shared_ptr<Thread> fork_survivor;
    Lock hooks_lock;  // guards the three hooks
    TraceFunction trace;
    TraceFunction profile;
    ExceptHook hook;  // empty = default_excepthook
    pthread_key_t dummy_key{};

    Runtime() {
      main.reset(new Thread(Kind::kMain, "MainThread", false));
      if (on_initial_thread()) bind_main(*main);
      active.push_back(main);
      // Without these, dummies would never leave enumerate() and a fork child
      // would inherit locks held by vanished threads: no correct way on.
      if (int rc = pthread_key_create(&dummy_key, &reap_dummy); rc != 0) {
        fatal_os_error("pthread_key_create", rc);
      }
      if (int rc = pthread_atfork(&prepare_fork, &parent_after_fork, &child_after_fork); rc != 0) {
        fatal_os_error("pthread_atfork", rc);
      }
    }
  };

  // Never destroyed (see the file comment).
  static Runtime& rt() {
    static Runtime* const r = new Runtime;
    return *r;
  }

  static void bind_main(Thread& m) {
    m.ident_.store(get_ident(), std::memory_order_release);
    m.native_id_.store(get_native_id(), std::memory_order_release);
  }

  // As Python's Thread.__init__: current_thread().daemon, so a foreign
  // thread gets its dummy here.
  static bool current_daemon() {
    if (Thread* t = tls_current) return t->daemon();
    return current_slow()->daemon();
  }

  static bool is_main(Thread& m) {
    ident_t id = m.ident_.load(std::memory_order_acquire);
    if (id == get_ident()) return true;
    // The library was first touched from another thread of a process whose
    // initial thread had not run our load-time constructor (dlopen).
    if (id == 0 && on_initial_thread()) {
      ident_t expected = 0;
      if (m.ident_.compare_exchange_strong(expected, get_ident())) {
        m.native_id_.store(get_native_id(), std::memory_order_release);
      }
      return m.ident_.load() == get_ident();
    }
    return false;
  }

  static std::shared_ptr<Thread> current_slow() {
    Runtime& r = rt();
    if (is_main(*r.main)) {
      tls_current = r.main.get();
      return r.main;
    }
    std::shared_ptr<Thread> d(new Thread(Kind::kDummy, next_name("Dummy-"), true));
    d->ident_.store(get_ident(), std::memory_order_relaxed);
    d->native_id_.store(get_native_id(), std::memory_order_relaxed);
    // All or nothing: the key's value (which reaps the dummy at thread exit),
    // then the listing; a failure undoes the first and throws.
    if (pthread_setspecific(r.dummy_key, d.get()) != 0) throw std::bad_alloc();
    try {
      std::lock_guard g(r.lock);
      make_room(r.active, r.limbo.size() + 1);  // keeps the invariant
      r.active.push_back(d);
    } catch (...) {
      pthread_setspecific(r.dummy_key, nullptr);
      throw;
    }
    tls_current = d.get();
    return d;
  }

  // pthread key destructor: a foreign thread that had a dummy is exiting.
  static void reap_dummy(void* p) {
    auto* d = static_cast<Thread*>(p);
    Runtime& r = rt();
    std::shared_ptr<Thread> removed;
    {
      std::lock_guard g(r.lock);
      removed = take_from(r.active, d);
      d->state_.store(Thread::kStopped, std::memory_order_release);
    }
    if (tls_current == d) tls_current = nullptr;
    pl::unpark_all(&d->state_);
  }

  static void mark_stopped(Thread& t) {
    Runtime& r = rt();
    std::shared_ptr<Thread> removed;
    {
      std::lock_guard g(r.lock);
      removed = take_from(r.active, &t);
      // A thread that ends before its start() has listed it as active.
      if (!removed) removed = take_from(r.limbo, &t);
      t.state_.store(Thread::kStopped, std::memory_order_release);
    }
    pl::unpark_all(&t.state_);
  }

  static void report(const std::shared_ptr<Thread>& thread) {  // inside a catch block
    ExceptHookArgs args{abi::__cxa_current_exception_type(), std::current_exception(), thread};
    try {
      excepthook(args);
    } catch (...) {
      if (abi::__cxa_current_exception_type() == nullptr) throw;  // pthread_exit's unwind
      write_stderr("Exception in threading.excepthook:\n" +
                   describe(abi::__cxa_current_exception_type(), std::current_exception()));
    }
  }

  // The Thread of the calling thread if it has one in the registry (a thread
  // past its run(), or a foreign one without a dummy, has none).
  static std::shared_ptr<Thread> registered_current(Runtime& r) {
    Thread* cur = tls_current;
    if (cur == nullptr && r.main->ident_.load() == get_ident()) cur = r.main.get();
    if (cur == nullptr) return nullptr;
    if (r.main.get() == cur) return r.main;
    for (auto* v : {&r.active, &r.limbo}) {
      for (auto& t : *v) {
        if (t.get() == cur) return t;
      }
    }
    return nullptr;
  }

  // fork: hold every internal lock across fork() so the child gets them in a
  // consistent state, then re-create them in the child, where their holders
  // (other threads) no longer exist. Everything the child's bookkeeping needs
  // is allocated here, in the parent: the child of a multi-threaded fork may
  // only do async-signal-safe work (an allocator lock may be held by a
  // thread that no longer exists there).
  static void prepare_fork() {
    Runtime& r = rt();
    // The exit waiter the child will arm (a thread_local's first use registers
    // its destructor, which allocates); unarmed it does nothing.
    (void)exit_waiter();
    r.lock.acquire();
    // Start-ups take no internal lock and are short: poll them out.
    for (int i = 0; g_starting.load(std::memory_order_acquire) != 0; ++i) {
      r.lock.release();
      if (i < 100) {
        sched_yield();
      } else {
        timespec pause{0, 50000};
        nanosleep(&pause, nullptr);
      }
      r.lock.acquire();
    }
    // fork() cannot report an exception from here: out of memory, the child
    // makes do with what exists (see child_after_fork).
    try {
      r.zombies.reserve(r.zombies.size() + r.active.size() + r.limbo.size() + 1);
    } catch (...) {
    }
    r.fork_survivor = registered_current(r);
    if (!r.fork_survivor) {
      try {
        r.fork_survivor.reset(new Thread(Kind::kMain, "MainThread", false));
      } catch (...) {
      }
    }
    r.hooks_lock.acquire();
    for (Lock& l : g_name_locks) l.acquire();
  }
  static void parent_after_fork() {
    Runtime& r = rt();
    std::shared_ptr<Thread> unused = std::move(r.fork_survivor);
    for (Lock& l : g_name_locks) l.release();
    r.hooks_lock.release();
    r.lock.release();
  }  // a Thread made for the child dies here, outside the locks
  // Async-signal-safe: stores, placement-new of trivially destructible
  // locks, and moves of shared_ptrs none of which is the last reference.
  static void child_after_fork() {
    Runtime& r = rt();
    for (Lock& l : g_name_locks) new (&l) Lock;
    new (&r.hooks_lock) Lock;
    new (&r.lock) Lock;
    g_fork_generation.fetch_add(1, std::memory_order_relaxed);
    g_starting.store(0, std::memory_order_relaxed);
    tls_tid = sys_gettid();

    std::shared_ptr<Thread> survivor = std::move(r.fork_survivor);
    // Out of memory in prepare_fork: the old main object (the child's own
    // copy) stands for the forking thread.
    if (!survivor) survivor = r.main;
    bool room = r.zombies.capacity() >= r.zombies.size() + r.active.size() + r.limbo.size() + 1;
    auto bury = [&](std::shared_ptr<Thread>& t) {
      if (!t || t == survivor) return;
      // Its OS thread does not exist here: stopped, and nothing to reap.
      t->state_.store(Thread::kStopped, std::memory_order_relaxed);
      t->os_join_.store(Thread::kJoined, std::memory_order_relaxed);
      // Never destroyed from inside a fork handler: kept for good, or (no
      // room: out of memory in prepare_fork) its reference is leaked by
      // overwriting the pointer without destroying it.
      if (room) {
        r.zombies.push_back(t);
      } else {
        new (&t) std::shared_ptr<Thread>();
      }
    };
    for (auto& t : r.active) bury(t);
    for (auto& t : r.limbo) bury(t);
    bury(r.main);
    survivor->ident_.store(get_ident(), std::memory_order_relaxed);
    survivor->native_id_.store(tls_tid, std::memory_order_relaxed);
    survivor->state_.store(Thread::kStarted, std::memory_order_relaxed);
    r.active.clear();
    r.limbo.clear();
    r.active.push_back(survivor);
    r.main = survivor;
    tls_current = survivor.get();
    exit_waiter().armed = true;  // the forking thread is the child's main thread
  }

  // Destroyed by glibc at the start of exit() in the thread that calls it,
  // before any atexit handler or static destructor. Armed only in the
  // process's main thread.
  struct ExitWaiter {
    bool armed = false;
    ~ExitWaiter() {
      if (!armed) return;
      try {
        _shutdown();
      } catch (...) {
      }
    }
  };
  static ExitWaiter& exit_waiter() {
    thread_local ExitWaiter waiter;
    return waiter;
  }
  static void plant_exit_waiter() { exit_waiter().armed = true; }
  static void shutdown_at_exit() {
    try {
      _shutdown();
    } catch (...) {
    }
  }

  static void shutdown() {
    // Acquire: pairs with abandon_exit_wait()'s release (a flag, no data).
    if (g_exit_wait_abandoned.load(std::memory_order_acquire)) return;
    Runtime& r = rt();
    Thread& m = *r.main;
    if (m.kind_ == Kind::kMain && is_main(m) &&
        m.state_.load(std::memory_order_acquire) == Thread::kStarted) {
      mark_stopped(m);
    }
    for (;;) {
      std::shared_ptr<Thread> next;
      {
        std::lock_guard g(r.lock);
        for (auto* v : {&r.limbo, &r.active}) {
          for (auto& t : *v) {
            if (t->kind_ == Kind::kNormal && !t->daemon() && t.get() != tls_current) {
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
};

}  // namespace detail

using detail::ThreadAccess;
using detail::tls_current;
namespace pl = detail::parking_lot;

namespace {
// Runs in the initial thread when the library is loaded: creates the main
// Thread with the right identity and plants the exit-time waiter.
__attribute__((constructor)) void pythreading_on_load() {
  detail::check_fast_tid();
  ThreadAccess::rt();
  if (detail::on_initial_thread()) ThreadAccess::plant_exit_waiter();
}
}  // namespace

// --- Thread -----------------------------------------------------------------

Thread::Thread() : Thread(std::unique_ptr<detail::Task>()) {}

Thread::Thread(std::unique_ptr<detail::Task> target)
    : target_(std::move(target)), name_(detail::next_name("Thread-")) {
  daemon_.store(ThreadAccess::current_daemon(), std::memory_order_relaxed);
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
  daemon_.store(options.daemon ? *options.daemon : ThreadAccess::current_daemon(),
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
    pthread_detach(handle());
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
  auto& r = ThreadAccess::rt();
  // Strong guarantee: everything that can throw happens before
  // pthread_create, and each failure puts the object back as it was.
  auto undo = [&] {
    self_ref_.reset();
    std::shared_ptr<Thread> removed;
    {
      std::lock_guard g(r.lock);
      removed = detail::take_from(r.limbo, this);
      state_.store(kInitial, std::memory_order_release);
      if (removed) detail::g_starting.fetch_sub(1, std::memory_order_release);
    }
    pl::unpark_all(&state_);  // shutdown() may be waiting on a thread in limbo
  };
  try {
    std::lock_guard g(r.lock);
    // Room in active for the move below, which must not fail (see Runtime).
    detail::make_room(r.active, r.limbo.size() + 1);
    r.limbo.push_back(self);
    detail::g_starting.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    undo();
    throw;
  }
  if (!detail::g_atexit_registered.exchange(true)) std::atexit(&ThreadAccess::shutdown_at_exit);
  std::size_t size =
      stack_size_ != 0 ? stack_size_ : detail::g_stack_size.load(std::memory_order_relaxed);
  self_ref_ = self;
  fork_generation_ = detail::g_fork_generation.load(std::memory_order_relaxed);
  // Nobody may reap the new thread until we are done with its pthread_t
  // (reading its kernel id through it below).
  os_join_.store(kStartHolds, std::memory_order_relaxed);

  pthread_attr_t attr;
  pthread_t tid{};
  int rc = pthread_attr_init(&attr);
  if (rc == 0) {
    if (size != 0) rc = pthread_attr_setstacksize(&attr, size);
    if (rc == 0) rc = pthread_create(&tid, &attr, &Thread::bootstrap, this);
    pthread_attr_destroy(&attr);
  }
  if (rc != 0) {
    undo();
    throw RuntimeError("can't start new thread");
  }
  // From here nothing throws. No waiting for the new thread (THR-S2): its
  // ident is the pthread_t we already have, its native_id() waits for it in
  // the rare case someone asks before it has run, and it becomes alive and
  // active here unless it has already finished (it does both itself too,
  // before run()).
  ident_.store(static_cast<ident_t>(tid), std::memory_order_release);
  // Safe: the thread cannot have been reaped (kStartHolds), so `tid` still
  // names it, not a later thread reusing its memory.
  if (native_id_t nid = detail::fast_tid(tid); nid > 0) publish_native_id(nid);
  // Synchronises with the acquire loads in os_join(): a joiner that sees
  // kNotJoined may now reap it.
  os_join_.store(kNotJoined, std::memory_order_release);
  pl::unpark_all(&os_join_);
  {
    std::lock_guard g(r.lock);
    if (std::shared_ptr<Thread> me = detail::take_from(r.limbo, this)) {
      r.active.push_back(std::move(me));  // within the capacity made above
    }
    std::uint32_t starting = kStarting;
    state_.compare_exchange_strong(starting, kStarted, std::memory_order_acq_rel);
  }
}

void* Thread::bootstrap(void* self) {
  static_cast<Thread*>(self)->bootstrap_inner();
  return nullptr;
}

void Thread::bootstrap_inner() {
  std::shared_ptr<Thread> self = std::move(self_ref_);
  tls_current = this;
  detail::tls_tid = detail::fast_tid(pthread_self());
  if (detail::tls_tid <= 0) detail::tls_tid = detail::sys_gettid();
  // As start() does (same values), so whichever gets there first publishes.
  ident_.store(get_ident(), std::memory_order_release);
  publish_native_id(detail::tls_tid);
  // Alive from just before run(), even if start() has not got that far yet
  // (start() lists it as active; until then it is enumerated from limbo).
  std::uint32_t starting = kStarting;
  state_.compare_exchange_strong(starting, kStarted, std::memory_order_acq_rel);
  detail::set_os_name(name());
  detail::g_starting.fetch_sub(1, std::memory_order_release);  // start-up done
  auto& r = ThreadAccess::rt();

  // Runs when run() ends, however it ends (pthread_exit unwinds through here).
  struct Finish {
    Thread* t;
    ~Finish() {
      tls_current = nullptr;
      ThreadAccess::mark_stopped(*t);
    }
  } finish{this};
  try {
    TraceFunction trace, profile;
    {
      std::lock_guard g(r.hooks_lock);
      trace = r.trace;
      profile = r.profile;
    }
    if (trace) trace();
    if (profile) profile();
    run();
  } catch (...) {
    // pthread_exit/cancellation unwinds with a foreign exception that has no
    // C++ type (catching abi::__forced_unwind& by name trips UBSan): let it go.
    if (abi::__cxa_current_exception_type() == nullptr) throw;
    ThreadAccess::report(self);
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

namespace detail {
namespace {
// pthread_join with a deadline on the monotonic clock (the parking core's).
// (ThreadSanitizer does not intercept pthread_clockjoin_np, and would take a
// thread joined through it for one still running.)
int join_until(pthread_t t, const Deadline& deadline) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 31)) && \
    !defined(__SANITIZE_THREAD__)
  std::int64_t ns = deadline.ns > 0 ? deadline.ns : 0;
  timespec abs{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  return pthread_clockjoin_np(t, nullptr, CLOCK_MONOTONIC, &abs);
#else
  // Only a wall-clock deadline is available: convert the time left, saturating.
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  std::int64_t left = deadline.remaining_ns();
  std::int64_t sec = left / 1000000000;
  long nsec = now.tv_nsec + static_cast<long>(left % 1000000000);
  if (nsec >= 1000000000) {
    nsec -= 1000000000;
    ++sec;
  }
  constexpr std::int64_t kMaxSec = std::numeric_limits<time_t>::max();
  timespec abs{static_cast<time_t>(sec > kMaxSec - now.tv_sec ? kMaxSec : now.tv_sec + sec), nsec};
  return pthread_timedjoin_np(t, nullptr, &abs);
#endif
}
}  // namespace
}  // namespace detail

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
      int rc = deadline == nullptr ? pthread_join(handle(), nullptr)
                                   : detail::join_until(handle(), *deadline);
      if (rc != ETIMEDOUT) settle.outcome = kJoined;
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
    // Straight to pthread_join (one sleep, as std::thread::join): the OS
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
  if (kind_ == Kind::kNormal && tls_current == this) detail::set_os_name(os_copy);
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
  // fast_tid); else the new thread does, first thing, and whoever asks
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

// --- module functions ---------------------------------------------------------

std::size_t active_count() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.lock);
  return r.active.size() + r.limbo.size();
}

std::shared_ptr<Thread> current_thread() {
  if (Thread* t = tls_current) [[likely]] {
    return t->shared_from_this();
  }
  return ThreadAccess::current_slow();
}

std::shared_ptr<Thread> main_thread() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.lock);
  return r.main;
}

std::vector<std::shared_ptr<Thread>> enumerate() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.lock);
  std::vector<std::shared_ptr<Thread>> out;
  out.reserve(r.active.size() + r.limbo.size());
  out.insert(out.end(), r.active.begin(), r.active.end());
  out.insert(out.end(), r.limbo.begin(), r.limbo.end());
  return out;
}

native_id_t get_native_id() noexcept {
  if (detail::tls_tid == 0) detail::tls_tid = detail::sys_gettid();
  return detail::tls_tid;
}

std::size_t stack_size() { return detail::g_stack_size.exchange(0); }

std::size_t stack_size(long long size) {
  detail::check_stack_size(size);
  return detail::g_stack_size.exchange(static_cast<std::size_t>(size));
}

void settrace(TraceFunction func) {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.hooks_lock);
  std::swap(r.trace, func);
}  // the old hook dies here, outside the lock

void setprofile(TraceFunction func) {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.hooks_lock);
  std::swap(r.profile, func);
}

TraceFunction gettrace() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.hooks_lock);
  return r.trace;
}

TraceFunction getprofile() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.hooks_lock);
  return r.profile;
}

ExceptHook excepthook() {
  auto& r = ThreadAccess::rt();
  std::lock_guard g(r.hooks_lock);
  if (r.hook) return r.hook;
  return &default_excepthook;
}

ExceptHook excepthook(ExceptHook hook) {
  auto& r = ThreadAccess::rt();
  ExceptHook old;
  {
    std::lock_guard g(r.hooks_lock);
    std::swap(r.hook, hook);
    old = std::move(hook);
  }
  if (!old) old = &default_excepthook;
  return old;
}

void excepthook(const ExceptHookArgs& args) { excepthook()(args); }

void default_excepthook(const ExceptHookArgs& args) {
  std::string who = args.thread ? args.thread->name() : std::to_string(get_ident());
  detail::write_stderr("Exception in thread " + who + ":\n" +
                       detail::describe(args.exc_type, args.exc_value));
}

void _shutdown() { ThreadAccess::shutdown(); }

void abandon_exit_wait() noexcept {
  detail::g_exit_wait_abandoned.store(true, std::memory_order_release);
}

}  // namespace threading
