// Lock, RLock and Condition for Python.
#include <deque>
#include <memory>
#include <string>
#include <threading/condition.hpp>
#include <threading/lock.hpp>
#include <threading/rlock.hpp>

#include "pyutil.hpp"

namespace pythreading_py {

PyTypeObject* g_lock_type = nullptr;
PyTypeObject* g_rlock_type = nullptr;

// ---------------------------------------------------------------------------
// Lock.acquire / RLock.acquire arguments, as CPython's _thread parses them.

namespace {

const char* const kAcquireNames[] = {"blocking", "timeout"};

// `blocking`: an int-like (CPython's "i"/"p" conversion of bool and int).
bool blocking_arg(PyObject* obj, bool* out) {
  if (obj == nullptr || obj == Py_True) {
    *out = true;
    return true;
  }
  if (obj == Py_False) {
    *out = false;
    return true;
  }
  long long v;
  int overflow;
  if (!index_arg(obj, &v, &overflow)) return false;  // no float truncation, even on 3.9
  if (overflow != 0) {
    PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long");
    return false;
  }
  *out = v != 0;
  return true;
}

// `timeout`: a float, or anything with __index__ (None and str: TypeError).
bool lock_timeout_arg(PyObject* obj, double* out) {
  if (obj == nullptr) {
    *out = -1;
    return true;
  }
  if (PyFloat_Check(obj)) {
    *out = PyFloat_AS_DOUBLE(obj);
    return true;
  }
  Ref idx;
  if (!PyLong_Check(obj)) {
    idx = Ref(PyNumber_Index(obj));
    if (!idx) return false;
    obj = idx.get();
  }
  *out = PyLong_AsDouble(obj);
  return !(*out == -1.0 && PyErr_Occurred());
}

// What an acquire(blocking, timeout) call means. Returns false with a Python
// error; else sets `forever` or `deadline` (an expired one for a poll).
bool acquire_plan(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, bool* forever,
                  Deadline* deadline) {
  PyObject* a[2];
  if (!parse_args("acquire", kAcquireNames, 2, 2, args, nargs, kwnames, a)) return false;
  bool blocking;
  double t;
  if (!blocking_arg(a[0], &blocking) || !lock_timeout_arg(a[1], &t)) return false;
  *forever = false;
  if (std::isnan(t)) {
    PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
    return false;
  }
  if (!check_timeout_max(t)) return false;  // converted before the non-blocking check
  if (!blocking) {
    if (t != -1) {
      PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
      return false;
    }
    *deadline = Deadline{0.0};
    return true;
  }
  if (t == -1) {
    *forever = true;
    return true;
  }
  if (t < 0) {
    PyErr_SetString(PyExc_ValueError, "timeout value must be positive");
    return false;
  }
  *deadline = Deadline::after(t);
  return true;
}

template <class L>
int acquire_slow(L& lock, bool forever, Deadline deadline) {
  if (!forever && deadline.expired()) return 0;
  return block([&](threading::Timeout w) { return lock.acquire(true, w); },
               forever ? Deadline::never() : deadline, [&] { lock.release(); });
}

PyObject* bool_result(int r) {
  if (r < 0) return nullptr;
  return PyBool_FromLong(r);
}

PyObject* no_attribute(PyObject* self, const char* name) {
  PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%s'",
               Py_TYPE(self)->tp_name, name);
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------
// Lock

struct LockObject {
  PyObject_HEAD threading::Lock lock;
  PyObject* weakrefs;
};

threading::Lock& lock_of(PyObject* o) { return reinterpret_cast<LockObject*>(o)->lock; }

namespace {

PyObject* lock_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  if (PyTuple_GET_SIZE(args) != 0 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
    PyErr_SetString(PyExc_TypeError, "lock() takes no arguments");
    return nullptr;
  }
  auto* self = reinterpret_cast<LockObject*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  new (&self->lock) threading::Lock();
  self->weakrefs = nullptr;
  return reinterpret_cast<PyObject*>(self);
}

void lock_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<LockObject*>(o);
  PyTypeObject* type = Py_TYPE(o);
  if (self->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  self->lock.~Lock();
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* lock_acquire(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  threading::Lock& lock = lock_of(o);
  if (nargs == 0 && kwnames == nullptr) {
    if (lock.try_lock()) Py_RETURN_TRUE;
    return bool_result(acquire_slow(lock, true, {}));
  }
  bool forever;
  Deadline deadline;
  if (!acquire_plan(args, nargs, kwnames, &forever, &deadline)) return nullptr;
  if (lock.try_lock()) Py_RETURN_TRUE;
  return bool_result(acquire_slow(lock, forever, deadline));
}

PyObject* lock_enter(PyObject* o, PyObject*) { return lock_acquire(o, nullptr, 0, nullptr); }

PyObject* lock_release(PyObject* o, PyObject*) {
  try {
    lock_of(o).release();
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}

PyObject* lock_exit(PyObject* o, PyObject* const*, Py_ssize_t) { return lock_release(o, nullptr); }

PyObject* lock_locked(PyObject* o, PyObject*) { return PyBool_FromLong(lock_of(o).locked()); }

PyObject* lock_at_fork_reinit(PyObject* o, PyObject*) {
  // In a fork child: whoever held it is gone.
  threading::Lock& l = lock_of(o);
  l.~Lock();
  new (&l) threading::Lock();
  Py_RETURN_NONE;
}

PyObject* lock_repr(PyObject* o) {
  return PyUnicode_FromFormat("<%s %s object at %p>", lock_of(o).locked() ? "locked" : "unlocked",
                              Py_TYPE(o)->tp_name, o);
}

#define FASTCALL_KW(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

PyMethodDef lock_methods[] = {
    {"acquire", FASTCALL_KW(lock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool\nTake the lock; see threading.Lock."},
    {"acquire_lock", FASTCALL_KW(lock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "An alias of acquire()."},
    {"__enter__", lock_enter, METH_NOARGS, "acquire()"},
    {"release", lock_release, METH_NOARGS, "Release the lock (any thread may)."},
    {"release_lock", lock_release, METH_NOARGS, "An alias of release()."},
    {"__exit__", FASTCALL_KW(lock_exit), METH_FASTCALL, "release()"},
    {"locked", lock_locked, METH_NOARGS, "True if the lock is held."},
    {"locked_lock", lock_locked, METH_NOARGS, "An alias of locked()."},
    {"_at_fork_reinit", lock_at_fork_reinit, METH_NOARGS, "Reset to unlocked (fork child)."},
    {nullptr, nullptr, 0, nullptr}};

PyMemberDef lock_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(LockObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot lock_slots[] = {
    {Py_tp_doc, const_cast<char*>("A primitive lock (CPython's _thread.lock); any thread may "
                                  "release it.")},
    {Py_tp_new, reinterpret_cast<void*>(lock_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(lock_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(lock_repr)},
    {Py_tp_methods, lock_methods},
    {Py_tp_members, lock_members},
    {0, nullptr}};

PyType_Spec lock_spec = {"pythreading.Lock", sizeof(LockObject), 0, Py_TPFLAGS_DEFAULT, lock_slots};

}  // namespace

// ---------------------------------------------------------------------------
// RLock: the library's RLock plus a mirror of its owner and count, written by
// the owner, so that repr() can show them from any thread.

struct RLockObject {
  PyObject_HEAD threading::RLock lock;
  std::atomic<unsigned long> owner;
  std::atomic<std::uint32_t> count;
  PyObject* weakrefs;

  // Relaxed: the mirror is for display only; nothing is ordered by it.
  void note_acquired() noexcept {
    std::uint32_t n = lock.recursion_count();
    if (n == 1) owner.store(PyThread_get_thread_ident(), std::memory_order_relaxed);
    count.store(n, std::memory_order_relaxed);
  }
  void note(unsigned long o, std::uint32_t n) noexcept {
    owner.store(o, std::memory_order_relaxed);
    count.store(n, std::memory_order_relaxed);
  }
};

namespace {

RLockObject* rlock_cast(PyObject* o) { return reinterpret_cast<RLockObject*>(o); }

PyObject* rlock_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  // Arguments are accepted and ignored, as CPython's _thread.RLock does
  // (with a DeprecationWarning from 3.13 on).
#if PY_VERSION_HEX >= 0x030D0000
  if (PyTuple_GET_SIZE(args) != 0 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
    if (PyErr_WarnEx(PyExc_DeprecationWarning,
                     "Passing arguments to RLock is deprecated and will be removed in 3.15",
                     1) < 0) {
      return nullptr;
    }
  }
#else
  (void)args;
  (void)kwargs;
#endif
  auto* self = rlock_cast(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  new (&self->lock) threading::RLock();
  new (&self->owner) std::atomic<unsigned long>(0);
  new (&self->count) std::atomic<std::uint32_t>(0);
  self->weakrefs = nullptr;
  return reinterpret_cast<PyObject*>(self);
}

void rlock_dealloc(PyObject* o) {
  auto* self = rlock_cast(o);
  PyTypeObject* type = Py_TYPE(o);
  if (self->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  self->lock.~RLock();
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* rlock_acquire(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  RLockObject* r = rlock_cast(o);
  int ok;
  if (nargs == 0 && kwnames == nullptr) {
    ok = r->lock.try_lock() ? 1 : acquire_slow(r->lock, true, {});
  } else {
    bool forever;
    Deadline deadline;
    // Validated even on re-entry, as CPython's C RLock does.
    if (!acquire_plan(args, nargs, kwnames, &forever, &deadline)) return nullptr;
    ok = r->lock.try_lock() ? 1 : acquire_slow(r->lock, forever, deadline);
  }
  if (ok > 0) r->note_acquired();
  return bool_result(ok);
}

PyObject* rlock_enter(PyObject* o, PyObject*) { return rlock_acquire(o, nullptr, 0, nullptr); }

PyObject* rlock_release(PyObject* o, PyObject*) {
  RLockObject* r = rlock_cast(o);
  std::uint32_t n = r->lock.recursion_count();
  try {
    r->lock.release();
  } catch (...) {
    return raise_current();
  }
  r->note(n == 1 ? 0 : r->owner.load(std::memory_order_relaxed), n - 1);
  Py_RETURN_NONE;
}

PyObject* rlock_exit(PyObject* o, PyObject* const*, Py_ssize_t) {
  return rlock_release(o, nullptr);
}

PyObject* rlock_is_owned(PyObject* o, PyObject*) {
  return PyBool_FromLong(rlock_cast(o)->lock.is_owned());
}

PyObject* rlock_recursion_count(PyObject* o, PyObject*) {
  return PyLong_FromUnsignedLong(rlock_cast(o)->lock.recursion_count());
}

// CPython's _release_save(): drop every level, return (count, owner).
PyObject* rlock_release_save(PyObject* o, PyObject*) {
  RLockObject* r = rlock_cast(o);
  std::uint32_t n = r->lock.recursion_count();
  if (n == 0) {
    PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
    return nullptr;
  }
  r->note(0, 0);
  for (std::uint32_t i = 0; i < n; ++i) r->lock.release();
  return Py_BuildValue("(Ik)", n, PyThread_get_thread_ident());
}

// CPython's _acquire_restore((count, owner)): re-take every level; like
// CPython's, this wait is not interruptible.
PyObject* rlock_acquire_restore(PyObject* o, PyObject* state) {
  RLockObject* r = rlock_cast(o);
  unsigned int n;
  unsigned long owner;
  Ref packed(PyTuple_Pack(1, state));
  if (!packed || !PyArg_ParseTuple(packed.get(), "(Ik):_acquire_restore", &n, &owner)) {
    return nullptr;
  }
  if (!r->lock.try_lock()) {
    Py_BEGIN_ALLOW_THREADS r->lock.acquire();
    Py_END_ALLOW_THREADS
  }
  for (unsigned int i = 1; i < n; ++i) r->lock.try_lock();
  r->note_acquired();
  Py_RETURN_NONE;
}

PyObject* rlock_at_fork_reinit(PyObject* o, PyObject*) {
  RLockObject* r = rlock_cast(o);
  r->lock.~RLock();
  new (&r->lock) threading::RLock();
  r->note(0, 0);
  Py_RETURN_NONE;
}

PyObject* rlock_repr(PyObject* o) {
  RLockObject* r = rlock_cast(o);
  unsigned long owner = r->owner.load(std::memory_order_relaxed);
  unsigned long count = r->count.load(std::memory_order_relaxed);
  if (r->lock.is_owned()) {
    owner = PyThread_get_thread_ident();
    count = r->lock.recursion_count();
  }
  return PyUnicode_FromFormat("<%s %s object owner=%lu count=%lu at %p>",
                              owner != 0 ? "locked" : "unlocked", Py_TYPE(o)->tp_name, owner, count,
                              o);
}

PyMethodDef rlock_methods[] = {
    {"acquire", FASTCALL_KW(rlock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool\nTake one level; see threading.RLock."},
    {"__enter__", rlock_enter, METH_NOARGS, "acquire()"},
    {"release", rlock_release, METH_NOARGS, "Release one level (owner only)."},
    {"__exit__", FASTCALL_KW(rlock_exit), METH_FASTCALL, "release()"},
    {"_is_owned", rlock_is_owned, METH_NOARGS, "True if the calling thread owns the lock."},
    {"_recursion_count", rlock_recursion_count, METH_NOARGS, "The caller's recursion level."},
    {"_release_save", rlock_release_save, METH_NOARGS, "For Condition.wait()."},
    {"_acquire_restore", rlock_acquire_restore, METH_O, "For Condition.wait()."},
    {"_at_fork_reinit", rlock_at_fork_reinit, METH_NOARGS, "Reset to unlocked (fork child)."},
    {nullptr, nullptr, 0, nullptr}};

PyMemberDef rlock_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(RLockObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot rlock_slots[] = {
    {Py_tp_doc, const_cast<char*>("A re-entrant lock (CPython's _thread.RLock); only the owner "
                                  "may release it.")},
    {Py_tp_new, reinterpret_cast<void*>(rlock_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(rlock_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(rlock_repr)},
    {Py_tp_methods, rlock_methods},
    {Py_tp_members, rlock_members},
    {0, nullptr}};

PyType_Spec rlock_spec = {"pythreading.RLock", sizeof(RLockObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, rlock_slots};

}  // namespace

// ---------------------------------------------------------------------------
// Condition. Over our own Lock/RLock it is the library's Condition; over any
// other object with acquire()/release() (threading.Lock(), a Semaphore, ...)
// it is the pure-Python algorithm: a FIFO of per-waiter Locks, guarded by the
// GIL.

namespace {

// One waiting thread: locked while it waits; a notifier releases it.
struct CondWaiter {
  threading::Lock lock;
  // g_gil_releases when notified (signals.hpp); written by the notifier
  // before it releases `lock`, read by the waiter after taking it.
  std::atomic<std::uint64_t> gil_mark{0};
};

struct ConditionObject {
  PyObject_HEAD PyObject* lock;
  PyObject* dict;
  PyObject* weakrefs;
  RLockObject* rlock;                                   // borrowed from `lock` when it is ours
  LockObject* plock;                                    // idem
  PyObject *acquire, *release;                          // foreign lock's bound methods
  PyObject *release_save, *acquire_restore, *is_owned;  // optional ones
  std::deque<CondWaiter*>* waiters;                     // see cond_wait_waiters (GIL-guarded)
};

ConditionObject* cond_cast(PyObject* o) { return reinterpret_cast<ConditionObject*>(o); }

PyObject* cond_new(PyTypeObject* type, PyObject*, PyObject*) {
  auto* self = cond_cast(type->tp_alloc(type, 0));  // zero-filled
  return reinterpret_cast<PyObject*>(self);
}

PyObject* optional_attr(PyObject* obj, const char* name) {
  PyObject* v = PyObject_GetAttrString(obj, name);
  if (v == nullptr && PyErr_ExceptionMatches(PyExc_AttributeError)) PyErr_Clear();
  return v;
}

void cond_clear_lock(ConditionObject* c) {
  delete c->waiters;
  c->waiters = nullptr;
  c->rlock = nullptr;
  c->plock = nullptr;
  Py_CLEAR(c->acquire);
  Py_CLEAR(c->release);
  Py_CLEAR(c->release_save);
  Py_CLEAR(c->acquire_restore);
  Py_CLEAR(c->is_owned);
  Py_CLEAR(c->lock);
}

int cond_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"lock"};
  PyObject* lock;
  if (!parse_tuple_args("Condition.__init__", names, 1, 1, args, kwargs, &lock)) return -1;
  ConditionObject* c = cond_cast(o);
  cond_clear_lock(c);
  Ref owned;
  if (lock == nullptr || lock == Py_None) {
    owned = Ref(PyObject_CallNoArgs(reinterpret_cast<PyObject*>(g_rlock_type)));
    if (!owned) return -1;
    lock = owned.get();
  }
  c->lock = Py_NewRef(lock);
  try {
    c->waiters = new std::deque<CondWaiter*>;
    if (Py_TYPE(lock) == g_rlock_type) {
      c->rlock = rlock_cast(lock);

    } else if (Py_TYPE(lock) == g_lock_type) {
      c->plock = reinterpret_cast<LockObject*>(lock);

    } else {
      c->acquire = PyObject_GetAttrString(lock, "acquire");  // AttributeError, as CPython
      if (c->acquire == nullptr) return -1;
      c->release = PyObject_GetAttrString(lock, "release");
      if (c->release == nullptr) return -1;
      c->release_save = optional_attr(lock, "_release_save");
      if (c->release_save == nullptr && PyErr_Occurred()) return -1;
      c->acquire_restore = optional_attr(lock, "_acquire_restore");
      if (c->acquire_restore == nullptr && PyErr_Occurred()) return -1;
      c->is_owned = optional_attr(lock, "_is_owned");
      if (c->is_owned == nullptr && PyErr_Occurred()) return -1;
    }
  } catch (...) {
    raise_current();
    return -1;
  }
  return 0;
}

int cond_traverse(PyObject* o, visitproc visit, void* arg) {
  ConditionObject* c = cond_cast(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(c->lock);
  Py_VISIT(c->dict);
  Py_VISIT(c->acquire);
  Py_VISIT(c->release);
  Py_VISIT(c->release_save);
  Py_VISIT(c->acquire_restore);
  Py_VISIT(c->is_owned);
  return 0;
}

int cond_clear(PyObject* o) {
  ConditionObject* c = cond_cast(o);
  Py_CLEAR(c->dict);
  Py_CLEAR(c->acquire);
  Py_CLEAR(c->release);
  Py_CLEAR(c->release_save);
  Py_CLEAR(c->acquire_restore);
  Py_CLEAR(c->is_owned);
  return 0;
}

void cond_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  ConditionObject* c = cond_cast(o);
  if (c->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  Py_CLEAR(c->dict);
  cond_clear_lock(c);
  type->tp_free(o);
  Py_DECREF(type);
}

bool cond_ready(ConditionObject* c) {
  if (c->lock != nullptr) return true;
  PyErr_SetString(PyExc_RuntimeError, "Condition.__init__() not called");
  return false;
}

PyObject* cond_acquire(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  if (c->rlock != nullptr) return rlock_acquire(c->lock, args, nargs, kwnames);
  if (c->plock != nullptr) return lock_acquire(c->lock, args, nargs, kwnames);
  return PyObject_Vectorcall(c->acquire, args, nargs, kwnames);
}

PyObject* cond_enter(PyObject* o, PyObject*) { return cond_acquire(o, nullptr, 0, nullptr); }

PyObject* cond_release(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  if (c->rlock != nullptr) return rlock_release(c->lock, nullptr);
  if (c->plock != nullptr) return lock_release(c->lock, nullptr);
  return PyObject_CallNoArgs(c->release);
}

PyObject* cond_exit(PyObject* o, PyObject* const*, Py_ssize_t) { return cond_release(o, nullptr); }

// 1 / 0 / -1 (error).
int cond_owned(ConditionObject* c) {
  if (c->rlock != nullptr) return c->rlock->lock.is_owned();
  if (c->plock != nullptr) return c->plock->lock.locked();
  if (c->is_owned != nullptr) {
    Ref r(PyObject_CallNoArgs(c->is_owned));
    return r ? truth(r.get()) : -1;
  }
  // The pure-Python fallback: owned if a non-blocking acquire fails.
  Ref r(PyObject_CallOneArg(c->acquire, Py_False));
  if (!r) return -1;
  int got = truth(r.get());
  if (got < 0) return -1;
  if (got == 1) {
    Ref rr(PyObject_CallNoArgs(c->release));
    if (!rr) return -1;
    return 0;
  }
  return 1;
}

PyObject* cond_is_owned(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  int r = cond_owned(c);
  return r < 0 ? nullptr : PyBool_FromLong(r);
}

PyObject* cond_release_save(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  if (c->rlock != nullptr) return rlock_release_save(c->lock, nullptr);
  if (c->plock != nullptr) return lock_release(c->lock, nullptr);
  return PyObject_CallNoArgs(c->release_save != nullptr ? c->release_save : c->release);
}

PyObject* cond_acquire_restore(PyObject* o, PyObject* state) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  if (c->rlock != nullptr) return rlock_acquire_restore(c->lock, state);
  if (c->plock != nullptr) return lock_acquire(c->lock, nullptr, 0, nullptr);
  if (c->acquire_restore != nullptr) return PyObject_CallOneArg(c->acquire_restore, state);
  return PyObject_CallNoArgs(c->acquire);
}

PyObject* cond_recursion_count(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (c->rlock == nullptr) return no_attribute(o, "_recursion_count");
  return rlock_recursion_count(c->lock, nullptr);
}

// Re-takes the Condition's lock after a wait, GIL first: a woken waiter
// that took the lock before the GIL would hold it while queueing for the
// GIL, and the thread holding the GIL would then block on the lock (a
// convoy). Like CPython's _acquire_restore, not interruptible.
template <class L>
void relock_after_wait(L& lock) {
  if (lock.try_lock()) return;
  PyThreadState* ts = release_gil();
  lock.acquire();
  PyEval_RestoreThread(ts);
}

// wait(): the documented algorithm — a per-waiter Lock in a FIFO, guarded
// by the GIL (every notify/wait holds it), the Condition's lock released
// while waiting. The waiter Lock lives on this stack: a notifier touches it
// only with the GIL, which this thread takes back before returning.
int cond_wait_waiters(ConditionObject* c, PyObject* timeout_obj) {
  std::optional<double> t;
  if (timeout_obj != nullptr && timeout_obj != Py_None) {
    double v;
    if (!number_arg(timeout_obj, &v)) return -1;
    if (v > 0 && !check_timeout_max(v)) return -1;
    t = v;
  }
  CondWaiter waiter;
  waiter.lock.acquire();
  try {
    c->waiters->push_back(&waiter);
  } catch (...) {
    raise_current();
    return -1;
  }
  std::uint32_t count = 0;
  Ref saved;
  if (c->rlock != nullptr) {
    count = c->rlock->lock.recursion_count();
    c->rlock->note(0, 0);
    for (std::uint32_t i = 0; i < count; ++i) c->rlock->lock.release();
  } else if (c->plock != nullptr) {
    c->plock->lock.release();
  } else {
    saved = Ref(cond_release_save(reinterpret_cast<PyObject*>(c), nullptr));
    if (!saved) {
      c->waiters->pop_back();
      return -1;
    }
  }
  int got;
  if (t && !(*t > 0)) {  // zero, negative or NaN: a poll, as in CPython
    got = waiter.lock.try_lock() ? 1 : 0;
  } else {
    // A notify is often a few bytecodes away: watch the waiter Lock first.
    got = block([&](threading::Timeout w) { return waiter.lock.acquire(true, w); },
                t ? Deadline::after(*t) : Deadline::never(), NoUndo{},
                [&] { return !waiter.lock.locked() && waiter.lock.try_lock(); }, &waiter.gil_mark);
  }
  // Re-take the lock even when interrupted; keep the first error.
  if (c->rlock != nullptr) {
    relock_after_wait(c->rlock->lock);
    for (std::uint32_t i = 1; i < count; ++i) c->rlock->lock.try_lock();  // re-entries
    c->rlock->note(PyThread_get_thread_ident(), count);
  } else if (c->plock != nullptr) {
    relock_after_wait(c->plock->lock);
  } else {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    Ref r(cond_acquire_restore(reinterpret_cast<PyObject*>(c), saved.get()));
    if (et != nullptr) {
      PyErr_Restore(et, ev, etb);
      got = -1;
    } else if (!r) {
      got = -1;
    }
  }
  if (got != 1) {
    for (auto it = c->waiters->begin(); it != c->waiters->end(); ++it) {
      if (*it == &waiter) {
        c->waiters->erase(it);
        break;
      }
    }
  }
  return got;
}

int cond_wait_impl(ConditionObject* c, PyObject* timeout) {
  int owned = cond_owned(c);
  if (owned < 0) return -1;
  if (owned == 0) {
    PyErr_SetString(PyExc_RuntimeError, "cannot wait on un-acquired lock");
    return -1;
  }
  return cond_wait_waiters(c, timeout);
}

PyObject* cond_wait(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"timeout"};
  PyObject* timeout;
  if (!parse_args("Condition.wait", names, 1, 1, args, nargs, kwnames, &timeout)) return nullptr;
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  return bool_result(cond_wait_impl(c, timeout));
}

PyObject* cond_wait_for(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"predicate", "timeout"};
  PyObject* a[2];
  if (!parse_args("Condition.wait_for", names, 2, 2, args, nargs, kwnames, a, 1)) return nullptr;
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  // The documented algorithm: one end time, computed at the first wait.
  std::optional<double> waittime, endtime;
  if (a[1] != nullptr && a[1] != Py_None) {
    double v;
    if (!number_arg(a[1], &v)) return nullptr;
    waittime = v;
  }
  Ref result(PyObject_CallNoArgs(a[0]));
  for (;;) {
    if (!result) return nullptr;
    int done = truth(result.get());
    if (done < 0) return nullptr;
    if (done) break;
    if (waittime) {
      if (!endtime) {
        endtime = monotonic() + *waittime;
      } else {
        waittime = *endtime - monotonic();
        if (*waittime <= 0) break;
      }
    }
    Ref t(waittime ? PyFloat_FromDouble(*waittime) : Py_NewRef(Py_None));
    if (!t || cond_wait_impl(c, t.get()) < 0) return nullptr;
    result = Ref(PyObject_CallNoArgs(a[0]));
  }
  return result.release();
}

// CPython: `while waiters and n > 0: ...; n -= 1`, so notify(1.5) wakes two.
bool notify_count(PyObject* n_obj, std::size_t* n) {
  if (n_obj == nullptr) {
    *n = 1;
    return true;
  }
  if (PyLong_Check(n_obj)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(n_obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return false;
    *n = overflow > 0 ? SIZE_MAX : (overflow < 0 || v <= 0 ? 0 : static_cast<std::size_t>(v));
    return true;
  }
  double d;
  if (!number_arg(n_obj, &d)) return false;
  *n = !(d > 0) ? 0 : d >= 1e18 ? SIZE_MAX : static_cast<std::size_t>(std::ceil(d));
  return true;
}

PyObject* notify_n(ConditionObject* c, std::size_t n) {
  int owned = cond_owned(c);
  if (owned < 0) return nullptr;
  if (owned == 0) {
    PyErr_SetString(PyExc_RuntimeError, "cannot notify on un-acquired lock");
    return nullptr;
  }
  while (!c->waiters->empty() && n > 0) {
    CondWaiter* w = c->waiters->front();
    c->waiters->pop_front();
    if (w->lock.locked()) {  // else: it timed out and is leaving
      mark_gil_handoff(w->gil_mark);
      w->lock.release();
      --n;
    }
  }
  Py_RETURN_NONE;
}

PyObject* cond_notify(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"n"};
  PyObject* n_obj;
  if (!parse_args("Condition.notify", names, 1, 1, args, nargs, kwnames, &n_obj)) return nullptr;
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  std::size_t n;
  if (!notify_count(n_obj, &n)) return nullptr;
  return notify_n(c, n);
}

PyObject* cond_notify_all(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  return notify_n(c, SIZE_MAX);
}

PyObject* cond_notifyAll(PyObject* o, PyObject*) {
  if (PyErr_WarnEx(PyExc_DeprecationWarning, "notifyAll() is deprecated, use notify_all() instead",
                   1) < 0) {
    return nullptr;
  }
  return cond_notify_all(o, nullptr);
}

PyObject* cond_copy(PyObject* o, PyObject*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  return copy_with_dict(
      o, [&] { return PyObject_CallOneArg(reinterpret_cast<PyObject*>(Py_TYPE(o)), c->lock); });
}

PyObject* cond_repr(PyObject* o) {
  ConditionObject* c = cond_cast(o);
  if (c->lock == nullptr) return PyUnicode_FromFormat("<Condition(uninitialized)>");
  std::size_t waiting = c->waiters->size();
  return PyUnicode_FromFormat("<Condition(%R, %zu)>", c->lock, waiting);
}

PyObject* cond_get_lock(PyObject* o, void*) {
  ConditionObject* c = cond_cast(o);
  if (!cond_ready(c)) return nullptr;
  return Py_NewRef(c->lock);
}

PyMethodDef cond_methods[] = {
    {"acquire", FASTCALL_KW(cond_acquire), METH_FASTCALL | METH_KEYWORDS,
     "The underlying lock's acquire()."},
    {"release", cond_release, METH_NOARGS, "The underlying lock's release()."},
    {"__enter__", cond_enter, METH_NOARGS, "acquire()"},
    {"__exit__", FASTCALL_KW(cond_exit), METH_FASTCALL, "release()"},
    {"wait", FASTCALL_KW(cond_wait), METH_FASTCALL | METH_KEYWORDS,
     "wait(timeout=None) -> bool\nRelease the lock, wait for a notify (or the timeout), "
     "re-take the lock."},
    {"wait_for", FASTCALL_KW(cond_wait_for), METH_FASTCALL | METH_KEYWORDS,
     "wait_for(predicate, timeout=None)\nWait until predicate() is true; its last value."},
    {"notify", FASTCALL_KW(cond_notify), METH_FASTCALL | METH_KEYWORDS,
     "notify(n=1)\nWake up to n waiters."},
    {"notify_all", cond_notify_all, METH_NOARGS, "Wake every waiter."},
    {"notifyAll", cond_notifyAll, METH_NOARGS, "Deprecated alias of notify_all()."},
    {"__copy__", cond_copy, METH_NOARGS, "A new Condition over the same lock."},
    {"_is_owned", cond_is_owned, METH_NOARGS, nullptr},
    {"_release_save", cond_release_save, METH_NOARGS, nullptr},
    {"_acquire_restore", cond_acquire_restore, METH_O, nullptr},
    {"_recursion_count", cond_recursion_count, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef cond_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"_lock", cond_get_lock, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef cond_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(ConditionObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ConditionObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot cond_slots[] = {
    {Py_tp_doc,
     const_cast<char*>("Condition(lock=None)\n--\n\nA condition variable over a Lock, an "
                       "RLock (the default) or any object with acquire()/release().")},
    {Py_tp_new, reinterpret_cast<void*>(cond_new)},
    {Py_tp_init, reinterpret_cast<void*>(cond_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(cond_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(cond_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(cond_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(cond_repr)},
    {Py_tp_methods, cond_methods},
    {Py_tp_getset, cond_getset},
    {Py_tp_members, cond_members},
    {0, nullptr}};

PyType_Spec cond_spec = {"pythreading.Condition", sizeof(ConditionObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, cond_slots};

}  // namespace

bool init_locks(PyObject* m) {
  PyObject* t = PyType_FromSpec(&lock_spec);
  if (t == nullptr) return false;
  g_lock_type = reinterpret_cast<PyTypeObject*>(t);
  if (!add_type(m, "Lock", t)) return false;
  t = PyType_FromSpec(&rlock_spec);
  if (t == nullptr) return false;
  g_rlock_type = reinterpret_cast<PyTypeObject*>(t);
  if (!add_type(m, "RLock", t)) return false;
  t = PyType_FromSpec(&cond_spec);
  return t != nullptr && add_type(m, "Condition", t);
}

}  // namespace pythreading_py
