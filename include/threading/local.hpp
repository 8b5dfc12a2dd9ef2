// threading::local<T> — Python's threading.local: one T per thread.
//
//   Python                                  C++
//   data = threading.local()                threading::local<Data> data;       // or
//   local<Data>(args...) data.x = 1 (in this thread only)        data->x = 1;  data.get().x = 1;
//   (*data).x = 1;
//
// Contract:
//   * Each thread that touches the object gets its own T, built on its first
//     access from copies of the constructor's arguments (Python's subclass
//     __init__ re-run per thread). If that constructor throws, the access
//     throws and the next access tries again. Threads that never touch it
//     never build one.
//   * A thread's T is destroyed, by that thread, when it exits (after its
//     C++ thread_local objects, from a pthread key destructor; a T whose
//     destructor touches a local is handled, up to PTHREAD_DESTRUCTOR_ITERATIONS
//     rounds). Every remaining T is destroyed when the local is: the
//     destructor destroys the other threads' values itself and waits for
//     values their exiting threads are destroying at that moment. Nothing
//     leaks either way.
//   * The main thread's values are not destroyed at process exit (threads do
//     not "exit" then), so they stay usable from destructors run at exit.
//   * get() while the local is being destroyed, or from a T's constructor for
//     the same local, is undefined.
//   * Works in any thread: main, Thread, or foreign (no dummy is made).
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

// One per thread, in static TLS (constant-initialised, trivially destructible).
struct LocalSlots {
  void** slots;
  std::size_t capacity;
  LocalSlots* prev;  // the list of threads holding values, under the registry lock
  LocalSlots* next;
  bool registered;
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
  template <class... Args>
  requires(!(std::is_same_v<std::remove_cvref_t<Args>, local> ||
             ...)) explicit local(Args&&... args)
      : LocalBase(&destroy), make_([... a = std::forward<Args>(args)] { return new T(a...); }) {}

  // Destroys every thread's T (see above).
  ~local() = default;

  T& get() {
    if (void* p = find()) [[likely]] {
      return *static_cast<T*>(p);
    }
    return create();
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }
  // The calling thread's T if it has one already; never builds one.
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
