// Semaphore, BoundedSemaphore, Event and Barrier for Python.
#include <functional>
#include <threading/barrier.hpp>
#include <threading/event.hpp>
#include <threading/semaphore.hpp>

#include "pyutil.hpp"

namespace pythreading_py {

PyTypeObject* g_event_type = nullptr;

namespace {

#define METH_CAST(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

// "<module.QualName at 0x...: " — the head of the reprs CPython's
// pure-Python classes give (a subclass shows its own name).
PyObject* repr_head(PyObject* o) {
  PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(o));
  Ref mod(PyObject_GetAttrString(type, "__module__"));
  Ref qual(mod ? PyObject_GetAttrString(type, "__qualname__") : nullptr);
  if (!qual) return nullptr;
  return PyUnicode_FromFormat("<%S.%S at %p: ", mod.get(), qual.get(), o);
}

PyObject* repr_with(PyObject* o, PyObject* tail) {
  Ref head(repr_head(o));
  Ref t(tail);
  if (!head || !t) return nullptr;
  return PyUnicode_Concat(head.get(), t.get());
}

PyObject* not_initialized(PyObject* o, const char* attr) {
  PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%s'", Py_TYPE(o)->tp_name,
               attr);
  return nullptr;
}

// ---------------------------------------------------------------------------
// Semaphore / BoundedSemaphore: the C++ object lives inside the Python one.

struct SemObject {
  PyObject_HEAD threading::Semaphore* sem;  // into `storage`; null before __init__
  alignas(threading::BoundedSemaphore) unsigned char storage[sizeof(threading::BoundedSemaphore)];
  std::atomic<std::uint64_t> gil_mark;  // left by release() for the thread it wakes (signals.hpp)
  PyObject* dict;
  PyObject* weakrefs;
};

SemObject* sem_cast(PyObject* o) { return reinterpret_cast<SemObject*>(o); }

PyTypeObject* g_bounded_type = nullptr;

void sem_destroy(SemObject* s) {
  if (s->sem != nullptr) {
    s->sem->~Semaphore();
    s->sem = nullptr;
  }
}

PyObject* sem_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* o = type->tp_alloc(type, 0);  // zero-filled: sem == nullptr
  if (o != nullptr) new (&sem_cast(o)->gil_mark) std::atomic<std::uint64_t>(0);
  return o;
}

// The initial value: an int (or __index__) >= 0.
bool sem_value(PyObject* v, long long* out) {
  if (v == nullptr) {
    *out = 1;
    return true;
  }
  int overflow = 0;
  if (PyFloat_Check(v) || (!PyLong_Check(v) && Py_TYPE(v)->tp_as_number != nullptr &&
                           Py_TYPE(v)->tp_as_number->nb_index == nullptr)) {
    // CPython's pure-Python Semaphore takes any real number (it only
    // compares it with 0); a fraction of a unit is a whole one here.
    double d;
    if (!number_arg(v, &d)) return false;
    if (std::isnan(d) || d < 0) {
      PyErr_SetString(PyExc_ValueError, "semaphore initial value must be >= 0");
      return false;
    }
    d = std::ceil(d);
    overflow = d > static_cast<double>(threading::Semaphore::kMaxValue) ? 1 : 0;
    *out = overflow != 0 ? 0 : static_cast<long long>(d);
  } else if (!index_arg(v, out, &overflow)) {
    return false;
  }
  if (overflow < 0 || (overflow == 0 && *out < 0)) {
    PyErr_SetString(PyExc_ValueError, "semaphore initial value must be >= 0");
    return false;
  }
  if (overflow > 0 || *out > threading::Semaphore::kMaxValue) {
    PyErr_SetString(PyExc_OverflowError, "semaphore value too large");
    return false;
  }
  return true;
}

int sem_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"value"};
  PyObject* v;
  bool bounded = PyObject_TypeCheck(o, g_bounded_type);
  if (!parse_tuple_args(bounded ? "BoundedSemaphore.__init__" : "Semaphore.__init__", names, 1, 1,
                        args, kwargs, &v)) {
    return -1;
  }
  long long value;
  if (!sem_value(v, &value)) return -1;
  SemObject* s = sem_cast(o);
  sem_destroy(s);
  try {
    if (bounded) {
      s->sem = new (s->storage) threading::BoundedSemaphore(value);
    } else {
      s->sem = new (s->storage) threading::Semaphore(value);
    }
  } catch (...) {
    raise_current();
    return -1;
  }
  return 0;
}

int sem_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(sem_cast(o)->dict);
  return 0;
}

int sem_clear(PyObject* o) {
  Py_CLEAR(sem_cast(o)->dict);
  return 0;
}

void sem_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  SemObject* s = sem_cast(o);
  if (s->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  Py_CLEAR(s->dict);
  sem_destroy(s);
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* sem_acquire_slow(SemObject* so, PyObject* blocking_obj, PyObject* timeout_obj) {
  threading::Semaphore& sem = *so->sem;
  int b = blocking_obj != nullptr ? truth(blocking_obj) : 1;
  if (b < 0) return nullptr;
  bool has_timeout = timeout_obj != nullptr && timeout_obj != Py_None;
  if (b == 0 && has_timeout) {
    PyErr_SetString(PyExc_ValueError, "can't specify timeout for non-blocking acquire");
    return nullptr;
  }
  if (sem.try_lock()) Py_RETURN_TRUE;
  if (b == 0) Py_RETURN_FALSE;
  // The timeout is looked at only now that the call has to wait.
  Deadline deadline;
  if (has_timeout) {
    double t;
    if (!number_arg(timeout_obj, &t)) return nullptr;
    if (!std::isnan(t)) {  // NaN never expires (CPython re-polls forever)
      if (t <= 0) return PyBool_FromLong(sem.try_lock());
      if (!check_timeout_max(t)) return nullptr;
      deadline = Deadline::after(t);
    }
  }
  // A release is often a few bytecodes away: watch the count first.
  int r = block([&](threading::Timeout w) { return sem.acquire(true, w); }, deadline,
                [&] { sem.release(); }, [&] { return sem.try_lock(); }, &so->gil_mark);
  return r < 0 ? nullptr : PyBool_FromLong(r);
}

PyObject* sem_acquire(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  threading::Semaphore* s = sem_cast(o)->sem;
  if (s == nullptr) return not_initialized(o, "_cond");
  if (nargs == 0 && kwnames == nullptr && s->try_lock()) Py_RETURN_TRUE;
  static const char* const names[] = {"blocking", "timeout"};
  PyObject* a[2];
  if (!parse_args("Semaphore.acquire", names, 2, 2, args, nargs, kwnames, a)) return nullptr;
  return sem_acquire_slow(sem_cast(o), a[0], a[1]);
}

PyObject* sem_enter(PyObject* o, PyObject*) { return sem_acquire(o, nullptr, 0, nullptr); }

PyObject* sem_release(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  threading::Semaphore* s = sem_cast(o)->sem;
  if (s == nullptr) return not_initialized(o, "_cond");
  std::size_t n = 1;
  if (nargs != 0 || kwnames != nullptr) {
    static const char* const names[] = {"n"};
    PyObject* n_obj;
    if (!parse_args("Semaphore.release", names, 1, 1, args, nargs, kwnames, &n_obj)) return nullptr;
    if (n_obj != nullptr) {
      long long v;
      int overflow;
      if (!index_arg(n_obj, &v, &overflow)) return nullptr;
      if (overflow < 0 || (overflow == 0 && v < 1)) {
        PyErr_SetString(PyExc_ValueError, "n must be one or more");
        return nullptr;
      }
      if (overflow > 0) {
        PyErr_SetString(PyExc_OverflowError, "semaphore value too large");
        return nullptr;
      }
      n = static_cast<std::size_t>(v);
    }
  }
  try {
    mark_gil_handoff(sem_cast(o)->gil_mark);
    s->release(n);
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}

PyObject* sem_exit(PyObject* o, PyObject* const*, Py_ssize_t) {
  return sem_release(o, nullptr, 0, nullptr);
}

PyObject* sem_copy(PyObject* o, PyObject*) {
  threading::Semaphore* s = sem_cast(o)->sem;
  if (s == nullptr) return not_initialized(o, "_cond");
  return copy_with_dict(o, [&]() -> PyObject* {
    bool bounded = PyObject_TypeCheck(o, g_bounded_type);
    long long init =
        bounded ? static_cast<threading::BoundedSemaphore*>(s)->initial_value() : s->value();
    PyObject* c = PyObject_CallFunction(reinterpret_cast<PyObject*>(Py_TYPE(o)), "L", init);
    if (c == nullptr || sem_cast(c)->sem == nullptr) return c;
    for (long long v = init; v > s->value(); --v) sem_cast(c)->sem->try_lock();
    return c;
  });
}

PyObject* sem_repr(PyObject* o) {
  threading::Semaphore* s = sem_cast(o)->sem;
  if (s == nullptr) return repr_with(o, PyUnicode_FromString("uninitialized>"));
  if (PyObject_TypeCheck(o, g_bounded_type)) {
    auto* b = static_cast<threading::BoundedSemaphore*>(s);
    return repr_with(o, PyUnicode_FromFormat("value=%lld/%lld>", b->value(), b->initial_value()));
  }
  return repr_with(o, PyUnicode_FromFormat("value=%lld>", s->value()));
}

PyObject* sem_get_value(PyObject* o, void*) {
  threading::Semaphore* s = sem_cast(o)->sem;
  if (s == nullptr) return not_initialized(o, "_value");
  return PyLong_FromLongLong(s->value());
}

PyMethodDef sem_methods[] = {
    {"acquire", METH_CAST(sem_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=None) -> bool\nTake one unit, waiting while there is "
     "none."},
    {"__enter__", sem_enter, METH_NOARGS, "acquire()"},
    {"release", METH_CAST(sem_release), METH_FASTCALL | METH_KEYWORDS,
     "release(n=1)\nGive back n units, waking up to n waiters."},
    {"__exit__", METH_CAST(sem_exit), METH_FASTCALL, "release()"},
    {"__copy__", sem_copy, METH_NOARGS, "A new semaphore with the same value."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef sem_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"_value", sem_get_value, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef sem_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(SemObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SemObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot sem_slots[] = {
    {Py_tp_doc,
     const_cast<char*>("Semaphore(value=1)\n--\n\nA counter; acquire() waits while it is "
                       "0, release() has no upper bound.")},
    {Py_tp_new, reinterpret_cast<void*>(sem_new)},
    {Py_tp_init, reinterpret_cast<void*>(sem_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(sem_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(sem_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(sem_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(sem_repr)},
    {Py_tp_methods, sem_methods},
    {Py_tp_getset, sem_getset},
    {Py_tp_members, sem_members},
    {0, nullptr}};

PyType_Spec sem_spec = {"pythreading.Semaphore", sizeof(SemObject), 0,
                        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, sem_slots};

PyType_Slot bounded_slots[] = {
    {Py_tp_doc,
     const_cast<char*>("BoundedSemaphore(value=1)\n--\n\nA Semaphore whose release() may "
                       "not raise the counter above its initial value.")},
    {Py_tp_traverse, reinterpret_cast<void*>(sem_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(sem_clear)},
    {0, nullptr}};

PyType_Spec bounded_spec = {"pythreading.BoundedSemaphore", sizeof(SemObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                            bounded_slots};

// ---------------------------------------------------------------------------
// Event

struct EventObject {
  PyObject_HEAD threading::Event event;
  std::atomic<std::uint64_t> gil_mark;  // left by set() for the threads it wakes (signals.hpp)
  // set() calls so far (written with the GIL): a waiter that watches the
  // flag before it sleeps (block()'s probe) must not miss a set(); clear()
  // pulse made meanwhile, which the Event's own wait would have counted.
  std::atomic<std::uint64_t> sets;
  PyObject* dict;
  PyObject* weakrefs;
};

threading::Event& event_of(PyObject* o) { return reinterpret_cast<EventObject*>(o)->event; }

PyObject* event_new(PyTypeObject* type, PyObject*, PyObject*) {
  auto* self = reinterpret_cast<EventObject*>(type->tp_alloc(type, 0));
  if (self != nullptr) {
    new (&self->event) threading::Event();
    new (&self->gil_mark) std::atomic<std::uint64_t>(0);
    new (&self->sets) std::atomic<std::uint64_t>(0);
  }
  return reinterpret_cast<PyObject*>(self);
}

int event_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  if (!parse_tuple_args("Event.__init__", nullptr, 0, 0, args, kwargs, nullptr)) return -1;
  event_of(o).clear();
  return 0;
}

int event_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(reinterpret_cast<EventObject*>(o)->dict);
  return 0;
}

int event_clear_gc(PyObject* o) {
  Py_CLEAR(reinterpret_cast<EventObject*>(o)->dict);
  return 0;
}

void event_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  auto* e = reinterpret_cast<EventObject*>(o);
  if (e->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  Py_CLEAR(e->dict);
  e->event.~Event();
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* event_is_set(PyObject* o, PyObject*) { return PyBool_FromLong(event_of(o).is_set()); }

PyObject* event_isSet(PyObject* o, PyObject*) {
  if (PyErr_WarnEx(PyExc_DeprecationWarning, "isSet() is deprecated, use is_set() instead", 1) <
      0) {
    return nullptr;
  }
  return event_is_set(o, nullptr);
}

PyObject* event_set(PyObject* o, PyObject*) {
  try {
    auto* e = reinterpret_cast<EventObject*>(o);
    mark_gil_handoff(e->gil_mark);
    // Release: pairs with the watching waiter's acquire load (it returns
    // True, so what came before set() must be visible to it).
    e->sets.store(e->sets.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    event_of(o).set();
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}

PyObject* event_clear(PyObject* o, PyObject*) {
  event_of(o).clear();
  Py_RETURN_NONE;
}

PyObject* event_wait(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"timeout"};
  PyObject* timeout;
  if (!parse_args("Event.wait", names, 1, 1, args, nargs, kwnames, &timeout)) return nullptr;
  threading::Event& ev = event_of(o);
  if (ev.is_set()) Py_RETURN_TRUE;  // the timeout is not even looked at
  Deadline deadline;
  if (timeout != nullptr && timeout != Py_None) {
    double t;
    if (!number_arg(timeout, &t)) return nullptr;
    if (std::isnan(t) || t <= 0) return PyBool_FromLong(ev.is_set());
    if (!check_timeout_max(t)) return nullptr;
    deadline = Deadline::after(t);
  }
  // A set() is often a few bytecodes away: watch the flag first. Any set()
  // since this call began counts, as for a waiter already inside ev.wait().
  auto* e = reinterpret_cast<EventObject*>(o);
  std::uint64_t seen = e->sets.load(std::memory_order_relaxed);  // GIL held
  auto set_since = [&] { return e->sets.load(std::memory_order_acquire) != seen || ev.is_set(); };
  int r = block([&](threading::Timeout w) { return set_since() || ev.wait(w); }, deadline, NoUndo{},
                set_since, &e->gil_mark);
  return r < 0 ? nullptr : PyBool_FromLong(r);
}

PyObject* event_at_fork_reinit(PyObject* o, PyObject*) {
  threading::Event& ev = event_of(o);
  bool was_set = ev.is_set();
  ev.~Event();
  new (&ev) threading::Event();
  if (was_set) ev.set();
  Py_RETURN_NONE;
}

PyObject* event_copy(PyObject* o, PyObject*) {
  return copy_with_dict(o, [&]() -> PyObject* {
    PyObject* c = PyObject_CallNoArgs(reinterpret_cast<PyObject*>(Py_TYPE(o)));
    if (c != nullptr && event_of(o).is_set()) event_of(c).set();
    return c;
  });
}

PyObject* event_repr(PyObject* o) {
  return repr_with(o, PyUnicode_FromString(event_of(o).is_set() ? "set>" : "unset>"));
}

PyMethodDef event_methods[] = {
    {"is_set", event_is_set, METH_NOARGS, "True if the flag is set."},
    {"isSet", event_isSet, METH_NOARGS, "Deprecated alias of is_set()."},
    {"set", event_set, METH_NOARGS, "Set the flag, waking every waiter."},
    {"clear", event_clear, METH_NOARGS, "Reset the flag."},
    {"wait", METH_CAST(event_wait), METH_FASTCALL | METH_KEYWORDS,
     "wait(timeout=None) -> bool\nWait until the flag is set; the flag."},
    {"_at_fork_reinit", event_at_fork_reinit, METH_NOARGS, "Reset waiters (fork child)."},
    {"__copy__", event_copy, METH_NOARGS, "A new Event in the same state."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef event_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef event_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(EventObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(EventObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot event_slots[] = {
    {Py_tp_doc, const_cast<char*>("Event()\n--\n\nA flag that threads can wait for.")},
    {Py_tp_new, reinterpret_cast<void*>(event_new)},
    {Py_tp_init, reinterpret_cast<void*>(event_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(event_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(event_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(event_clear_gc)},
    {Py_tp_repr, reinterpret_cast<void*>(event_repr)},
    {Py_tp_methods, event_methods},
    {Py_tp_getset, event_getset},
    {Py_tp_members, event_members},
    {0, nullptr}};

PyType_Spec event_spec = {"pythreading.Event", sizeof(EventObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                          event_slots};

// ---------------------------------------------------------------------------
// Barrier

struct BarrierObject {
  PyObject_HEAD threading::Barrier* barrier;  // null before __init__
  PyObject* action;                           // the Python callable, or nullptr
  threading::Timeout default_timeout;         // the constructor's timeout
  PyObject* dict;
  PyObject* weakrefs;
};

BarrierObject* barrier_cast(PyObject* o) { return reinterpret_cast<BarrierObject*>(o); }

PyObject* barrier_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* o = type->tp_alloc(type, 0);
  if (o != nullptr) new (&barrier_cast(o)->default_timeout) threading::Timeout();
  return o;
}

void barrier_destroy(BarrierObject* b) {
  delete b->barrier;
  b->barrier = nullptr;
}

int barrier_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"parties", "action", "timeout"};
  PyObject* a[3];
  if (!parse_tuple_args("Barrier.__init__", names, 3, 3, args, kwargs, a, 1)) return -1;
  long long parties;
  int overflow;
  if (!index_arg(a[0], &parties, &overflow)) return -1;
  if (overflow < 0 || (overflow == 0 && parties < 1)) {
    PyErr_SetString(PyExc_ValueError, "parties must be > 0");
    return -1;
  }
  if (overflow > 0) {
    PyErr_SetString(PyExc_OverflowError, "parties too large");
    return -1;
  }
  threading::Timeout timeout;
  if (a[2] != nullptr && a[2] != Py_None) {
    double t;
    if (!number_arg(a[2], &t)) return -1;
    timeout = t;
  }
  BarrierObject* b = barrier_cast(o);
  barrier_destroy(b);
  Py_CLEAR(b->action);
  b->default_timeout = timeout;
  std::function<void()> fn;
  if (a[1] != nullptr && a[1] != Py_None) {
    b->action = Py_NewRef(a[1]);
    // Borrowed: the action runs inside wait(), whose caller holds the Barrier.
    PyObject* action = b->action;
    fn = [action] {
      PyGILState_STATE st = PyGILState_Ensure();
      PyObject* r = PyObject_CallNoArgs(action);
      if (r == nullptr) {
        PythonError err;  // breaks the barrier; rethrown to this waiter
        PyGILState_Release(st);
        throw err;
      }
      Py_DECREF(r);
      PyGILState_Release(st);
    };
  }
  try {
    b->barrier = new threading::Barrier(static_cast<std::size_t>(parties), std::move(fn), timeout);
  } catch (...) {
    raise_current();
    return -1;
  }
  return 0;
}

int barrier_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(barrier_cast(o)->action);
  Py_VISIT(barrier_cast(o)->dict);
  return 0;
}

int barrier_clear(PyObject* o) {
  Py_CLEAR(barrier_cast(o)->dict);
  return 0;
}

void barrier_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  BarrierObject* b = barrier_cast(o);
  if (b->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  Py_CLEAR(b->dict);
  barrier_destroy(b);
  Py_CLEAR(b->action);
  type->tp_free(o);
  Py_DECREF(type);
}

threading::Barrier* barrier_of(PyObject* o) {
  threading::Barrier* b = barrier_cast(o)->barrier;
  if (b == nullptr) not_initialized(o, "_cond");
  return b;
}

PyObject* barrier_wait(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"timeout"};
  PyObject* timeout_obj;
  if (!parse_args("Barrier.wait", names, 1, 1, args, nargs, kwnames, &timeout_obj)) return nullptr;
  threading::Barrier* b = barrier_of(o);
  if (b == nullptr) return nullptr;
  threading::Timeout timeout = barrier_cast(o)->default_timeout;
  if (timeout_obj != nullptr && timeout_obj != Py_None) {
    double t;
    if (!number_arg(timeout_obj, &t)) return nullptr;
    timeout = t;
  }
  std::size_t index = 0;
  // One attempt, never repeated: a Barrier wait that times out breaks the
  // barrier. In the main thread an untimed wait gets the longest timeout, so
  // that a signal can interrupt it (an exception from the handler then
  // breaks the barrier, as a timeout would; see python/README.md).
  if (timeout.is_none() && in_main_thread()) timeout = threading::TIMEOUT_MAX;
  int r = block(
      [&](threading::Timeout) {
        index = b->wait(timeout);
        return true;
      },
      Deadline::never());
  if (r < 0) return nullptr;
  return PyLong_FromSize_t(index);
}

PyObject* barrier_reset(PyObject* o, PyObject*) {
  threading::Barrier* b = barrier_of(o);
  if (b == nullptr) return nullptr;
  Py_BEGIN_ALLOW_THREADS b->reset();
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

PyObject* barrier_abort(PyObject* o, PyObject*) {
  threading::Barrier* b = barrier_of(o);
  if (b == nullptr) return nullptr;
  Py_BEGIN_ALLOW_THREADS b->abort();
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

PyObject* barrier_parties(PyObject* o, void*) {
  threading::Barrier* b = barrier_of(o);
  return b == nullptr ? nullptr : PyLong_FromSize_t(b->parties());
}

PyObject* barrier_n_waiting(PyObject* o, void*) {
  threading::Barrier* b = barrier_of(o);
  return b == nullptr ? nullptr : PyLong_FromSize_t(b->n_waiting());
}

PyObject* barrier_broken(PyObject* o, void*) {
  threading::Barrier* b = barrier_of(o);
  return b == nullptr ? nullptr : PyBool_FromLong(b->broken());
}

PyObject* barrier_copy(PyObject* o, PyObject*) {
  threading::Barrier* b = barrier_of(o);
  if (b == nullptr) return nullptr;
  BarrierObject* bo = barrier_cast(o);
  return copy_with_dict(o, [&]() -> PyObject* {
    Ref timeout(bo->default_timeout.is_none() ? Py_NewRef(Py_None)
                                              : PyFloat_FromDouble(bo->default_timeout.seconds()));
    if (!timeout) return nullptr;
    return PyObject_CallFunction(reinterpret_cast<PyObject*>(Py_TYPE(o)), "nOO",
                                 static_cast<Py_ssize_t>(b->parties()),
                                 bo->action != nullptr ? bo->action : Py_None, timeout.get());
  });
}

PyObject* barrier_repr(PyObject* o) {
  threading::Barrier* b = barrier_cast(o)->barrier;
  if (b == nullptr) return repr_with(o, PyUnicode_FromString("uninitialized>"));
  if (b->broken()) return repr_with(o, PyUnicode_FromString("broken>"));
  return repr_with(o, PyUnicode_FromFormat("waiters=%zu/%zu>", b->n_waiting(), b->parties()));
}

PyMethodDef barrier_methods[] = {
    {"wait", METH_CAST(barrier_wait), METH_FASTCALL | METH_KEYWORDS,
     "wait(timeout=None) -> int\nWait until `parties` threads wait; a distinct index in "
     "range(parties)."},
    {"reset", barrier_reset, METH_NOARGS,
     "Back to the empty state; waiters get "
     "BrokenBarrierError."},
    {"abort", barrier_abort, METH_NOARGS, "Break the barrier."},
    {"__copy__", barrier_copy, METH_NOARGS, "A new Barrier with the same parameters."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef barrier_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"parties", barrier_parties, nullptr, "The number of threads to wait for.", nullptr},
    {"n_waiting", barrier_n_waiting, nullptr, "Threads waiting now.", nullptr},
    {"broken", barrier_broken, nullptr, "True if the barrier is broken.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef barrier_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(BarrierObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(BarrierObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot barrier_slots[] = {
    {Py_tp_doc, const_cast<char*>("Barrier(parties, action=None, timeout=None)\n--\n\nA cyclic "
                                  "barrier; the last to arrive runs action first.")},
    {Py_tp_new, reinterpret_cast<void*>(barrier_new)},
    {Py_tp_init, reinterpret_cast<void*>(barrier_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(barrier_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(barrier_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(barrier_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(barrier_repr)},
    {Py_tp_methods, barrier_methods},
    {Py_tp_getset, barrier_getset},
    {Py_tp_members, barrier_members},
    {0, nullptr}};

PyType_Spec barrier_spec = {"pythreading.Barrier", sizeof(BarrierObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                            barrier_slots};

}  // namespace

bool init_sync(PyObject* m) {
  PyObject* sem = PyType_FromSpec(&sem_spec);
  if (sem == nullptr) return false;
  Ref bases(PyTuple_Pack(1, sem));
  if (!add_type(m, "Semaphore", sem) || !bases) return false;
  PyObject* bounded = PyType_FromSpecWithBases(&bounded_spec, bases.get());
  if (bounded == nullptr) return false;
  g_bounded_type = reinterpret_cast<PyTypeObject*>(bounded);
  if (!add_type(m, "BoundedSemaphore", bounded)) return false;
  PyObject* ev = PyType_FromSpec(&event_spec);
  if (ev == nullptr) return false;
  g_event_type = reinterpret_cast<PyTypeObject*>(ev);
  if (!add_type(m, "Event", ev)) return false;
  PyObject* b = PyType_FromSpec(&barrier_spec);
  return b != nullptr && add_type(m, "Barrier", b);
}

}  // namespace pythreading_py
