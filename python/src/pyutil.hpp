// Shared helpers of the pythreading extension module. The module is written
// against CPython's public C API only (no _Py* names, no pybind11), so that
// one source builds on every CPython from 3.9 on; see python/README.md.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>
// clang-format off
#include <structmember.h>
// clang-format on

#include <time.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <threading/errors.hpp>
#include <threading/timeout.hpp>

// --- compatibility with older CPythons (all public API in newer ones) -------

#if PY_VERSION_HEX < 0x030A0000
// Py_NewRef/Py_XNewRef arrived in 3.10.
static inline PyObject* pythreading_newref(PyObject* o) {
  Py_INCREF(o);
  return o;
}
static inline PyObject* pythreading_xnewref(PyObject* o) {
  Py_XINCREF(o);
  return o;
}
#define Py_NewRef(o) pythreading_newref(reinterpret_cast<PyObject*>(o))
#define Py_XNewRef(o) pythreading_xnewref(reinterpret_cast<PyObject*>(o))
#endif

#if PY_VERSION_HEX >= 0x030D0000
#define PYTHREADING_IS_FINALIZING() Py_IsFinalizing()
#else
// Before 3.13 the only public signal is sys.is_finalizing(), which needs the
// GIL; our callers without it ask this flag, set by the module's own atexit
// shutdown step (which runs before finalization tears down objects).
namespace pythreading_py {
extern std::atomic<bool> g_finalizing;
}
#define PYTHREADING_IS_FINALIZING() pythreading_py::g_finalizing.load(std::memory_order_acquire)
#endif

namespace pythreading_py {

// True when Python objects may no longer be touched from a thread that does
// not hold the GIL (the interpreter is gone or going).
inline bool python_gone() noexcept { return !Py_IsInitialized() || PYTHREADING_IS_FINALIZING(); }

// --- owned references ------------------------------------------------------

// A strong reference, released on scope exit (only where the GIL is held).
class Ref {
 public:
  Ref() noexcept = default;
  explicit Ref(PyObject* steal) noexcept : p_(steal) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  Ref(Ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Ref& operator=(Ref&& o) noexcept {
    PyObject* old = p_;
    p_ = o.p_;
    o.p_ = nullptr;
    Py_XDECREF(old);
    return *this;
  }
  ~Ref() { Py_XDECREF(p_); }
  PyObject* get() const noexcept { return p_; }
  PyObject* release() noexcept {
    PyObject* p = p_;
    p_ = nullptr;
    return p;
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

// --- module-wide state (set once at import, kept for the process) ----------

extern unsigned long g_main_ident;        // threading.main_thread().ident at import
extern PyObject* g_broken_barrier_error;  // our BrokenBarrierError class
extern PyObject* g_module;                // the module (borrowed)
extern PyTypeObject* g_lock_type;         // pythreading.Lock
extern PyTypeObject* g_rlock_type;        // pythreading.RLock
extern PyTypeObject* g_event_type;        // pythreading.Event

inline bool in_main_thread() noexcept { return PyThread_get_thread_ident() == g_main_ident; }

// --- errors --------------------------------------------------------------

// A Python exception carried through C++ code that has no GIL (a Barrier
// action's error, rethrown by the library in the waiting thread). Owns the
// exception; give it back with restore() while holding the GIL.
class PythonError : public std::exception {
 public:
  PythonError() noexcept { fetch(); }  // with the GIL and an error set
  PythonError(PythonError&& o) noexcept : exc_(o.exc_) { o.exc_ = nullptr; }
  PythonError(const PythonError&) = delete;
  ~PythonError() override {
    if (exc_ != nullptr && !python_gone()) {
      PyGILState_STATE st = PyGILState_Ensure();
      Py_CLEAR(exc_);
      PyGILState_Release(st);
    }
  }
  const char* what() const noexcept override { return "Python exception"; }
  void restore() noexcept {
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc_);
#else
    PyErr_Restore(reinterpret_cast<PyObject*>(Py_TYPE(exc_)), exc_, PyException_GetTraceback(exc_));
    Py_INCREF(Py_TYPE(exc_));
#endif
    exc_ = nullptr;
  }

 private:
  void fetch() noexcept {
#if PY_VERSION_HEX >= 0x030C0000
    exc_ = PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != nullptr) PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    exc_ = v;
#endif
  }
  PyObject* exc_ = nullptr;
};

// Sets the Python error for the C++ exception being handled (the library
// raises the exception types CPython raises); returns nullptr.
inline PyObject* raise_current() noexcept {
  try {
    throw;
  } catch (PythonError& e) {
    e.restore();
  } catch (const threading::BrokenBarrierError&) {
    PyErr_SetNone(g_broken_barrier_error);
  } catch (const threading::RuntimeError& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (const threading::ValueError& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const threading::OverflowError& e) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_SystemError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_SystemError, "unknown C++ exception");
  }
  return nullptr;
}

// The C++ exception caught where the GIL was released is rethrown where it
// is held (a Python error may only be set with the GIL).
struct CaughtError {
  std::exception_ptr e;
  PyObject* raise() const {
    try {
      std::rethrow_exception(e);
    } catch (...) {
      return raise_current();
    }
  }
};

// --- arguments -------------------------------------------------------------

// METH_FASTCALL|METH_KEYWORDS arguments by position or name, CPython's
// messages (a "Class.method" name: a Python function's; else a builtin's).
// `names` has `n` entries, the first `nreq` required; out[i] is nullptr
// where absent. Parameters after `npos` are keyword-only.
bool parse_args(const char* fn, const char* const* names, int n, int npos, PyObject* const* args,
                Py_ssize_t nargs, PyObject* kwnames, PyObject** out, int nreq = 0);

// The same for a classic (args tuple, kwargs dict) call: tp_init.
bool parse_tuple_args(const char* fn, const char* const* names, int n, int npos, PyObject* args,
                      PyObject* kwargs, PyObject** out, int nreq = 0);

// An integer argument (what CPython's "n" conversions accept: __index__).
// Returns false with TypeError "'X' object cannot be interpreted as an integer".
bool index_arg(PyObject* obj, long long* value, int* overflow);

// A timeout that the pure-Python threading code only compares with numbers:
// any real number; anything else gets the TypeError the comparison raises.
bool number_arg(PyObject* obj, double* out);

// --- time and blocking ------------------------------------------------------

inline double monotonic() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// An absolute time on the monotonic clock (seconds) or none (forever): the
// binding's own deadline, so a wait cut short by a signal resumes with what
// is left.
struct Deadline {
  std::optional<double> at;
  static Deadline never() noexcept { return {}; }
  static Deadline after(double seconds) noexcept { return {monotonic() + seconds}; }
  threading::Timeout left() const noexcept {
    if (!at) return std::nullopt;
    double l = *at - monotonic();
    return l > 0 ? l : 0.0;
  }
  bool expired() const noexcept { return at && monotonic() >= *at; }
};

// block(op, deadline[, undo]) — see signals.hpp: runs `op(Timeout)`, a
// blocking attempt returning true on success, with the GIL released, until
// it succeeds or `deadline` passes; 1 / 0 (timed out) / -1 (Python error).

}  // namespace pythreading_py

#include "signals.hpp"

namespace pythreading_py {

// OverflowError for a timeout above TIMEOUT_MAX (the library's message).
inline bool check_timeout_max(double t) {
  if (t > threading::TIMEOUT_MAX) {
    PyErr_SetString(PyExc_OverflowError, "timestamp out of range for platform time_t");
    return false;
  }
  return true;
}

// Python's `bool(obj)` as an int: 1, 0, or -1 with an error set.
inline int truth(PyObject* obj) { return PyObject_IsTrue(obj); }

// The instance-dict slot of an object whose type has __dictoffset__ (ours).
inline PyObject** instance_dict_slot(PyObject* o) {
  Py_ssize_t off = Py_TYPE(o)->tp_dictoffset;
  return off > 0 ? reinterpret_cast<PyObject**>(reinterpret_cast<char*>(o) + off) : nullptr;
}

// copy.copy(): a new object of the same type built by `make`, with a copy of
// the instance __dict__ (CPython's classes copy theirs the same way).
template <class Make>
PyObject* copy_with_dict(PyObject* o, Make&& make) {
  Ref copy(make());
  if (!copy) return nullptr;
  PyObject** src = instance_dict_slot(o);
  PyObject** dst = instance_dict_slot(copy.get());
  if (src != nullptr && *src != nullptr && dst != nullptr) {
    Py_XSETREF(*dst, PyDict_Copy(*src));
    if (*dst == nullptr) return nullptr;
  }
  return copy.release();
}

// Registers `type` (a new reference) as module attribute `name`.
bool add_type(PyObject* module, const char* name, PyObject* type);

// Module parts, in the order module.cpp runs them.
bool init_locks(PyObject* m);
bool init_sync(PyObject* m);
bool init_thread(PyObject* m);
bool init_local(PyObject* m);
bool init_queue(PyObject* m);  // the pythreading.queue submodule
bool init_diagnostics(PyObject* m);

}  // namespace pythreading_py
