// pythreading.queue: Queue, LifoQueue, PriorityQueue and SimpleQueue with
// the API and exceptions of Python's `queue` module (see python/README.md).
//
// Two paths, chosen per instance in __init__:
//   * native (Queue, LifoQueue and PriorityQueue whose _init/_qsize/_put/_get
//     are ours, and every SimpleQueue): the items are a C++ deque of owned
//     references (PriorityQueue: a list kept a heap by heapq, whose Python
//     comparisons may release the GIL, so it also holds its heap_lock) and
//     the counters are plain fields, all guarded by the GIL (nothing else in
//     a critical section runs Python code, so it is never released midway).
//     A blocked thread waits on a Lock of its own, queued FIFO, with the GIL
//     released; an arriving item or a freed slot is *granted* to the oldest
//     waiter (handed over, or stored for a putter) before it is woken, so
//     exactly one thread wakes per item and nobody can barge in.
//   * hooks (a subclass overriding a hook): CPython's documented algorithm,
//     a `mutex` and three Conditions over it (ours), calling the hooks.
// A native queue whose CPython internals (`mutex`, `not_empty`, `not_full`,
// `all_tasks_done`, `queue`) are looked at moves to the hook path for good,
// its items into a real deque/list/heap (to_hooks below): code written for
// CPython's Queue (`with q.mutex: q.queue.clear()`) works unchanged, and a
// queue nobody looks into keeps the native speed.
#include <climits>
#include <cmath>
#include <cstring>
#include <deque>
#include <threading/lock.hpp>

#include "pyutil.hpp"

namespace pythreading_py {
namespace {

#define METH_CAST(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

PyObject* g_empty = nullptr;      // queue.Empty
PyObject* g_full = nullptr;       // queue.Full
PyObject* g_shut_down = nullptr;  // queue.ShutDown (3.13+), else nullptr
PyObject* g_deque = nullptr;      // collections.deque
PyObject* g_heappush = nullptr;   // heapq.heappush / heappop
PyObject* g_heappop = nullptr;
PyObject* g_condition = nullptr;  // pythreading.Condition
PyTypeObject* g_queue_type = nullptr;
PyTypeObject* g_lifo_type = nullptr;
PyTypeObject* g_priority_type = nullptr;

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
  // its three Conditions, and the storage `queue` (see kInternalNames).
  PyObject* internals[5];
  Kind kind;
  PyObject* dict;
  PyObject* weakrefs;
};

QueueObject* qcast(PyObject* o) { return reinterpret_cast<QueueObject*>(o); }

// --- the native path ---------------------------------------------------------

Py_ssize_t native_size(const QueueObject* q) {
  if (q->kind == Kind::kPriority) return q->heap != nullptr ? PyList_GET_SIZE(q->heap) : 0;
  return static_cast<Py_ssize_t>(q->items->size());
}

bool has_room(const QueueObject* q) {
  return q->maxsize <= 0 || native_size(q) + q->reserved < q->maxsize;
}

// The next item (a new reference), or nullptr with an error (a PriorityQueue
// comparison that raised: the top item is then lost, as with CPython's heapq).
PyObject* take_item(QueueObject* q) {
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
bool store_item(QueueObject* q, PyObject* item) {
  if (q->kind == Kind::kPriority) {
    Ref r(PyObject_CallFunctionObjArgs(g_heappush, q->heap, item, nullptr));
    return static_cast<bool>(r);
  }
  try {
    q->items->push_back(item);
  } catch (...) {
    raise_current();
    return false;
  }
  Py_INCREF(item);
  return true;
}

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

void wake(Waiter* w, int outcome) {
  w->outcome = outcome;
  mark_gil_handoff(w->gil_mark);
  w->lock.release();
}

// Restores the invariants after any change: no getter waits while an item is
// there, no putter while there is room. Each grant goes to the oldest waiter.
void settle(QueueObject* q) {
  for (;;) {
    if (!q->getters->empty() && native_size(q) > 0) {
      // Getters wait only on an empty queue: this is its one item, so a
      // heap pops it without a comparison.
      PyObject* item = take_item(q);
      if (item == nullptr) {
        PyErr_WriteUnraisable(reinterpret_cast<PyObject*>(q));
        return;
      }
      Waiter* w = q->getters->front();
      q->getters->pop_front();
      w->item = item;
      wake(w, kGranted);
    } else if (!q->putters->empty() && has_room(q) && !q->shutdown) {
      Waiter* w = q->putters->front();
      if (q->kind == Kind::kPriority) {
        // Its comparisons may raise: the putter stores its item itself.
        q->putters->pop_front();
        ++q->reserved;
        wake(w, kGranted);
        continue;
      }
      try {
        q->items->push_back(w->item);
      } catch (...) {
        return;  // no memory: the putter stays queued for the next chance
      }
      Py_INCREF(w->item);
      q->putters->pop_front();
      ++q->unfinished;
      wake(w, kGranted);
    } else {
      return;
    }
  }
}

void unlist(std::deque<Waiter*>* list, Waiter* w) {
  for (auto it = list->begin(); it != list->end(); ++it) {
    if (*it == w) {
      list->erase(it);
      return;
    }
  }
}

// Waits for `w` to be woken, the GIL released (Ctrl-C ends it in the main
// thread). Returns with the GIL and `w` no longer listed in `list`: 1 woken
// (w->outcome says how), 0 timed out, -1 a Python error (w may still have
// been granted: the caller undoes that).
int wait_on(std::deque<Waiter*>* list, Waiter& w, Deadline deadline) {
  try {
    list->push_back(&w);
  } catch (...) {
    raise_current();
    return -1;
  }
  // The item or slot is often a few bytecodes away (the other side of a
  // bounded queue is running): watch the waiter's Lock first, then the GIL.
  int r = block([&](threading::Timeout t) { return w.lock.acquire(true, t); }, deadline, NoUndo{},
                [&] { return !w.lock.locked() && w.lock.try_lock(); }, &w.gil_mark);
  if (w.outcome == kWaiting) {
    unlist(list, &w);
    return r < 0 ? -1 : 0;
  }
  return r < 0 ? -1 : 1;  // granted, possibly just as the deadline or a signal came
}

// A timeout as CPython's Queue reads it (`timeout < 0` in Python): a real
// number, else the comparison's TypeError.
bool queue_timeout(PyObject* obj, double* out) {
  if (PyFloat_Check(obj)) {
    *out = PyFloat_AS_DOUBLE(obj);
    return true;
  }
  PyNumberMethods* nb = Py_TYPE(obj)->tp_as_number;
  if (PyLong_Check(obj) ||
      (nb != nullptr && (nb->nb_float != nullptr || nb->nb_index != nullptr))) {
    *out = PyFloat_AsDouble(obj);
    return !(*out == -1.0 && PyErr_Occurred());
  }
  PyErr_Format(PyExc_TypeError, "'<' not supported between instances of '%.200s' and 'int'",
               Py_TYPE(obj)->tp_name);
  return false;
}

PyObject* negative_timeout() {
  PyErr_SetString(PyExc_ValueError, "'timeout' must be a non-negative number");
  return nullptr;
}

PyObject* raise_shut_down() {
  PyErr_SetNone(g_shut_down != nullptr ? g_shut_down : PyExc_RuntimeError);
  return nullptr;
}

// The deadline of a wait that has to happen: NaN waits without a limit (as
// CPython's loop does), above TIMEOUT_MAX is an OverflowError.
bool wait_deadline(std::optional<double> t, Deadline* d) {
  if (!t || std::isnan(*t)) {
    *d = Deadline::never();
    return true;
  }
  if (!check_timeout_max(*t)) return false;
  *d = Deadline::after(*t);
  return true;
}

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

// The hook path (below), where a native wait continues after a move (kRetry).
PyObject* put_hooks(PyObject* self, PyObject* item, bool block, std::optional<double> t);
PyObject* get_hooks(PyObject* self, bool block, std::optional<double> t);
PyObject* join_hooks(PyObject* self);
void hooks_give_back(QueueObject* q, PyObject* item);

// What is left of a wait's deadline, as a timeout for the hook path.
std::optional<double> time_left(const Deadline& d) {
  if (!d.at) return std::nullopt;
  double left = *d.at - monotonic();
  return left > 0 ? left : 0.0;
}

PyObject* self_of(QueueObject* q) { return reinterpret_cast<PyObject*>(q); }

PyObject* put_native(QueueObject* q, PyObject* item, bool block, std::optional<double> t) {
  if (q->shutdown) return raise_shut_down();
  if (q->maxsize > 0 && block && t && *t < 0) return negative_timeout();
  {
    HeapGuard guard(q);
    if (has_room(q) && q->putters->empty()) {
      if (!store_item(q, item)) return nullptr;
      ++q->unfinished;
      settle(q);
      Py_RETURN_NONE;
    }
  }
  if (!block) {
    PyErr_SetNone(g_full);
    return nullptr;
  }
  Deadline d;
  if (!wait_deadline(t, &d)) return nullptr;
  Waiter w;
  w.item = item;  // the caller's reference keeps it alive while we wait
  int r = wait_on(q->putters, w, d);
  if (w.outcome == kRetry || (q->hooks && w.outcome == kGranted && q->kind == Kind::kPriority)) {
    // Moved to the hook path while we waited (where a PriorityQueue slot
    // reserved here means nothing): put it there, in the time left.
    if (r < 0) return nullptr;
    return put_hooks(self_of(q), item, true, time_left(d));
  }
  if (w.outcome == kGranted && q->kind == Kind::kPriority) {
    // A slot was reserved for us: fill it, unless an exception or a
    // shutdown came first (then the slot goes to the next putter).
    HeapGuard guard(q);
    --q->reserved;
    bool stored = r >= 0 && !q->shutdown && store_item(q, item);
    if (stored) ++q->unfinished;
    settle(q);
    if (stored) Py_RETURN_NONE;
    return r < 0 || PyErr_Occurred() ? nullptr : raise_shut_down();
  }
  if (w.outcome == kGranted && r < 0) {
    // A signal handler raised as the slot was granted: the exception wins,
    // so take the item back out if nobody has taken it yet (after a move to
    // the hook path it stays in, as a put interrupted just after it ended).
    for (auto it = q->items->rbegin(); it != q->items->rend(); ++it) {
      if (*it == item) {
        q->items->erase(std::next(it).base());
        --q->unfinished;
        Py_DECREF(item);
        settle(q);
        break;
      }
    }
    return nullptr;
  }
  if (r < 0) return nullptr;
  if (w.outcome == kGranted) Py_RETURN_NONE;
  if (w.outcome == kShutDown) return raise_shut_down();
  PyErr_SetNone(g_full);
  return nullptr;
}

// Gives a granted item back (its getter's wait ended with an exception,
// which stays set).
void give_back(QueueObject* q, PyObject* item) {
  if (q->hooks) {
    hooks_give_back(q, item);
    return;
  }
  if (q->kind == Kind::kPriority) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    {
      HeapGuard guard(q);
      if (!store_item(q, item)) PyErr_Clear();  // a raising comparison: it stays in anyway
      settle(q);
    }
    Py_DECREF(item);
    PyErr_Restore(et, ev, etb);
    return;
  }
  try {
    if (q->kind == Kind::kLifo) {
      q->items->push_back(item);
    } else {
      q->items->push_front(item);
    }
  } catch (...) {
    Py_DECREF(item);  // no memory to keep it: dropped (a MemoryError is pending anyway)
    return;
  }
  settle(q);
}

PyObject* get_native(QueueObject* q, bool block, std::optional<double> t, bool simple) {
  if (q->shutdown && native_size(q) == 0) return raise_shut_down();
  if (block && t && *t < 0) return negative_timeout();
  {
    HeapGuard guard(q);
    if (native_size(q) > 0) {
      PyObject* item = take_item(q);
      if (item != nullptr) settle(q);
      return item;
    }
  }
  if (!block) {
    PyErr_SetNone(g_empty);
    return nullptr;
  }
  Deadline d;
  if (simple && t) {
    d = Deadline::after(*t);  // SimpleQueue checked NaN and the maximum first
  } else if (!wait_deadline(t, &d)) {
    return nullptr;
  }
  Waiter w;
  int r = wait_on(q->getters, w, d);
  if (w.outcome == kGranted) {
    if (r < 0) {
      give_back(q, w.item);
      return nullptr;
    }
    return w.item;
  }
  if (r < 0) return nullptr;
  if (w.outcome == kRetry) return get_hooks(self_of(q), true, time_left(d));
  if (w.outcome == kShutDown) return raise_shut_down();
  PyErr_SetNone(g_empty);
  return nullptr;
}

// --- the hook path: CPython's algorithm over our Lock and Conditions --------

// An interned name, made at its first use and kept for the process: the
// hook path calls methods by name on every operation.
#define NAME(s)                                                      \
  ([]() -> PyObject* {                                               \
    static PyObject* const interned = PyUnicode_InternFromString(s); \
    return interned;                                                 \
  }())

PyObject* attr(PyObject* o, PyObject* name) { return PyObject_GetAttr(o, name); }

// Calls `fn(cond)` between cond.__enter__() and cond.__exit__(); the first
// error wins.
template <class Fn>
PyObject* with_cond(PyObject* self, PyObject* cond_name, Fn&& fn) {
  Ref cond(attr(self, cond_name));
  if (!cond) return nullptr;
  Ref entered(PyObject_CallMethodNoArgs(cond.get(), NAME("__enter__")));
  if (!entered) return nullptr;
  Ref result(fn(cond.get()));
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  PyObject* exit_args[] = {cond.get(), Py_None, Py_None, Py_None};
  Ref exited(PyObject_VectorcallMethod(NAME("__exit__"), exit_args, 4, nullptr));
  if (et != nullptr) {
    PyErr_Restore(et, ev, etb);
    return nullptr;
  }
  return exited ? result.release() : nullptr;
}

// self._qsize() as a number; -1 with an error set.
long long hook_qsize(PyObject* self) {
  Ref n(PyObject_CallMethodNoArgs(self, NAME("_qsize")));
  if (!n) return -1;
  long long v = PyLong_AsLongLong(n.get());
  if (v == -1 && PyErr_Occurred()) return -1;
  return v < 0 ? 0 : v;
}

bool cond_wait(PyObject* cond, std::optional<double> remaining) {
  if (!remaining) return static_cast<bool>(Ref(PyObject_CallMethodNoArgs(cond, NAME("wait"))));
  Ref t(PyFloat_FromDouble(*remaining));
  Ref r(t ? PyObject_CallMethodOneArg(cond, NAME("wait"), t.get()) : nullptr);
  return static_cast<bool>(r);
}

bool cond_notify(PyObject* self, PyObject* cond_name, bool all) {
  Ref cond(attr(self, cond_name));
  Ref r(cond ? PyObject_CallMethodNoArgs(cond.get(), all ? NAME("notify_all") : NAME("notify"))
             : nullptr);
  return static_cast<bool>(r);
}

// Waits on `cond` while `busy()` (1 busy, 0 not, -1 error): the loop of
// CPython's put/get, with its timeout rules.
template <class Busy>
bool hook_wait(QueueObject* q, PyObject* cond, bool block, std::optional<double> t, Busy&& busy,
               PyObject* unavailable, bool check_shutdown_first) {
  int b = busy();
  if (b < 0) return false;
  if (!block) {
    if (b) PyErr_SetNone(unavailable);
    return !b;
  }
  if (!t) {
    while (b) {
      if (!cond_wait(cond, std::nullopt)) return false;
      if (check_shutdown_first && q->shutdown) return raise_shut_down() != nullptr;
      if ((b = busy()) < 0) return false;
    }
    return true;
  }
  if (*t < 0) return negative_timeout() != nullptr;
  if (std::isnan(*t)) {
    while (b) {
      if (!cond_wait(cond, std::nullopt)) return false;
      if (check_shutdown_first && q->shutdown) return raise_shut_down() != nullptr;
      if ((b = busy()) < 0) return false;
    }
    return true;
  }
  if (b && !check_timeout_max(*t)) return false;
  double end = monotonic() + *t;
  while (b) {
    double remaining = end - monotonic();
    if (remaining <= 0) {
      PyErr_SetNone(unavailable);
      return false;
    }
    if (!cond_wait(cond, remaining)) return false;
    if (check_shutdown_first && q->shutdown) return raise_shut_down() != nullptr;
    if ((b = busy()) < 0) return false;
  }
  return true;
}

PyObject* put_hooks(PyObject* self, PyObject* item, bool block, std::optional<double> t) {
  QueueObject* q = qcast(self);
  return with_cond(self, NAME("not_full"), [&](PyObject* cond) -> PyObject* {
    if (q->shutdown) return raise_shut_down();
    if (q->maxsize > 0) {
      auto full = [&]() -> int {
        long long n = hook_qsize(self);
        return n < 0 ? -1 : (q->maxsize > 0 && n >= q->maxsize);
      };
      if (!hook_wait(q, cond, block, t, full, g_full, true)) return nullptr;
    }
    Ref r(PyObject_CallMethodOneArg(self, NAME("_put"), item));
    if (!r) return nullptr;
    ++q->unfinished;
    if (!cond_notify(self, NAME("not_empty"), false)) return nullptr;
    Py_RETURN_NONE;
  });
}

PyObject* get_hooks(PyObject* self, bool block, std::optional<double> t) {
  QueueObject* q = qcast(self);
  return with_cond(self, NAME("not_empty"), [&](PyObject* cond) -> PyObject* {
    auto empty = [&]() -> int {
      long long n = hook_qsize(self);
      return n < 0 ? -1 : n == 0;
    };
    int e = empty();
    if (e < 0) return nullptr;
    if (q->shutdown && e) return raise_shut_down();
    if (!hook_wait(
            q, cond, block, t,
            [&]() -> int {
              int b = empty();
              if (b == 1 && q->shutdown) {
                raise_shut_down();
                return -1;
              }
              return b;
            },
            g_empty, false)) {
      return nullptr;
    }
    Ref item(PyObject_CallMethodNoArgs(self, NAME("_get")));
    if (!item) return nullptr;
    if (!cond_notify(self, NAME("not_full"), false)) return nullptr;
    return item.release();
  });
}

// --- the move from the native path to the hook path ----------------------------

// The hook path's attributes, in QueueObject::internals order.
enum Internal : int { kMutex, kNotEmpty, kNotFull, kAllTasksDone, kStore, kInternals };
const char* const kInternalNames[kInternals] = {"mutex", "not_empty", "not_full", "all_tasks_done",
                                                "queue"};

// Makes CPython's attributes for a native queue, moves its items into a real
// deque (Queue), list (LifoQueue) or heap (PriorityQueue: the heap it already
// is) and wakes every blocked thread to wait again on the hook path (kRetry).
// With the GIL, so no other thread sees the queue half moved. Nothing changes
// if making the objects fails.
bool to_hooks(QueueObject* q) {
  if (q->hooks) return true;
  Ref made[kInternals];
  made[kMutex] = Ref(PyObject_CallNoArgs(reinterpret_cast<PyObject*>(g_lock_type)));
  if (!made[kMutex]) return false;
  for (int i : {kNotEmpty, kNotFull, kAllTasksDone}) {
    made[i] = Ref(PyObject_CallOneArg(g_condition, made[kMutex].get()));
    if (!made[i]) return false;
  }
  if (q->kind == Kind::kPriority) {
    made[kStore] = Ref(Py_NewRef(q->heap));
  } else {
    Ref list(PyList_New(static_cast<Py_ssize_t>(q->items->size())));
    if (!list) return false;
    Py_ssize_t i = 0;
    for (PyObject* item : *q->items) PyList_SET_ITEM(list.get(), i++, Py_NewRef(item));
    made[kStore] =
        q->kind == Kind::kLifo ? std::move(list) : Ref(PyObject_CallOneArg(g_deque, list.get()));
    if (!made[kStore]) return false;
  }
  for (int i = 0; i < kInternals; ++i) q->internals[i] = made[i].release();
  q->hooks = true;
  q->reserved = 0;
  // The store holds its own references: none of these can reach zero here.
  for (PyObject* item : *q->items) Py_DECREF(item);
  q->items->clear();
  for (std::deque<Waiter*>* list : {q->getters, q->putters, q->joiners}) {
    while (!list->empty()) {
      wake(list->front(), kRetry);
      list->pop_front();
    }
  }
  return true;
}

// A getter granted an item before the move, whose wait then ended with an
// exception: the item goes back where the next get() finds it first.
void hooks_give_back(QueueObject* q, PyObject* item) {
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  PyObject* store = q->internals[kStore];
  Ref r(store == nullptr ? nullptr
        : q->kind == Kind::kPriority
            ? PyObject_CallFunctionObjArgs(g_heappush, store, item, nullptr)
        : q->kind == Kind::kLifo ? PyObject_CallMethodOneArg(store, NAME("append"), item)
                                 : PyObject_CallMethodOneArg(store, NAME("appendleft"), item));
  if (!r) PyErr_Clear();  // nowhere to keep it: dropped (an exception is pending anyway)
  Py_DECREF(item);
  PyErr_Restore(et, ev, etb);
}

PyObject* get_internal(PyObject* o, void* closure) {
  QueueObject* q = qcast(o);
  auto i = static_cast<int>(reinterpret_cast<std::intptr_t>(closure));
  if (!to_hooks(q)) return nullptr;
  if (q->internals[i] == nullptr) {
    PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%s'", Py_TYPE(o)->tp_name,
                 kInternalNames[i]);
    return nullptr;
  }
  return Py_NewRef(q->internals[i]);
}

int set_internal(PyObject* o, PyObject* value, void* closure) {
  QueueObject* q = qcast(o);
  auto i = static_cast<int>(reinterpret_cast<std::intptr_t>(closure));
  if (!to_hooks(q)) return -1;
  PyObject* old = q->internals[i];
  q->internals[i] = value != nullptr ? Py_NewRef(value) : nullptr;
  Py_XDECREF(old);
  return 0;
}

// --- argument parsing shared by both paths ----------------------------------

// (block, timeout) as CPython's Queue reads them.
bool block_timeout(PyObject* block_obj, PyObject* timeout_obj, bool* block,
                   std::optional<double>* t) {
  *block = true;
  if (block_obj != nullptr) {
    int b = truth(block_obj);
    if (b < 0) return false;
    *block = b != 0;
  }
  if (timeout_obj != nullptr && timeout_obj != Py_None) {
    // Only looked at when blocking (CPython never compares it otherwise).
    if (!*block) return true;
    double v;
    if (!queue_timeout(timeout_obj, &v)) return false;
    *t = v;
  }
  return true;
}

// --- Queue methods ----------------------------------------------------------

// put_nowait()/get_nowait() call put()/get() as CPython's do, so a subclass
// overriding those sees them; our own classes go straight to the native path.
bool is_base_type(PyObject* o) {
  return Py_TYPE(o) == g_queue_type || Py_TYPE(o) == g_lifo_type || Py_TYPE(o) == g_priority_type;
}

PyObject* queue_put(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  QueueObject* q = qcast(o);
  if (nargs == 1 && kwnames == nullptr && !q->hooks) {
    if (PyObject* r = put_fast(q, args[0])) return r;
  }
  static const char* const names[] = {"item", "block", "timeout"};
  PyObject* a[3];
  if (!parse_args("Queue.put", names, 3, 3, args, nargs, kwnames, a, 1)) return nullptr;
  bool block;
  std::optional<double> t;
  if (!block_timeout(a[1], a[2], &block, &t)) return nullptr;
  if (q->hooks) return put_hooks(o, a[0], block, t);
  // CPython compares the timeout only on a bounded queue.
  if (q->maxsize <= 0) t.reset();
  return put_native(q, a[0], block, t);
}

PyObject* queue_put_nowait(PyObject* o, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
  static const char* const names[] = {"item"};
  PyObject* item;
  if (!parse_args("Queue.put_nowait", names, 1, 1, args, nargs, kwnames, &item, 1)) return nullptr;
  QueueObject* q = qcast(o);
  if (!is_base_type(o)) return PyObject_CallMethod(o, "put", "OO", item, Py_False);
  if (q->hooks) return put_hooks(o, item, false, std::nullopt);
  return put_native(q, item, false, std::nullopt);
}

PyObject* queue_get(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  QueueObject* q = qcast(o);
  if (nargs == 0 && kwnames == nullptr && !q->hooks) {
    if (PyObject* item = get_fast(q)) return item;
  }
  static const char* const names[] = {"block", "timeout"};
  PyObject* a[2];
  if (!parse_args("Queue.get", names, 2, 2, args, nargs, kwnames, a)) return nullptr;
  bool block;
  std::optional<double> t;
  if (!block_timeout(a[0], a[1], &block, &t)) return nullptr;
  if (q->hooks) return get_hooks(o, block, t);
  return get_native(q, block, t, false);
}

PyObject* queue_get_nowait(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!is_base_type(o)) return PyObject_CallMethod(o, "get", "(O)", Py_False);
  if (q->hooks) return get_hooks(o, false, std::nullopt);
  return get_native(q, false, std::nullopt, false);
}

// qsize() through the hook path takes the mutex, as CPython's does.
long long locked_qsize(PyObject* o) {
  long long n = -1;
  Ref r(with_cond(o, NAME("mutex"), [&](PyObject*) -> PyObject* {
    n = hook_qsize(o);
    return n < 0 ? nullptr : Py_NewRef(Py_None);
  }));
  return r ? n : -1;
}

PyObject* queue_qsize(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return PyLong_FromSsize_t(native_size(q));
  long long n = locked_qsize(o);
  return n < 0 ? nullptr : PyLong_FromLongLong(n);
}

PyObject* queue_empty(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return PyBool_FromLong(native_size(q) == 0);
  long long n = locked_qsize(o);
  return n < 0 ? nullptr : PyBool_FromLong(n == 0);
}

PyObject* queue_full(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  long long n = q->hooks ? locked_qsize(o) : native_size(q);
  if (n < 0) return nullptr;
  return PyBool_FromLong(q->maxsize > 0 && n >= q->maxsize);
}

PyObject* too_many_task_done() {
  PyErr_SetString(PyExc_ValueError, "task_done() called too many times");
  return nullptr;
}

PyObject* queue_task_done(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (q->hooks) {
    return with_cond(o, NAME("all_tasks_done"), [&](PyObject* cond) -> PyObject* {
      if (q->unfinished <= 0) return too_many_task_done();
      if (--q->unfinished == 0) {
        Ref r(PyObject_CallMethodNoArgs(cond, NAME("notify_all")));
        if (!r) return nullptr;
      }
      Py_RETURN_NONE;
    });
  }
  if (q->unfinished <= 0) return too_many_task_done();
  if (--q->unfinished == 0) {
    while (!q->joiners->empty()) {
      Waiter* w = q->joiners->front();
      q->joiners->pop_front();
      wake(w, kDone);
    }
  }
  Py_RETURN_NONE;
}

PyObject* join_hooks(PyObject* o) {
  QueueObject* q = qcast(o);
  return with_cond(o, NAME("all_tasks_done"), [&](PyObject* cond) -> PyObject* {
    while (q->unfinished > 0) {
      if (!cond_wait(cond, std::nullopt)) return nullptr;
    }
    Py_RETURN_NONE;
  });
}

PyObject* queue_join(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (q->hooks) return join_hooks(o);
  while (q->unfinished > 0) {
    Waiter w;
    if (wait_on(q->joiners, w, Deadline::never()) < 0) return nullptr;
    if (w.outcome == kRetry) return join_hooks(o);
  }
  Py_RETURN_NONE;
}

#if PY_VERSION_HEX >= 0x030D0000
PyObject* queue_shutdown(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"immediate"};
  PyObject* imm_obj;
  if (!parse_args("Queue.shutdown", names, 1, 1, args, nargs, kwnames, &imm_obj)) return nullptr;
  int immediate = imm_obj != nullptr ? truth(imm_obj) : 0;
  if (immediate < 0) return nullptr;
  QueueObject* q = qcast(o);
  if (q->hooks) {
    return with_cond(o, NAME("mutex"), [&](PyObject*) -> PyObject* {
      q->shutdown = true;
      if (immediate) {
        for (;;) {
          long long n = hook_qsize(o);
          if (n < 0) return nullptr;
          if (n == 0) break;
          Ref item(PyObject_CallMethodNoArgs(o, NAME("_get")));
          if (!item) return nullptr;
          if (q->unfinished > 0) --q->unfinished;
        }
        if (!cond_notify(o, NAME("all_tasks_done"), true)) return nullptr;
      }
      if (!cond_notify(o, NAME("not_empty"), true) || !cond_notify(o, NAME("not_full"), true))
        return nullptr;
      Py_RETURN_NONE;
    });
  }
  std::deque<PyObject*> dropped;
  Ref dropped_heap;  // released after the guard below
  HeapGuard guard(q);
  q->shutdown = true;
  if (immediate) {
    long long n = native_size(q);
    if (q->kind == Kind::kPriority) {
      dropped_heap = Ref(q->heap);
      q->heap = PyList_New(0);
      if (q->heap == nullptr) {
        q->heap = dropped_heap.release();
        return nullptr;
      }
    } else {
      dropped.swap(*q->items);
    }
    q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
    if (q->unfinished == 0) {
      while (!q->joiners->empty()) {
        wake(q->joiners->front(), kDone);
        q->joiners->pop_front();
      }
    }
  }
  while (!q->getters->empty()) {
    wake(q->getters->front(), kShutDown);
    q->getters->pop_front();
  }
  while (!q->putters->empty()) {
    wake(q->putters->front(), kShutDown);
    q->putters->pop_front();
  }
  // Dropped last: a __del__ may run here and use the queue, now consistent
  // (dropped_heap goes at the end of the scope, after the guard).
  for (PyObject* item : dropped) Py_DECREF(item);
  Py_RETURN_NONE;
}
#endif

// The hooks. On the native path they work on the native storage (so a
// subclass calling them directly still sees the items); on the hook path
// they are CPython's: a deque (Queue), a list (LifoQueue), a heap
// (PriorityQueue) in `self.queue`.
PyObject* set_storage(PyObject* o, PyObject* store) {
  if (store == nullptr) return nullptr;
  Ref keep(store);
  if (PyObject_SetAttrString(o, "queue", store) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* deque_init_hook(PyObject* o, PyObject*) {
  if (!qcast(o)->hooks) Py_RETURN_NONE;  // the native path has its own storage
  return set_storage(o, PyObject_CallNoArgs(g_deque));
}

PyObject* list_init_hook(PyObject* o, PyObject*) {
  if (!qcast(o)->hooks) Py_RETURN_NONE;
  return set_storage(o, PyList_New(0));
}

PyObject* hook_qsize_m(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return PyLong_FromSsize_t(native_size(q));
  Ref store(attr(o, NAME("queue")));
  if (!store) return nullptr;
  Py_ssize_t n = PyObject_Length(store.get());
  return n < 0 ? nullptr : PyLong_FromSsize_t(n);
}

PyObject* native_put_hook(QueueObject* q, PyObject* item) {
  HeapGuard guard(q);
  if (!store_item(q, item)) return nullptr;
  settle(q);
  Py_RETURN_NONE;
}

PyObject* fifo_put_hook(PyObject* o, PyObject* item) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_put_hook(q, item);
  Ref store(attr(o, NAME("queue")));
  return store ? PyObject_CallMethodOneArg(store.get(), NAME("append"), item) : nullptr;
}

PyObject* native_get_hook(QueueObject* q) {
  HeapGuard guard(q);
  if (native_size(q) == 0) {
    PyErr_SetString(PyExc_IndexError, "pop from an empty queue");
    return nullptr;
  }
  PyObject* item = take_item(q);
  if (item != nullptr) settle(q);
  return item;
}

PyObject* fifo_get_hook(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_get_hook(q);
  Ref store(attr(o, NAME("queue")));
  return store ? PyObject_CallMethodNoArgs(store.get(), NAME("popleft")) : nullptr;
}

PyObject* lifo_get_hook(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_get_hook(q);
  Ref store(attr(o, NAME("queue")));
  return store ? PyObject_CallMethodNoArgs(store.get(), NAME("pop")) : nullptr;
}

PyObject* heap_put_hook(PyObject* o, PyObject* item) {
  if (!qcast(o)->hooks) return native_put_hook(qcast(o), item);
  Ref store(attr(o, NAME("queue")));
  return store ? PyObject_CallFunctionObjArgs(g_heappush, store.get(), item, nullptr) : nullptr;
}

PyObject* heap_get_hook(PyObject* o, PyObject*) {
  if (!qcast(o)->hooks) return native_get_hook(qcast(o));
  Ref store(attr(o, NAME("queue")));
  return store ? PyObject_CallFunctionObjArgs(g_heappop, store.get(), nullptr) : nullptr;
}

// --- object life --------------------------------------------------------------

PyObject* queue_new(PyTypeObject* type, PyObject*, PyObject*) {
  auto* q = reinterpret_cast<QueueObject*>(type->tp_alloc(type, 0));
  if (q == nullptr) return nullptr;
  try {
    q->items = new std::deque<PyObject*>();
    q->getters = new std::deque<Waiter*>();
    q->putters = new std::deque<Waiter*>();
    q->joiners = new std::deque<Waiter*>();
    q->heap_lock = new threading::Lock();
  } catch (...) {
    Py_DECREF(q);
    return raise_current();
  }
  q->kind = PyType_IsSubtype(type, g_lifo_type)                               ? Kind::kLifo
            : g_queue_type != nullptr && PyType_IsSubtype(type, g_queue_type) ? Kind::kFifo
                                                                              : Kind::kSimple;
  if (g_priority_type != nullptr && PyType_IsSubtype(type, g_priority_type)) {
    q->kind = Kind::kPriority;
    q->heap = PyList_New(0);
    if (q->heap == nullptr) {
      Py_DECREF(q);
      return nullptr;
    }
  }
  return reinterpret_cast<PyObject*>(q);
}

void drop_items(QueueObject* q) {
  if (q->heap != nullptr) {
    Ref old(q->heap);
    q->heap = PyList_New(0);  // nullptr (no memory) is tolerated: size reads check it
    if (q->heap == nullptr) PyErr_Clear();
  }
  if (q->items == nullptr) return;
  std::deque<PyObject*> dropped;
  dropped.swap(*q->items);
  for (PyObject* item : dropped) Py_DECREF(item);
}

int queue_traverse(PyObject* o, visitproc visit, void* arg) {
  QueueObject* q = qcast(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(q->dict);
  Py_VISIT(q->heap);
  for (PyObject* v : q->internals) Py_VISIT(v);
  if (q->items != nullptr) {
    for (PyObject* item : *q->items) Py_VISIT(item);
  }
  return 0;
}

int queue_clear(PyObject* o) {
  QueueObject* q = qcast(o);
  Py_CLEAR(q->dict);
  for (PyObject*& v : q->internals) Py_CLEAR(v);
  drop_items(q);
  return 0;
}

void queue_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  QueueObject* q = qcast(o);
  if (q->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  queue_clear(o);
  Py_CLEAR(q->heap);
  delete q->heap_lock;
  delete q->items;
  delete q->getters;
  delete q->putters;
  delete q->joiners;
  type->tp_free(o);
  Py_DECREF(type);
}

// True when `type` resolves each hook to what `base` has: the native path.
int same_hooks(PyTypeObject* type, PyTypeObject* base) {
  static const char* const hooks[] = {"_init", "_qsize", "_put", "_get"};
  for (const char* name : hooks) {
    Ref mine(PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), name));
    Ref theirs(PyObject_GetAttrString(reinterpret_cast<PyObject*>(base), name));
    if (!mine || !theirs) return -1;
    if (mine.get() != theirs.get()) return 0;
  }
  return 1;
}

int queue_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"maxsize"};
  PyObject* maxsize_obj;
  if (!parse_tuple_args("Queue.__init__", names, 1, 1, args, kwargs, &maxsize_obj)) return -1;
  QueueObject* q = qcast(o);
  long long maxsize = 0;
  if (maxsize_obj != nullptr) {
    int overflow;
    if (!index_arg(maxsize_obj, &maxsize, &overflow)) return -1;
    if (overflow) maxsize = overflow > 0 ? LLONG_MAX : -1;
  }
  if (!q->getters->empty() || !q->putters->empty() || !q->joiners->empty()) {
    PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise a queue that has waiting threads");
    return -1;
  }
  drop_items(q);
  for (PyObject*& v : q->internals) Py_CLEAR(v);
  q->maxsize = maxsize;
  q->unfinished = 0;
  q->shutdown = false;
  PyTypeObject* type = Py_TYPE(o);
  q->reserved = 0;
  PyTypeObject* base = q->kind == Kind::kLifo       ? g_lifo_type
                       : q->kind == Kind::kPriority ? g_priority_type
                                                    : g_queue_type;
  int native = same_hooks(type, base);
  if (native < 0) return -1;
  q->hooks = !native;
  if (!q->hooks) return 0;
  // The hook path: CPython's attributes, then the subclass's _init.
  Ref mutex(PyObject_CallNoArgs(reinterpret_cast<PyObject*>(g_lock_type)));
  if (!mutex || PyObject_SetAttrString(o, "mutex", mutex.get()) < 0) return -1;
  for (const char* name : {"not_empty", "not_full", "all_tasks_done"}) {
    Ref cond(PyObject_CallOneArg(g_condition, mutex.get()));
    if (!cond || PyObject_SetAttrString(o, name, cond.get()) < 0) return -1;
  }
  Ref r(PyObject_CallMethod(o, "_init", "L", maxsize));
  return r ? 0 : -1;
}

PyObject* get_maxsize(PyObject* o, void*) { return PyLong_FromLongLong(qcast(o)->maxsize); }

int set_maxsize(PyObject* o, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete maxsize");
    return -1;
  }
  long long v;
  int overflow;
  if (!index_arg(value, &v, &overflow)) return -1;
  if (overflow) v = overflow > 0 ? LLONG_MAX : -1;
  QueueObject* q = qcast(o);
  q->maxsize = v;
  if (!q->hooks) {
    HeapGuard guard(q);
    settle(q);  // more room: blocked putters go in
  }
  return 0;
}

PyObject* get_unfinished(PyObject* o, void*) { return PyLong_FromLongLong(qcast(o)->unfinished); }

// A plain attribute in CPython (`q.unfinished_tasks = 0` after clearing the
// queue by hand): any int; nobody is woken, as there.
int set_unfinished(PyObject* o, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete unfinished_tasks");
    return -1;
  }
  long long v;
  int overflow;
  if (!index_arg(value, &v, &overflow)) return -1;
  if (overflow) {
    PyErr_SetString(PyExc_OverflowError, "unfinished_tasks out of range");
    return -1;
  }
  qcast(o)->unfinished = v;
  return 0;
}

#if PY_VERSION_HEX >= 0x030D0000
PyObject* get_is_shutdown(PyObject* o, void*) { return PyBool_FromLong(qcast(o)->shutdown); }
#endif

PyMethodDef queue_methods[] = {
    {"put", METH_CAST(queue_put), METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, item, block=True, timeout=None)\n--\n\nPut an item into the queue; on a "
     "full bounded queue wait for room (at most `timeout` seconds), or raise Full."},
    {"put_nowait", METH_CAST(queue_put_nowait), METH_FASTCALL | METH_KEYWORDS,
     "put_nowait($self, /, item)\n--\n\nput(item, False)."},
    {"get", METH_CAST(queue_get), METH_FASTCALL | METH_KEYWORDS,
     "get($self, /, block=True, timeout=None)\n--\n\nRemove and return an item; wait for one "
     "(at most `timeout` seconds), or raise Empty."},
    {"get_nowait", queue_get_nowait, METH_NOARGS, "get_nowait($self, /)\n--\n\nget(False)."},
    {"qsize", queue_qsize, METH_NOARGS, "qsize($self, /)\n--\n\nThe number of items (a snapshot)."},
    {"empty", queue_empty, METH_NOARGS, "empty($self, /)\n--\n\nTrue if no item is queued now."},
    {"full", queue_full, METH_NOARGS, "full($self, /)\n--\n\nTrue if a bounded queue is full now."},
    {"task_done", queue_task_done, METH_NOARGS,
     "task_done($self, /)\n--\n\nMark one gotten item as processed (for join())."},
    {"join", queue_join, METH_NOARGS,
     "join($self, /)\n--\n\nWait until every item put has been marked by task_done()."},
#if PY_VERSION_HEX >= 0x030D0000
    {"shutdown", METH_CAST(queue_shutdown), METH_FASTCALL | METH_KEYWORDS,
     "shutdown($self, /, immediate=False)\n--\n\nRefuse further puts (ShutDown); gets drain "
     "what is left, or fail at once if `immediate`; blocked callers wake."},
#endif
    {"_init", deque_init_hook, METH_O, "Hook: set up the storage."},
    {"_qsize", hook_qsize_m, METH_NOARGS, "Hook: the number of items."},
    {"_put", fifo_put_hook, METH_O, "Hook: store one item."},
    {"_get", fifo_get_hook, METH_NOARGS, "Hook: remove and return the next item."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585."},
    {nullptr, nullptr, 0, nullptr}};

PyMethodDef lifo_methods[] = {
    {"_init", list_init_hook, METH_O, "Hook: set up the storage."},
    {"_get", lifo_get_hook, METH_NOARGS, "Hook: remove and return the newest item."},
    {nullptr, nullptr, 0, nullptr}};

PyMethodDef priority_methods[] = {
    {"_init", list_init_hook, METH_O, "Hook: set up the heap."},
    {"_put", heap_put_hook, METH_O, "Hook: push one item on the heap."},
    {"_get", heap_get_hook, METH_NOARGS, "Hook: pop the lowest item."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef queue_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"maxsize", get_maxsize, set_maxsize, "The bound (<= 0: unbounded).", nullptr},
    {"unfinished_tasks", get_unfinished, set_unfinished, "Items put and not yet task_done().",
     nullptr},
    {"mutex", get_internal, set_internal,
     "CPython's Queue.mutex (our Lock); looking moves the queue to CPython's algorithm.",
     reinterpret_cast<void*>(kMutex)},
    {"not_empty", get_internal, set_internal, "CPython's Queue.not_empty (a Condition over mutex).",
     reinterpret_cast<void*>(kNotEmpty)},
    {"not_full", get_internal, set_internal, "CPython's Queue.not_full (a Condition over mutex).",
     reinterpret_cast<void*>(kNotFull)},
    {"all_tasks_done", get_internal, set_internal,
     "CPython's Queue.all_tasks_done (a Condition over mutex).",
     reinterpret_cast<void*>(kAllTasksDone)},
    {"queue", get_internal, set_internal,
     "CPython's Queue.queue: the items (a deque; a list for LifoQueue, a heap for PriorityQueue).",
     reinterpret_cast<void*>(kStore)},
#if PY_VERSION_HEX >= 0x030D0000
    {"is_shutdown", get_is_shutdown, nullptr, "True once shutdown() was called.", nullptr},
#endif
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef queue_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(QueueObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(QueueObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot queue_slots[] = {
    {Py_tp_doc, const_cast<char*>("Queue(maxsize=0)\n--\n\nA FIFO queue for threads; maxsize <= 0 "
                                  "is unbounded.")},
    {Py_tp_new, reinterpret_cast<void*>(queue_new)},
    {Py_tp_init, reinterpret_cast<void*>(queue_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(queue_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {Py_tp_methods, queue_methods},
    {Py_tp_getset, queue_getset},
    {Py_tp_members, queue_members},
    {0, nullptr}};

PyType_Spec queue_spec = {"pythreading.queue.Queue", sizeof(QueueObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                          queue_slots};

PyType_Slot lifo_slots[] = {
    {Py_tp_doc, const_cast<char*>("LifoQueue(maxsize=0)\n--\n\nA LIFO queue (a stack) for "
                                  "threads.")},
    {Py_tp_methods, lifo_methods},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {0, nullptr}};

PyType_Spec lifo_spec = {"pythreading.queue.LifoQueue", sizeof(QueueObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, lifo_slots};

PyType_Slot priority_slots[] = {
    {Py_tp_doc, const_cast<char*>("PriorityQueue(maxsize=0)\n--\n\nA queue that returns the "
                                  "lowest item first (heapq order).")},
    {Py_tp_methods, priority_methods},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {0, nullptr}};

PyType_Spec priority_spec = {"pythreading.queue.PriorityQueue", sizeof(QueueObject), 0,
                             Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                             priority_slots};

// --- SimpleQueue ----------------------------------------------------------------

PyObject* simple_put(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 1 && kwnames == nullptr) {
    if (PyObject* r = put_fast(qcast(o), args[0])) return r;
  }
  static const char* const names[] = {"item", "block", "timeout"};
  PyObject* a[3];
  if (!parse_args("put", names, 3, 3, args, nargs, kwnames, a, 1)) return nullptr;
  return put_native(qcast(o), a[0], true, std::nullopt);  // never waits: block/timeout unused
}

PyObject* simple_put_nowait(PyObject* o, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
  static const char* const names[] = {"item"};
  PyObject* item;
  if (!parse_args("put_nowait", names, 1, 1, args, nargs, kwnames, &item, 1)) return nullptr;
  return put_native(qcast(o), item, true, std::nullopt);
}

PyObject* simple_get(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 0 && kwnames == nullptr) {
    if (PyObject* item = get_fast(qcast(o))) return item;
  }
  static const char* const names[] = {"block", "timeout"};
  PyObject* a[2];
  if (!parse_args("get", names, 2, 2, args, nargs, kwnames, a)) return nullptr;
  bool block = true;
  if (a[0] != nullptr) {
    int b = truth(a[0]);
    if (b < 0) return nullptr;
    block = b != 0;
  }
  std::optional<double> t;
  if (block && a[1] != nullptr && a[1] != Py_None) {
    // CPython's C SimpleQueue converts it as a time: its checks and messages.
    double v;
    if (PyFloat_Check(a[1])) {
      v = PyFloat_AS_DOUBLE(a[1]);
    } else {
      long long iv;
      int overflow;
      if (!index_arg(a[1], &iv, &overflow)) return nullptr;
      v = overflow ? (overflow > 0 ? HUGE_VAL : -HUGE_VAL) : static_cast<double>(iv);
    }
    if (std::isnan(v)) {
      PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
      return nullptr;
    }
    if (!check_timeout_max(v)) return nullptr;
    t = v;
  }
  return get_native(qcast(o), block, t, true);
}

PyObject* simple_get_nowait(PyObject* o, PyObject*) {
  return get_native(qcast(o), false, std::nullopt, true);
}

PyTypeObject* g_simple_type = nullptr;

PyObject* simple_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  // CPython's SimpleQueue() takes no arguments (its subclasses may).
  if (type == g_simple_type &&
      !parse_tuple_args("SimpleQueue", nullptr, 0, 0, args, kwargs, nullptr)) {
    return nullptr;
  }
  return queue_new(type, args, kwargs);
}

PyMethodDef simple_methods[] = {
    {"put", METH_CAST(simple_put), METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, item, block=True, timeout=None)\n--\n\nPut an item (never waits: the "
     "arguments block and timeout are accepted and ignored)."},
    {"put_nowait", METH_CAST(simple_put_nowait), METH_FASTCALL | METH_KEYWORDS,
     "put_nowait($self, /, item)\n--\n\nput(item)."},
    {"get", METH_CAST(simple_get), METH_FASTCALL | METH_KEYWORDS,
     "get($self, /, block=True, timeout=None)\n--\n\nRemove and return the oldest item; wait for "
     "one (at most `timeout` seconds), or raise Empty."},
    {"get_nowait", simple_get_nowait, METH_NOARGS, "get_nowait($self, /)\n--\n\nget(False)."},
    {"qsize", queue_qsize, METH_NOARGS, "qsize($self, /)\n--\n\nThe number of items (a snapshot)."},
    {"empty", queue_empty, METH_NOARGS, "empty($self, /)\n--\n\nTrue if no item is queued now."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef simple_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot simple_slots[] = {
    {Py_tp_doc, const_cast<char*>("SimpleQueue()\n--\n\nAn unbounded FIFO queue without task "
                                  "tracking.")},
    {Py_tp_new, reinterpret_cast<void*>(simple_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(queue_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {Py_tp_methods, simple_methods},
    {Py_tp_getset, simple_getset},
    {Py_tp_members, queue_members},
    {0, nullptr}};

PyType_Spec simple_spec = {"pythreading.queue.SimpleQueue", sizeof(QueueObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                           simple_slots};

bool import_attr(const char* module, const char* name, PyObject** out) {
  Ref m(PyImport_ImportModule(module));
  if (!m) return false;
  *out = PyObject_GetAttrString(m.get(), name);  // kept for the process
  return *out != nullptr;
}

}  // namespace

// pythreading.queue: a submodule object, also registered in sys.modules so
// that `import pythreading.queue` finds it once pythreading is imported.
bool init_queue(PyObject* m) {
  if (!import_attr("queue", "Empty", &g_empty) || !import_attr("queue", "Full", &g_full) ||
      !import_attr("collections", "deque", &g_deque) ||
      !import_attr("heapq", "heappush", &g_heappush) ||
      !import_attr("heapq", "heappop", &g_heappop)) {
    return false;
  }
#if PY_VERSION_HEX >= 0x030D0000
  if (!import_attr("queue", "ShutDown", &g_shut_down)) return false;
#endif
  g_condition = PyObject_GetAttrString(m, "Condition");
  if (g_condition == nullptr) return false;
  Ref sub(PyModule_New("pythreading.queue"));
  if (!sub) return false;
  if (PyModule_AddStringConstant(sub.get(), "__doc__",
                                 "Python's queue module implemented by pythreading: Queue, "
                                 "LifoQueue, PriorityQueue, SimpleQueue.") < 0) {
    return false;
  }
  PyObject* qt = PyType_FromSpec(&queue_spec);
  if (qt == nullptr) return false;
  g_queue_type = reinterpret_cast<PyTypeObject*>(qt);
  Ref bases(PyTuple_Pack(1, qt));
  if (!add_type(sub.get(), "Queue", Py_NewRef(qt)) || !bases) return false;
  PyObject* lt = PyType_FromSpecWithBases(&lifo_spec, bases.get());
  if (lt == nullptr) return false;
  g_lifo_type = reinterpret_cast<PyTypeObject*>(lt);
  if (!add_type(sub.get(), "LifoQueue", Py_NewRef(lt))) return false;
  PyObject* pt = PyType_FromSpecWithBases(&priority_spec, bases.get());
  if (pt == nullptr) return false;
  g_priority_type = reinterpret_cast<PyTypeObject*>(pt);
  if (!add_type(sub.get(), "PriorityQueue", Py_NewRef(pt))) return false;
  PyObject* st = PyType_FromSpec(&simple_spec);
  if (st == nullptr) return false;
  g_simple_type = reinterpret_cast<PyTypeObject*>(st);
  if (!add_type(sub.get(), "SimpleQueue", Py_NewRef(st))) return false;
  if (PyModule_AddObject(sub.get(), "Empty", Py_NewRef(g_empty)) < 0 ||
      PyModule_AddObject(sub.get(), "Full", Py_NewRef(g_full)) < 0) {
    return false;
  }
  if (g_shut_down != nullptr &&
      PyModule_AddObject(sub.get(), "ShutDown", Py_NewRef(g_shut_down)) < 0) {
    return false;
  }
  Ref all(g_shut_down != nullptr ? Py_BuildValue("[sssssss]", "Empty", "Full", "ShutDown", "Queue",
                                                 "PriorityQueue", "LifoQueue", "SimpleQueue")
                                 : Py_BuildValue("[ssssss]", "Empty", "Full", "Queue",
                                                 "PriorityQueue", "LifoQueue", "SimpleQueue"));
  if (!all || PyModule_AddObject(sub.get(), "__all__", all.release()) < 0) return false;
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyDict_SetItemString(modules, "pythreading.queue", sub.get()) < 0) return false;
  return PyModule_AddObject(m, "queue", sub.release()) == 0;
}

}  // namespace pythreading_py
