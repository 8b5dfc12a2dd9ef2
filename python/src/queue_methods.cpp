// pythreading.queue, the Python methods and attributes of Queue, LifoQueue,
// PriorityQueue and SimpleQueue: argument parsing, then each call goes to the
// native path (queue_native.cpp, its common cases inlined from
// queue_object.hpp) or the hook path (queue_hooks.cpp). The method tables and
// type specs are in queue.cpp.
#include <climits>
#include <cmath>

#include "queue_object.hpp"

namespace pythreading_py::queue_impl {

// --- argument parsing shared by both paths ----------------------------------

namespace {

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

}  // namespace

// --- Queue methods ----------------------------------------------------------

namespace {

// put_nowait()/get_nowait() call put()/get() as CPython's do, so a subclass
// overriding those sees them; our own classes go straight to the native path.
bool is_base_type(PyObject* o) {
  return Py_TYPE(o) == g_queue_type || Py_TYPE(o) == g_lifo_type || Py_TYPE(o) == g_priority_type;
}

}  // namespace

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
namespace {

// qsize() through the hook path takes the mutex, as CPython's does.
long long locked_qsize(PyObject* o) {
  long long n = -1;
  Ref r(with_cond(o, QUEUE_NAME("mutex"), [&](PyObject*) -> PyObject* {
    n = hook_qsize(o);
    return n < 0 ? nullptr : Py_NewRef(Py_None);
  }));
  return r ? n : -1;
}

}  // namespace

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

namespace {

PyObject* too_many_task_done() {
  PyErr_SetString(PyExc_ValueError, "task_done() called too many times");
  return nullptr;
}

}  // namespace

PyObject* queue_task_done(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (q->hooks) {
    return with_cond(o, QUEUE_NAME("all_tasks_done"), [&](PyObject* cond) -> PyObject* {
      if (q->unfinished <= 0) return too_many_task_done();
      if (--q->unfinished == 0) {
        Ref r(PyObject_CallMethodNoArgs(cond, QUEUE_NAME("notify_all")));
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
    return with_cond(o, QUEUE_NAME("mutex"), [&](PyObject*) -> PyObject* {
      q->shutdown = true;
      if (immediate) {
        for (;;) {
          long long n = hook_qsize(o);
          if (n < 0) return nullptr;
          if (n == 0) break;
          Ref item(PyObject_CallMethodNoArgs(o, QUEUE_NAME("_get")));
          if (!item) return nullptr;
          if (q->unfinished > 0) --q->unfinished;
        }
        if (!cond_notify(o, QUEUE_NAME("all_tasks_done"), true)) return nullptr;
      }
      if (!cond_notify(o, QUEUE_NAME("not_empty"), true) ||
          !cond_notify(o, QUEUE_NAME("not_full"), true))
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

// --- the hooks (_init, _qsize, _put, _get) --------------------------------------

// The hooks. On the native path they work on the native storage (so a
// subclass calling them directly still sees the items); on the hook path
// they are CPython's: a deque (Queue), a list (LifoQueue), a heap
// (PriorityQueue) in `self.queue`.

namespace {

PyObject* set_storage(PyObject* o, PyObject* store) {
  if (store == nullptr) return nullptr;
  Ref keep(store);
  if (PyObject_SetAttrString(o, "queue", store) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* native_put_hook(QueueObject* q, PyObject* item) {
  HeapGuard guard(q);
  if (!store_item(q, item)) return nullptr;
  settle(q);
  Py_RETURN_NONE;
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

}  // namespace

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
  Ref store(attr(o, QUEUE_NAME("queue")));
  if (!store) return nullptr;
  Py_ssize_t n = PyObject_Length(store.get());
  return n < 0 ? nullptr : PyLong_FromSsize_t(n);
}

PyObject* fifo_put_hook(PyObject* o, PyObject* item) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_put_hook(q, item);
  Ref store(attr(o, QUEUE_NAME("queue")));
  return store ? PyObject_CallMethodOneArg(store.get(), QUEUE_NAME("append"), item) : nullptr;
}

PyObject* fifo_get_hook(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_get_hook(q);
  Ref store(attr(o, QUEUE_NAME("queue")));
  return store ? PyObject_CallMethodNoArgs(store.get(), QUEUE_NAME("popleft")) : nullptr;
}

PyObject* lifo_get_hook(PyObject* o, PyObject*) {
  QueueObject* q = qcast(o);
  if (!q->hooks) return native_get_hook(q);
  Ref store(attr(o, QUEUE_NAME("queue")));
  return store ? PyObject_CallMethodNoArgs(store.get(), QUEUE_NAME("pop")) : nullptr;
}

PyObject* heap_put_hook(PyObject* o, PyObject* item) {
  if (!qcast(o)->hooks) return native_put_hook(qcast(o), item);
  Ref store(attr(o, QUEUE_NAME("queue")));
  return store ? PyObject_CallFunctionObjArgs(g_heappush, store.get(), item, nullptr) : nullptr;
}

PyObject* heap_get_hook(PyObject* o, PyObject*) {
  if (!qcast(o)->hooks) return native_get_hook(qcast(o));
  Ref store(attr(o, QUEUE_NAME("queue")));
  return store ? PyObject_CallFunctionObjArgs(g_heappop, store.get(), nullptr) : nullptr;
}

// --- attributes -----------------------------------------------------------------

PyObject* get_maxsize(PyObject* o, void*) { return PyLong_FromLongLong(qcast(o)->maxsize); }

// The new value of an integer attribute; false with an error (a delete, or
// not an integer). *overflow as index_arg's.
bool int_attr_value(PyObject* value, const char* name, long long* v, int* overflow) {
  if (value == nullptr) {
    PyErr_Format(PyExc_AttributeError, "cannot delete %s", name);
    return false;
  }
  return index_arg(value, v, overflow);
}

int set_maxsize(PyObject* o, PyObject* value, void*) {
  long long v;
  int overflow;
  if (!int_attr_value(value, "maxsize", &v, &overflow)) return -1;
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
  long long v;
  int overflow;
  if (!int_attr_value(value, "unfinished_tasks", &v, &overflow)) return -1;
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

}  // namespace pythreading_py::queue_impl
