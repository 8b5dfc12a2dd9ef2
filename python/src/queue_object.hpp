// The internals of pythreading.queue shared by its source files: the queue
// object, a blocked thread's record, the shared globals, the small helpers the
// fast paths inline, and the functions each file offers the others. The
// design (the native path, the hook path, the move) is told at the top of
// queue.cpp. The files:
//   queue_native.cpp   the native path: grants to FIFO waiters, put/get
//   queue_hooks.cpp    the hook path (CPython's algorithm) and the move to it
//   queue_methods.cpp  the Python methods and attributes of every queue class
//   queue.cpp          object life, type specs, SimpleQueue, init_queue
#pragma once

#include <deque>
#include <threading/lock.hpp>

#include "pyutil.hpp"

namespace pythreading_py::queue_impl {

// Set by init_queue (queue.cpp), kept for the process.
extern PyObject* g_empty;      // queue.Empty
extern PyObject* g_full;       // queue.Full
extern PyObject* g_shut_down;  // queue.ShutDown (3.13+), else nullptr
extern PyObject* g_deque;      // collections.deque
extern PyObject* g_heappush;   // heapq.heappush / heappop
extern PyObject* g_heappop;
extern PyObject* g_condition;  // pythreading.Condition
extern PyTypeObject* g_queue_type;
extern PyTypeObject* g_lifo_type;
extern PyTypeObject* g_priority_type;

// kRetry: the queue moved to the hook path meanwhile; wait again there.
enum Outcome : int { kWaiting = 0, kGranted, kShutDown, kDone, kRetry };

// One blocked thread. Lives on its stack; touched by others only with the
// GIL, which the waiter takes back before it looks at (and drops) the record.
struct Waiter {
  threading::Lock lock;      // held from the start; released to wake the waiter
  PyObject* item = nullptr;  // getter: the granted item (owned); putter: its item (borrowed)
  int outcome = kWaiting;
  // g_gil_releases when woken (signals.hpp): written by the waker before it
  // releases `lock`, read by the waiter after taking it.
  std::atomic<std::uint64_t> gil_mark{0};
  Waiter() { lock.acquire(); }
};

enum class Kind : unsigned char { kFifo, kLifo, kPriority, kSimple };

struct QueueObject {
  PyObject_HEAD std::deque<PyObject*>* items;  // owned references (native path)
  std::deque<Waiter*>* getters;
  std::deque<Waiter*>* putters;
  std::deque<Waiter*>* joiners;
  // PriorityQueue's native storage: a list kept a heap by heapq's functions.
  // Its comparisons run Python code, which may release the GIL midway, so
  // every change to it also holds heap_lock (as CPython's holds its mutex).
  PyObject* heap;
  threading::Lock* heap_lock;
  long long reserved;  // slots granted to woken PriorityQueue putters, not yet filled
  long long maxsize;
  long long unfinished;
  bool shutdown;
  bool hooks;  // the hook path (CPython's algorithm) instead of the native one
  // The hook path's attributes (null on the native path): CPython's `mutex`,
  // its three Conditions, and the storage `queue` (see Internal).
  PyObject* internals[5];
  Kind kind;
  PyObject* dict;
  PyObject* weakrefs;
};

inline QueueObject* qcast(PyObject* o) { return reinterpret_cast<QueueObject*>(o); }

// The hook path's attributes, in QueueObject::internals order.
enum Internal : int { kMutex, kNotEmpty, kNotFull, kAllTasksDone, kStore, kInternals };

// --- the native path (the rest in queue_native.cpp) ----------------------------

inline Py_ssize_t native_size(const QueueObject* q) {
  if (q->kind == Kind::kPriority) return q->heap != nullptr ? PyList_GET_SIZE(q->heap) : 0;
  return static_cast<Py_ssize_t>(q->items->size());
}

// The next item (a new reference), or nullptr with an error (a PriorityQueue
// comparison that raised: the top item is then lost, as with CPython's heapq).
inline PyObject* take_item(QueueObject* q) {
  PyObject* item;
  if (q->kind == Kind::kPriority) {
    item = PyObject_CallOneArg(g_heappop, q->heap);
  } else if (q->kind == Kind::kLifo) {
    item = q->items->back();
    q->items->pop_back();
  } else {
    item = q->items->front();
    q->items->pop_front();
  }
  return item;
}

// Stores one item (borrowed); false with an error. A PriorityQueue item whose
// comparison raised stays in the heap, as with CPython's heapq.heappush.
bool store_item(QueueObject* q, PyObject* item);

// Holds a PriorityQueue's heap_lock (nothing for the other kinds), taken
// with the GIL released if another thread holds it.
class HeapGuard {
 public:
  explicit HeapGuard(QueueObject* q) : lock_(q->kind == Kind::kPriority ? q->heap_lock : nullptr) {
    if (lock_ != nullptr && !lock_->try_lock()) {
      Py_BEGIN_ALLOW_THREADS lock_->acquire();
      Py_END_ALLOW_THREADS
    }
  }
  ~HeapGuard() {
    if (lock_ != nullptr) lock_->release();
  }
  HeapGuard(const HeapGuard&) = delete;
  HeapGuard& operator=(const HeapGuard&) = delete;

 private:
  threading::Lock* lock_;
};

inline void wake(Waiter* w, int outcome) {
  w->outcome = outcome;
  mark_gil_handoff(w->gil_mark);
  w->lock.release();
}

// Restores the invariants after any change: no getter waits while an item is
// there, no putter while there is room. Each grant goes to the oldest waiter.
void settle(QueueObject* q);

// Waits for `w` to be woken, the GIL released (Ctrl-C ends it in the main
// thread). Returns with the GIL and `w` no longer listed in `list`: 1 woken
// (w->outcome says how), 0 timed out, -1 a Python error (w may still have
// been granted: the caller undoes that).
int wait_on(std::deque<Waiter*>* list, Waiter& w, Deadline deadline);

PyObject* negative_timeout();
PyObject* raise_shut_down();  // queue.ShutDown (RuntimeError before 3.13)

// The general put/get (blocking, timeouts, PriorityQueue). `simple`: a
// SimpleQueue's get, whose timeout was checked already.
PyObject* put_native(QueueObject* q, PyObject* item, bool block, std::optional<double> t);
PyObject* get_native(QueueObject* q, bool block, std::optional<double> t, bool simple);

// The common cases, one call each: an item stored in a deque-backed queue
// with room and nobody waiting to put, and an item taken from a non-empty
// one. nullptr without an error: not that case (take the general path).
inline PyObject* put_fast(QueueObject* q, PyObject* item) {
  if (q->kind == Kind::kPriority || q->shutdown || !q->putters->empty() ||
      (q->maxsize > 0 && static_cast<long long>(q->items->size()) >= q->maxsize)) {
    return nullptr;
  }
  try {
    q->items->push_back(item);
  } catch (...) {
    return nullptr;  // the general path raises MemoryError
  }
  Py_INCREF(item);
  ++q->unfinished;
  if (!q->getters->empty()) settle(q);
  Py_RETURN_NONE;
}

inline PyObject* get_fast(QueueObject* q) {
  if (q->kind == Kind::kPriority || q->items->empty()) return nullptr;
  PyObject* item = take_item(q);
  if (!q->putters->empty()) settle(q);
  return item;
}

// --- the hook path (the rest in queue_hooks.cpp) --------------------------------

// An interned name, made at its first use and kept for the process: the
// hook path calls methods by name on every operation.
#define QUEUE_NAME(s)                                                \
  ([]() -> PyObject* {                                               \
    static PyObject* const interned = PyUnicode_InternFromString(s); \
    return interned;                                                 \
  }())

inline PyObject* attr(PyObject* o, PyObject* name) { return PyObject_GetAttr(o, name); }

// Calls `fn(cond)` between cond.__enter__() and cond.__exit__(); the first
// error wins.
template <class Fn>
PyObject* with_cond(PyObject* self, PyObject* cond_name, Fn&& fn) {
  Ref cond(attr(self, cond_name));
  if (!cond) return nullptr;
  Ref entered(PyObject_CallMethodNoArgs(cond.get(), QUEUE_NAME("__enter__")));
  if (!entered) return nullptr;
  Ref result(fn(cond.get()));
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  PyObject* exit_args[] = {cond.get(), Py_None, Py_None, Py_None};
  Ref exited(PyObject_VectorcallMethod(QUEUE_NAME("__exit__"), exit_args, 4, nullptr));
  if (et != nullptr) {
    PyErr_Restore(et, ev, etb);
    return nullptr;
  }
  return exited ? result.release() : nullptr;
}

// self._qsize() as a number; -1 with an error set.
long long hook_qsize(PyObject* self);
bool cond_wait(PyObject* cond, std::optional<double> remaining);
bool cond_notify(PyObject* self, PyObject* cond_name, bool all);

// CPython's put/get/join; a native wait continues here after a move (kRetry).
PyObject* put_hooks(PyObject* self, PyObject* item, bool block, std::optional<double> t);
PyObject* get_hooks(PyObject* self, bool block, std::optional<double> t);
PyObject* join_hooks(PyObject* self);
void hooks_give_back(QueueObject* q, PyObject* item);

// The getset of CPython's attributes (closure: an Internal); using one moves
// a native queue to the hook path.
PyObject* get_internal(PyObject* o, void* closure);
int set_internal(PyObject* o, PyObject* value, void* closure);

// --- the Python methods and attributes (queue_methods.cpp) ---------------------

// For the method and getset tables of queue.cpp.

PyObject* queue_put(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* queue_put_nowait(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* queue_get(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* queue_get_nowait(PyObject* o, PyObject*);
PyObject* queue_qsize(PyObject* o, PyObject*);
PyObject* queue_empty(PyObject* o, PyObject*);
PyObject* queue_full(PyObject* o, PyObject*);
PyObject* queue_task_done(PyObject* o, PyObject*);
PyObject* queue_join(PyObject* o, PyObject*);
#if PY_VERSION_HEX >= 0x030D0000
PyObject* queue_shutdown(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
#endif

PyObject* deque_init_hook(PyObject* o, PyObject*);
PyObject* list_init_hook(PyObject* o, PyObject*);
PyObject* hook_qsize_m(PyObject* o, PyObject*);
PyObject* fifo_put_hook(PyObject* o, PyObject* item);
PyObject* fifo_get_hook(PyObject* o, PyObject*);
PyObject* lifo_get_hook(PyObject* o, PyObject*);
PyObject* heap_put_hook(PyObject* o, PyObject* item);
PyObject* heap_get_hook(PyObject* o, PyObject*);

PyObject* get_maxsize(PyObject* o, void*);
int set_maxsize(PyObject* o, PyObject* value, void*);
PyObject* get_unfinished(PyObject* o, void*);
int set_unfinished(PyObject* o, PyObject* value, void*);
#if PY_VERSION_HEX >= 0x030D0000
PyObject* get_is_shutdown(PyObject* o, void*);
#endif

PyObject* simple_put(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* simple_put_nowait(PyObject* o, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames);
PyObject* simple_get(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* simple_get_nowait(PyObject* o, PyObject*);

}  // namespace pythreading_py::queue_impl
