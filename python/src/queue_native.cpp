// pythreading.queue, the native path: items in a C++ deque (a heap list for
// PriorityQueue) guarded by the GIL, blocked threads on Locks of their own,
// queued FIFO, each arriving item or freed slot granted to the oldest before
// it is woken (queue.cpp tells the design; queue_object.hpp holds the object,
// the fast paths and the declarations; the hook path is queue_hooks.cpp).
#include <cmath>

#include "queue_object.hpp"

namespace pythreading_py::queue_impl {

// --- the native path ---------------------------------------------------------

namespace {

bool has_room(const QueueObject* q) {
  return q->maxsize <= 0 || native_size(q) + q->reserved < q->maxsize;
}

}  // namespace

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

namespace {

void unlist(std::deque<Waiter*>* list, Waiter* w) {
  for (auto it = list->begin(); it != list->end(); ++it) {
    if (*it == w) {
      list->erase(it);
      return;
    }
  }
}

}  // namespace

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

PyObject* negative_timeout() {
  PyErr_SetString(PyExc_ValueError, "'timeout' must be a non-negative number");
  return nullptr;
}

PyObject* raise_shut_down() {
  PyErr_SetNone(g_shut_down != nullptr ? g_shut_down : PyExc_RuntimeError);
  return nullptr;
}

namespace {

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

// What is left of a wait's deadline, as a timeout for the hook path.
std::optional<double> time_left(const Deadline& d) {
  if (!d.at) return std::nullopt;
  double left = *d.at - monotonic();
  return left > 0 ? left : 0.0;
}

PyObject* self_of(QueueObject* q) { return reinterpret_cast<PyObject*>(q); }

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace pythreading_py::queue_impl
