// pythreading.local: Python's thread-local data (CPython's _thread._local),
// kept in a threading::local<> — each thread's attribute dict is that
// thread's value, destroyed when the thread exits or the local dies.
//
// Written against the C API (not pybind11) because it needs what CPython's
// _local has: __new__ that accepts a subclass __init__'s arguments without
// calling it, custom attribute lookup in the per-thread dict, and GC support.
#include <new>
#include <threading/local.hpp>
#include <unordered_set>
#include <vector>

#include "pyutil.hpp"  // Python.h first

namespace pythreading_py {

namespace {

struct LocalImpl;

// One thread's state for one local: its attribute dict.
struct LocalValue {
  LocalImpl* impl;
  PyObject* dict;
  bool initialized = false;

  explicit LocalValue(LocalImpl* i);  // called with the GIL
  ~LocalValue();                      // any thread; takes the GIL itself
};

struct LocalImpl;
// Every live local (GIL-guarded), so a Python thread state that is going away
// can empty its own dicts (see ThreadStateSentinel).
std::unordered_set<LocalImpl*>* g_impls = new std::unordered_set<LocalImpl*>;

struct LocalImpl {
  LocalImpl() { g_impls->insert(this); }  // with the GIL
  ~LocalImpl() = default;                 // erased from g_impls by local_dealloc
  std::unordered_set<PyObject*> dicts;    // every thread's dict, for the GC (GIL-guarded)
  threading::local<LocalValue> values{this};
};

// CPython's own local frees a thread's attributes when the thread's *Python*
// state is cleared, before join() on that thread returns. Our values live
// until the OS thread exits, a moment later. So the first access in each
// Python thread plants a capsule in the thread state's dict; when the state
// is cleared, the capsule's destructor empties this thread's dicts, with the
// GIL held, in time for the joiner to see the attributes gone.
thread_local bool t_sentinel_planted = false;

// True while this thread's Python state is being cleared: a local freed by
// that clearing (one thread's attribute held another local) must not release
// the GIL, which the dying thread state could not take back.
thread_local bool t_clearing = false;

void clear_this_threads_values(PyObject*) {
  t_sentinel_planted = false;
  t_clearing = true;
  // Clearing a dict can free a local (and erase it from g_impls): walk a
  // snapshot and skip what is gone.
  std::vector<LocalImpl*> impls(g_impls->begin(), g_impls->end());
  for (LocalImpl* impl : impls) {
    if (g_impls->count(impl) == 0) continue;
    if (LocalValue* v = impl->values.get_if_present()) {
      v->initialized = false;
      PyObject* dict = v->dict;
      Py_INCREF(dict);
      PyDict_Clear(dict);
      Py_DECREF(dict);
    }
  }
  t_clearing = false;
}

void plant_sentinel() {
  if (t_sentinel_planted) return;
  PyObject* tsdict = PyThreadState_GetDict();
  if (tsdict == nullptr) return;
  PyObject* capsule =
      PyCapsule_New(&t_sentinel_planted, "pythreading.local.sentinel", clear_this_threads_values);
  if (capsule == nullptr) {
    PyErr_Clear();
    return;
  }
  if (PyDict_SetItemString(tsdict, "pythreading.local.sentinel", capsule) == 0) {
    t_sentinel_planted = true;
  } else {
    PyErr_Clear();
  }
  Py_DECREF(capsule);
}

LocalValue::LocalValue(LocalImpl* i) : impl(i), dict(PyDict_New()) {
  if (dict == nullptr) throw std::bad_alloc();
  impl->dicts.insert(dict);
}

LocalValue::~LocalValue() {
  // A thread's value dies when it exits (no GIL held then) or with the local.
  if (python_gone()) return;  // too late: leak it
  // Freed while this thread's state is cleared (t_clearing: the GIL is held):
  // no Ensure/Release pair, whose Release would clear and delete that thread
  // state a second time. (Not PyGILState_Check: once a sub-interpreter has
  // existed it answers "held" for every thread.)
  if (t_clearing) {
    impl->dicts.erase(dict);
    Py_DECREF(dict);
    return;
  }
  PyGILState_STATE st = PyGILState_Ensure();
  impl->dicts.erase(dict);
  Py_DECREF(dict);
  PyGILState_Release(st);
}

struct LocalObject {
  PyObject_HEAD PyObject* weakreflist;
  // The calling thread's dict, put here (a strong reference) before each
  // generic attribute lookup: CPython's generic getattr/setattr find the
  // instance dict through __dictoffset__, so they use the right thread's.
  PyObject* current_dict;
  PyObject* args;
  PyObject* kw;
  LocalImpl* impl;
};

PyTypeObject* g_local_type = nullptr;

bool uses_base_init(PyTypeObject* type) { return type->tp_init == PyBaseObject_Type.tp_init; }

// The calling thread's dict (borrowed), made and initialised on first use.
PyObject* local_dict(LocalObject* self) {
  LocalValue* v;
  try {
    v = &self->impl->values.get();
  } catch (const std::bad_alloc&) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return nullptr;
  }
  if (!v->initialized) {
    plant_sentinel();
    v->initialized = true;
    PyTypeObject* type = Py_TYPE(self);
    if (!uses_base_init(type) &&
        type->tp_init(reinterpret_cast<PyObject*>(self), self->args, self->kw) < 0) {
      // As CPython: forget this thread's dict; the next access tries again.
      v->initialized = false;
      PyDict_Clear(v->dict);
      return nullptr;
    }
  }
  return v->dict;
}

PyObject* local_new(PyTypeObject* type, PyObject* args, PyObject* kw) {
  if (uses_base_init(type) &&
      (PyTuple_GET_SIZE(args) != 0 || (kw != nullptr && PyDict_GET_SIZE(kw) != 0))) {
    PyErr_SetString(PyExc_TypeError, "Initialization arguments are not supported");
    return nullptr;
  }
  auto* self = reinterpret_cast<LocalObject*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  self->args = Py_NewRef(args);
  self->kw = Py_XNewRef(kw);
  try {
    self->impl = new LocalImpl;
    // The creating thread's dict: its __init__ runs through the type call.
    plant_sentinel();
    self->impl->values.get().initialized = true;
  } catch (const std::bad_alloc&) {
    Py_DECREF(self);
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(self);
}

int local_traverse(LocalObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(self->args);
  Py_VISIT(self->kw);
  Py_VISIT(self->current_dict);
  if (self->impl != nullptr) {
    for (PyObject* d : self->impl->dicts) Py_VISIT(d);
  }
  return 0;
}

int local_clear(LocalObject* self) {
  Py_CLEAR(self->args);
  Py_CLEAR(self->kw);
  Py_CLEAR(self->current_dict);
  if (self->impl != nullptr) {
    // The dicts belong to their threads; emptying them breaks the cycles.
    std::vector<PyObject*> dicts(self->impl->dicts.begin(), self->impl->dicts.end());
    for (PyObject* d : dicts) {
      Py_INCREF(d);
      PyDict_Clear(d);
      Py_DECREF(d);
    }
  }
  return 0;
}

void local_dealloc(LocalObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  if (self->weakreflist != nullptr) PyObject_ClearWeakRefs(reinterpret_cast<PyObject*>(self));
  local_clear(self);
  if (LocalImpl* impl = self->impl) {
    self->impl = nullptr;
    g_impls->erase(impl);
    // Destroying the values may wait for a thread that is exiting right now
    // and needs the GIL to drop its value; each value takes the GIL itself.
    // Not while this thread's state is being cleared (t_clearing): then the
    // GIL stays held, as the state could not take it back.
    if (t_clearing) {
      delete impl;
    } else {
      Py_BEGIN_ALLOW_THREADS delete impl;
      Py_END_ALLOW_THREADS
    }
  }
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* local_getattro(LocalObject* self, PyObject* name) {
  PyObject* dict = local_dict(self);
  if (dict == nullptr) return nullptr;
  if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__dict__") == 0) {
    return Py_NewRef(dict);
  }
  if (Py_TYPE(self) != g_local_type) {
    // A subclass: its per-thread attributes shadow everything but data
    // descriptors would; CPython looks in the dict first too.
    PyObject* value = PyDict_GetItemWithError(dict, name);
    if (value != nullptr) return Py_NewRef(value);
    if (PyErr_Occurred()) return nullptr;
  }
  return _PyObject_GenericGetAttrWithDict(reinterpret_cast<PyObject*>(self), name, dict, 0);
}

int local_setattro(LocalObject* self, PyObject* name, PyObject* v) {
  PyObject* dict = local_dict(self);
  if (dict == nullptr) return -1;
  if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__dict__") == 0) {
    PyErr_Format(PyExc_AttributeError, "'%.100s' object attribute '%U' is read-only",
                 Py_TYPE(self)->tp_name, name);
    return -1;
  }
  Py_XSETREF(self->current_dict, Py_NewRef(dict));
  return PyObject_GenericSetAttr(reinterpret_cast<PyObject*>(self), name, v);
}

PyMemberDef local_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(LocalObject, weakreflist), READONLY, nullptr},
    {"__dictoffset__", T_PYSSIZET, offsetof(LocalObject, current_dict), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot local_slots[] = {
    {Py_tp_doc, const_cast<char*>("Thread-local data: each thread sees its own attributes.")},
    {Py_tp_new, reinterpret_cast<void*>(local_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(local_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(local_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(local_clear)},
    {Py_tp_getattro, reinterpret_cast<void*>(local_getattro)},
    {Py_tp_setattro, reinterpret_cast<void*>(local_setattro)},
    {Py_tp_members, local_members},
    {0, nullptr}};

PyType_Spec local_spec = {"pythreading.local", sizeof(LocalObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                          local_slots};

}  // namespace

bool init_local(PyObject* m) {
  PyObject* type = PyType_FromSpec(&local_spec);
  if (type == nullptr) return false;
  g_local_type = reinterpret_cast<PyTypeObject*>(type);  // the module keeps it alive
  return add_type(m, "local", type);
}

}  // namespace pythreading_py
