// pythreading.queue, the hook path: CPython's documented algorithm over a
// `mutex` and three Conditions (ours), calling the _qsize/_put/_get hooks; and
// the move of a native queue to it, for good, once its CPython internals are
// used (queue.cpp tells the design; queue_object.hpp holds the object and the
// declarations; the native path is queue_native.cpp).
#include <cmath>

#include "queue_object.hpp"

namespace pythreading_py::queue_impl {

// --- the hook path: CPython's algorithm over our Lock and Conditions --------

// self._qsize() as a number; -1 with an error set.
long long hook_qsize(PyObject* self) {
  Ref n(PyObject_CallMethodNoArgs(self, QUEUE_NAME("_qsize")));
  if (!n) return -1;
  long long v = PyLong_AsLongLong(n.get());
  if (v == -1 && PyErr_Occurred()) return -1;
  return v < 0 ? 0 : v;
}

bool cond_wait(PyObject* cond, std::optional<double> remaining) {
  if (!remaining)
    return static_cast<bool>(Ref(PyObject_CallMethodNoArgs(cond, QUEUE_NAME("wait"))));
  Ref t(PyFloat_FromDouble(*remaining));
  Ref r(t ? PyObject_CallMethodOneArg(cond, QUEUE_NAME("wait"), t.get()) : nullptr);
  return static_cast<bool>(r);
}

bool cond_notify(PyObject* self, PyObject* cond_name, bool all) {
  Ref cond(attr(self, cond_name));
  Ref r(cond ? PyObject_CallMethodNoArgs(cond.get(),
                                         all ? QUEUE_NAME("notify_all") : QUEUE_NAME("notify"))
             : nullptr);
  return static_cast<bool>(r);
}

namespace {

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

}  // namespace

PyObject* put_hooks(PyObject* self, PyObject* item, bool block, std::optional<double> t) {
  QueueObject* q = qcast(self);
  return with_cond(self, QUEUE_NAME("not_full"), [&](PyObject* cond) -> PyObject* {
    if (q->shutdown) return raise_shut_down();
    if (q->maxsize > 0) {
      auto full = [&]() -> int {
        long long n = hook_qsize(self);
        return n < 0 ? -1 : (q->maxsize > 0 && n >= q->maxsize);
      };
      if (!hook_wait(q, cond, block, t, full, g_full, true)) return nullptr;
    }
    Ref r(PyObject_CallMethodOneArg(self, QUEUE_NAME("_put"), item));
    if (!r) return nullptr;
    ++q->unfinished;
    if (!cond_notify(self, QUEUE_NAME("not_empty"), false)) return nullptr;
    Py_RETURN_NONE;
  });
}

PyObject* get_hooks(PyObject* self, bool block, std::optional<double> t) {
  QueueObject* q = qcast(self);
  return with_cond(self, QUEUE_NAME("not_empty"), [&](PyObject* cond) -> PyObject* {
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
    Ref item(PyObject_CallMethodNoArgs(self, QUEUE_NAME("_get")));
    if (!item) return nullptr;
    if (!cond_notify(self, QUEUE_NAME("not_full"), false)) return nullptr;
    return item.release();
  });
}

PyObject* join_hooks(PyObject* o) {
  QueueObject* q = qcast(o);
  return with_cond(o, QUEUE_NAME("all_tasks_done"), [&](PyObject* cond) -> PyObject* {
    while (q->unfinished > 0) {
      if (!cond_wait(cond, std::nullopt)) return nullptr;
    }
    Py_RETURN_NONE;
  });
}

// --- the move from the native path to the hook path ----------------------------

namespace {

// Their Python names (the enum Internal is in queue_object.hpp).
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

}  // namespace

// A getter granted an item before the move, whose wait then ended with an
// exception: the item goes back where the next get() finds it first.
void hooks_give_back(QueueObject* q, PyObject* item) {
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  PyObject* store = q->internals[kStore];
  Ref r(
      store == nullptr             ? nullptr
      : q->kind == Kind::kPriority ? PyObject_CallFunctionObjArgs(g_heappush, store, item, nullptr)
      : q->kind == Kind::kLifo     ? PyObject_CallMethodOneArg(store, QUEUE_NAME("append"), item)
                               : PyObject_CallMethodOneArg(store, QUEUE_NAME("appendleft"), item));
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

}  // namespace pythreading_py::queue_impl
