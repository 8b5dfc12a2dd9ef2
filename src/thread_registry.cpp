// The registry of alive threads: main, started and dummy Threads, start()'s
// listing steps, dummy reaping at thread exit, and the fork handlers that
// keep it all consistent across fork(). (Invariants: thread_registry.hpp.)
#include "thread_registry.hpp"

#include <sched.h>

#include <ctime>
#include <mutex>  // std::lock_guard only
#include <new>

#include "fatal.hpp"
#include "os/os_thread.hpp"
#include "threading/detail/parking_lot.hpp"

namespace threading::detail {

constinit std::atomic<std::uint32_t> g_starting{0};
constinit std::atomic<std::uint64_t> g_fork_generation{0};

namespace {

namespace pl = parking_lot;

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

ThreadRegistry::ThreadRegistry() {
  main.reset(new Thread(Thread::Kind::kMain, "MainThread", false));
  if (os::on_initial_thread()) bind_main(*main);
  active.push_back(main);
  // Without these, dummies would never leave enumerate() and a fork child
  // would inherit locks held by vanished threads: no correct way on.
  if (int rc = pthread_key_create(&dummy_key_, &reap_dummy); rc != 0) {
    fatal_os_error("pthread_key_create", rc);
  }
  if (int rc = pthread_atfork(&prepare_fork, &parent_after_fork, &child_after_fork); rc != 0) {
    fatal_os_error("pthread_atfork", rc);
  }
}

ThreadRegistry& ThreadRegistry::get() {
  static ThreadRegistry* const r = new ThreadRegistry;  // never destroyed (see the header)
  return *r;
}

void ThreadRegistry::bind_main(Thread& m) {
  m.ident_.store(get_ident(), std::memory_order_release);
  m.native_id_.store(get_native_id(), std::memory_order_release);
}

// --- start() ------------------------------------------------------------------

void ThreadRegistry::enter_limbo(const std::shared_ptr<Thread>& t) {
  ThreadRegistry& r = get();
  std::lock_guard g(r.lock);
  // Room in active for leave_limbo_started's move, which must not fail.
  make_room(r.active, r.limbo.size() + 1);
  r.limbo.push_back(t);
  g_starting.fetch_add(1, std::memory_order_relaxed);
}

void ThreadRegistry::leave_limbo_failed(Thread& t) {
  ThreadRegistry& r = get();
  std::shared_ptr<Thread> removed;
  {
    std::lock_guard g(r.lock);
    removed = take_from(r.limbo, &t);
    t.state_.store(Thread::kInitial, std::memory_order_release);
    if (removed) g_starting.fetch_sub(1, std::memory_order_release);
  }
  pl::unpark_all(&t.state_);  // the exit wait may be waiting on a thread in limbo
}

void ThreadRegistry::leave_limbo_started(Thread& t) {
  ThreadRegistry& r = get();
  std::lock_guard g(r.lock);
  if (std::shared_ptr<Thread> me = take_from(r.limbo, &t)) {
    r.active.push_back(std::move(me));  // within the capacity enter_limbo made
  }
  std::uint32_t starting = Thread::kStarting;
  t.state_.compare_exchange_strong(starting, Thread::kStarted, std::memory_order_acq_rel);
}

void ThreadRegistry::startup_done() noexcept {
  // Release: pairs with prepare_fork's acquire poll.
  g_starting.fetch_sub(1, std::memory_order_release);
}

// --- the calling thread ---------------------------------------------------------

// As Python's Thread.__init__: current_thread().daemon, so a foreign thread
// gets its dummy here.
bool ThreadRegistry::current_daemon() {
  if (Thread* t = tls_current) return t->daemon();
  return current_slow()->daemon();
}

bool ThreadRegistry::is_main(Thread& m) {
  ident_t id = m.ident_.load(std::memory_order_acquire);
  if (id == get_ident()) return true;
  // The library was first touched from another thread of a process whose
  // initial thread had not run our load-time constructor (dlopen).
  if (id == 0 && os::on_initial_thread()) {
    ident_t expected = 0;
    if (m.ident_.compare_exchange_strong(expected, get_ident())) {
      m.native_id_.store(get_native_id(), std::memory_order_release);
    }
    return m.ident_.load() == get_ident();
  }
  return false;
}

std::shared_ptr<Thread> ThreadRegistry::current_slow() {
  ThreadRegistry& r = get();
  if (is_main(*r.main)) {
    tls_current = r.main.get();
    return r.main;
  }
  std::shared_ptr<Thread> d(new Thread(Thread::Kind::kDummy, next_name("Dummy-"), true));
  d->ident_.store(get_ident(), std::memory_order_relaxed);
  d->native_id_.store(get_native_id(), std::memory_order_relaxed);
  // All or nothing: the key's value (which reaps the dummy at thread exit),
  // then the listing; a failure undoes the first and throws.
  if (pthread_setspecific(r.dummy_key_, d.get()) != 0) throw std::bad_alloc();
  try {
    std::lock_guard g(r.lock);
    make_room(r.active, r.limbo.size() + 1);  // keeps the invariant
    r.active.push_back(d);
  } catch (...) {
    pthread_setspecific(r.dummy_key_, nullptr);
    throw;
  }
  tls_current = d.get();
  return d;
}

// The thread-exit key's destructor: a foreign thread that had a dummy is exiting.
void ThreadRegistry::reap_dummy(void* p) {
  auto* d = static_cast<Thread*>(p);
  ThreadRegistry& r = get();
  std::shared_ptr<Thread> removed;
  {
    std::lock_guard g(r.lock);
    removed = take_from(r.active, d);
    d->state_.store(Thread::kStopped, std::memory_order_release);
  }
  if (tls_current == d) tls_current = nullptr;
  pl::unpark_all(&d->state_);
}

void ThreadRegistry::mark_stopped(Thread& t) {
  ThreadRegistry& r = get();
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

// The Thread of the calling thread if it has one in the registry (a thread
// past its run(), or a foreign one without a dummy, has none). Under `lock`.
std::shared_ptr<Thread> ThreadRegistry::registered_current() {
  Thread* cur = tls_current;
  if (cur == nullptr && main->ident_.load() == get_ident()) cur = main.get();
  if (cur == nullptr) return nullptr;
  if (main.get() == cur) return main;
  for (auto* v : {&active, &limbo}) {
    for (auto& t : *v) {
      if (t.get() == cur) return t;
    }
  }
  return nullptr;
}

// --- fork -----------------------------------------------------------------------
//
// Hold every internal lock across fork() so the child gets them in a
// consistent state, then re-create them in the child, where their holders
// (other threads) no longer exist. Everything the child's bookkeeping needs
// is allocated here, in the parent: the child of a multi-threaded fork may
// only do async-signal-safe work (an allocator lock may be held by a thread
// that no longer exists there).

void ThreadRegistry::prepare_fork() {
  ThreadRegistry& r = get();
  // The exit waiter the child will arm (a thread_local's first use registers
  // its destructor, which allocates); unarmed it does nothing.
  ExitWait::make_waiter();
  r.lock.acquire();
  // Start-ups take no internal lock and are short: poll them out.
  // Acquire: pairs with startup_done()'s release.
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
  r.fork_survivor = r.registered_current();
  if (!r.fork_survivor) {
    try {
      r.fork_survivor.reset(new Thread(Thread::Kind::kMain, "MainThread", false));
    } catch (...) {
    }
  }
  hooks_lock().acquire();
  for (Lock& l : g_name_locks) l.acquire();
}

void ThreadRegistry::parent_after_fork() {
  ThreadRegistry& r = get();
  std::shared_ptr<Thread> unused = std::move(r.fork_survivor);
  for (Lock& l : g_name_locks) l.release();
  hooks_lock().release();
  r.lock.release();
}  // a Thread made for the child dies here, outside the locks

// Async-signal-safe: stores, placement-new of trivially destructible locks,
// and moves of shared_ptrs none of which is the last reference.
void ThreadRegistry::child_after_fork() {
  ThreadRegistry& r = get();
  for (Lock& l : g_name_locks) new (&l) Lock;
  new (&hooks_lock()) Lock;
  new (&r.lock) Lock;
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  g_starting.store(0, std::memory_order_relaxed);
  tls_tid = os::current_kernel_id();

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
  ExitWait::arm_waiter();  // the forking thread is the child's main thread
}

namespace {
// Runs in the initial thread when the library is loaded: makes the main
// Thread with the right identity (and the hooks, so no thread is ever caught
// making them by a fork) and plants the exit-time waiter.
__attribute__((constructor)) void pythreading_on_load() {
  os::init_kernel_id_of();
  ThreadRegistry::get();
  (void)hooks_lock();
  if (os::on_initial_thread()) ExitWait::arm_waiter();
}
}  // namespace

}  // namespace threading::detail
