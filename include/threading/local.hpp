// threading::local<T> — Python's threading.local: one T per thread.
//
// clang-format off
//   Python                                   C++
//   data = threading.local()                 threading::local<Data> data;
//   data = L(a, b)  (L(local): __init__      threading::local<Data> data(a, b);  // Data(a, b)
//                    runs in each thread)                                          // per thread
//   data.x = 1   (in this thread only)       data->x = 1;  data.get().x = 1;  (*data).x = 1;
// clang-format on
//
// Contract:
//   * Each thread that touches the object gets its own T, built on its first
//     access from copies of the constructor's arguments (Python's subclass
//     __init__ re-run per thread). If that constructor throws, the access
//     throws and the next access tries again. Threads that never touch it
//     never build one.
//   * Thread exit: a thread's values are destroyed, by that thread, when it
//     exits (after its C++ thread_local objects, from a pthread key
//     destructor), one at a time, so a T's destructor may use or create
//     values of any local, which are destroyed in turn. A thread whose
//     destructors keep creating values for more than
//     PTHREAD_DESTRUCTOR_ITERATIONS passes (or create them after the OS's
//     last destructor round) still exits; the values it still holds are left
//     to their locals, which destroy them when they die (never, if they live
//     forever). The registry never keeps a pointer into a thread's stack or
//     TLS, so nothing an exited thread leaves behind can be corrupted or
//     reused.
//   * Destroying the local: ~local destroys every other thread's value
//     itself, in the calling thread, even while those threads still run (they
//     must not use this local any more, as for any object being destroyed),
//     and waits for any value an exiting thread is destroying at that moment.
//     Nothing leaks.
//   * Nesting: a T's destructor may destroy other locals, including ones the
//     same thread has values in (Python's `tl.inner = local()`): at thread
//     exit, whichever of the two values goes first, neither is waited for by
//     its own thread. At thread exit a value may even destroy the local it
//     belongs to. get() while the local is being destroyed, or from a T's
//     constructor for the same local, is undefined.
//   * fork(): in the child only the forking thread's values remain reachable.
//     The other threads' values are leaked, never destroyed: their owners
//     vanished, perhaps in the middle of using them (a C++ child cannot know
//     their state; CPython's child does run their finalisers). Every local
//     works in the child, in any thread.
//   * The main thread's values are not destroyed at process exit (threads do
//     not "exit" then), so they stay usable from destructors run at exit.
//   * Works in any thread: main, Thread, or foreign (no dummy is made).
//   * If the OS refuses the registry's pthread key or fork handlers, the
//     process stops with a fatal error naming the call and errno (as
//     CPython's Py_FatalError); a thread whose first value cannot be
//     registered for exit (pthread_setspecific: ENOMEM) gets std::bad_alloc.
//
// Cost: get() on a thread that already has its value is a TLS load, a bounds
// check and an indexed load (about a nanosecond; see the README). Ids are
// recycled only once every thread's value for the old id is gone.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

namespace threading {
namespace detail {

struct LocalRecord;  // a thread's entry in the registry, on the heap (src/local.cpp)

// One per thread, in static TLS (constant-initialised, trivially destructible).
// Only its own thread reads or writes it: a copy of its record's slot array
// for get()'s fast path. The registry never points here.
struct LocalSlots {
  void** slots;          // == record->slots
  std::size_t capacity;  // == record->capacity
  LocalRecord* record;   // null before the thread's first value and after its exit cleanup
};
extern constinit thread_local LocalSlots tls_local_slots;

class LocalBase {
 public:
  LocalBase(const LocalBase&) = delete;
  LocalBase& operator=(const LocalBase&) = delete;

 protected:
  explicit LocalBase(void (*destroy)(void*));
  ~LocalBase();

  // (Fields are named directly: binding a reference to the TLS object trips
  // a GCC 12 UBSan false positive, "member access within null pointer".)
  void* find() const noexcept {
    return id_ < tls_local_slots.capacity ? tls_local_slots.slots[id_] : nullptr;
  }
  // Makes `value` the calling thread's value. On failure (bad_alloc) the
  // caller still owns it.
  void install(void* value);

 private:
  std::size_t id_;
};

}  // namespace detail

template <class T>
class local : private detail::LocalBase {
 public:
  // Keeps copies of `args` (shared by every thread, read only) to build each
  // thread's T from. Builds no T. Raises: what copying the arguments raises,
  // bad_alloc; fatal if the OS refuses the registry's key (see above).
  // clang-format off
  template <class... Args>
    requires(!(std::is_same_v<std::remove_cvref_t<Args>, local> || ...))
  explicit local(Args&&... args)
      : LocalBase(&destroy), make_([... a = std::forward<Args>(args)] { return new T(a...); }) {}
  // clang-format on

  // Destroys every thread's T (see "Destroying the local" above). Must not
  // race with get() on this local from any thread; may race with threads
  // exiting (it waits for a value being destroyed by one). Never raises (a
  // T's destructor must not throw).
  ~local() = default;

  // The calling thread's T, built on its first call in this thread from
  // copies of the constructor's arguments. Raises what T's constructor
  // raises (the next call tries again), or bad_alloc. Other threads' calls
  // never touch this thread's T, so no synchronisation is needed to use it.
  T& get() {
    if (void* p = find()) [[likely]] {
      return *static_cast<T*>(p);
    }
    return create();
  }
  // get(), as a pointer and a reference.
  T* operator->() { return &get(); }
  T& operator*() { return get(); }
  // The calling thread's T if it has one already, else nullptr; never builds
  // one, never raises.
  T* get_if_present() const noexcept { return static_cast<T*>(find()); }

 private:
  static void destroy(void* p) noexcept { delete static_cast<T*>(p); }

  [[gnu::noinline]] T& create() {
    T* p = make_();
    try {
      install(p);
    } catch (...) {
      delete p;
      throw;
    }
    return *p;
  }

  std::function<T*()> make_;  // copies of the arguments, shared by all threads (read only)
};

}  // namespace threading
