// The `pythreading` extension module: pythreading's C++ objects with the API
// of Python's `threading` module. One binding mechanism throughout: CPython's
// public C API, heap types and METH_FASTCALL methods (see python/README.md).
#include <cstring>

#include "pyutil.hpp"

namespace pythreading_py {

unsigned long g_main_ident = 0;
PyObject* g_broken_barrier_error = nullptr;
PyObject* g_module = nullptr;

bool add_type(PyObject* module, const char* name, PyObject* type) {
  if (PyModule_AddObject(module, name, type) < 0) {
    Py_DECREF(type);
    return false;
  }
  return true;
}

namespace {

// The public names, as threading's __all__ lists them (those we have).
const char* const kAll[] = {
    "get_ident",   "active_count",     "Condition",      "current_thread", "enumerate",
    "main_thread", "TIMEOUT_MAX",      "Event",          "Lock",           "RLock",
    "Semaphore",   "BoundedSemaphore", "Thread",         "Barrier",        "BrokenBarrierError",
    "Timer",       "ThreadError",      "ExceptHookArgs", "setprofile",     "settrace",
    "local",       "stack_size",       "excepthook",     "get_native_id",  "getprofile",
    "gettrace"};

bool init_module(PyObject* m) {
  g_module = m;
  Ref threading_mod(PyImport_ImportModule("threading"));
  if (!threading_mod) return false;
  Ref main(PyObject_CallMethod(threading_mod.get(), "main_thread", nullptr));
  Ref ident(main ? PyObject_GetAttrString(main.get(), "ident") : nullptr);
  if (!ident) return false;
  g_main_ident = PyLong_AsUnsignedLong(ident.get());
  if (PyErr_Occurred()) return false;

  // BrokenBarrierError subclasses threading's, so code catching the standard
  // one catches ours too.
  Ref base(PyObject_GetAttrString(threading_mod.get(), "BrokenBarrierError"));
  if (!base) return false;
  g_broken_barrier_error = PyErr_NewExceptionWithDoc(
      "pythreading.BrokenBarrierError",
      "Raised by Barrier.wait() when the barrier is broken or reset.", base.get(), nullptr);
  if (g_broken_barrier_error == nullptr) return false;  // kept for the process
  if (PyModule_AddObject(m, "BrokenBarrierError", Py_NewRef(g_broken_barrier_error)) < 0 ||
      PyModule_AddObject(m, "ThreadError", Py_NewRef(PyExc_RuntimeError)) < 0 ||
      PyModule_AddObject(m, "TIMEOUT_MAX", PyFloat_FromDouble(threading::TIMEOUT_MAX)) < 0) {
    return false;
  }
  if (!init_locks(m) || !init_sync(m) || !init_thread(m) || !init_local(m) || !init_queue(m)) {
    return false;
  }
  if (!init_diagnostics(m)) return false;
  Ref all(PyList_New(0));
  if (!all) return false;
  for (const char* name : kAll) {
#if PY_VERSION_HEX < 0x030A0000
    // threading lists gettrace/getprofile from 3.10 on (we have them anyway).
    if (std::strncmp(name, "get", 3) == 0 && std::strstr(name, "profile") != nullptr) continue;
    if (std::strcmp(name, "gettrace") == 0) continue;
#endif
    Ref s(PyUnicode_FromString(name));
    if (!s || PyList_Append(all.get(), s.get()) < 0) return false;
  }
  return PyModule_AddObject(m, "__all__", all.release()) == 0;
}

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "pythreading",
    "Python's threading API implemented by pythreading, a native C++20 library.\n\n"
    "A drop-in for the threading module: Lock, RLock, Condition, Semaphore, "
    "BoundedSemaphore, Event, Barrier, Thread, Timer, local and the module functions.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr};

}  // namespace
}  // namespace pythreading_py

PyMODINIT_FUNC PyInit_pythreading() {
  PyObject* m = PyModule_Create(&pythreading_py::module_def);
  if (m == nullptr) return nullptr;
  if (!pythreading_py::init_module(m)) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
