// Shared helpers of the pythreading Python module: argument parsing with
// CPython's exact errors, and interruptible GIL-free blocking.
#pragma once

#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <threading/timeout.hpp>

namespace pythreading_py {

namespace py = pybind11;
using threading::Timeout;
using threading::detail::Deadline;

// The ident of the interpreter's main thread: the only one signal handlers run in.
extern unsigned long g_main_ident;

inline bool in_main_thread() noexcept { return PyThread_get_thread_ident() == g_main_ident; }

// How long the main thread blocks between two looks for pending signals.
inline constexpr double kSignalSlice = 0.02;

// Runs `op(Timeout)` (a blocking attempt that returns true on success) with the
// GIL released, until it succeeds or `deadline` passes (nullopt = no limit).
// `op` receives nullopt for "forever" or the seconds left. In the main thread
// the wait is cut into kSignalSlice slices and PyErr_CheckSignals() runs
// between them, so Ctrl-C raises KeyboardInterrupt as in CPython.
template <class Op>
bool block(Op&& op, std::optional<Deadline> deadline) {
  if (!in_main_thread()) {
    py::gil_scoped_release nogil;
    if (!deadline) return op(Timeout(std::nullopt));
    return op(Timeout(static_cast<double>(deadline->remaining_ns()) / 1e9));
  }
  for (;;) {
    double slice = kSignalSlice;
    bool last = false;
    if (deadline) {
      double left = static_cast<double>(deadline->remaining_ns()) / 1e9;
      if (left <= slice) {
        slice = left;
        last = true;
      }
    }
    bool ok;
    {
      py::gil_scoped_release nogil;
      ok = op(Timeout(slice));
    }
    if (ok) return true;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (last) return false;
  }
}

// CPython's _PyTime_FromSecondsObject, as Lock.acquire uses it: a float, or
// anything with __index__ (None and str raise TypeError).
inline double lock_timeout_arg(py::handle obj) {
  if (PyFloat_Check(obj.ptr())) return PyFloat_AS_DOUBLE(obj.ptr());
  if (PyLong_Check(obj.ptr())) {
    double d = PyLong_AsDouble(obj.ptr());
    if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return d;
  }
  py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!idx) throw py::error_already_set();
  double d = PyLong_AsDouble(idx.ptr());
  if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return d;
}

// Lock.acquire's `blocking` (format "i" in 3.11: int-like only).
inline bool blocking_arg(py::handle obj) {
  if (obj.ptr() == Py_True) return true;
  if (obj.ptr() == Py_False) return false;
  long v = PyLong_AsLong(obj.ptr());
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return v != 0;
}

// A timeout where the pure-Python threading code only compares it with
// numbers: any real number (int, float, Fraction, Decimal, numpy scalars);
// anything else is the TypeError the comparison would raise.
inline double number_arg(py::handle obj) {
  if (PyFloat_Check(obj.ptr())) return PyFloat_AS_DOUBLE(obj.ptr());
  if (PyLong_Check(obj.ptr())) {
    double d = PyLong_AsDouble(obj.ptr());
    if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return d;
  }
  PyNumberMethods* nb = Py_TYPE(obj.ptr())->tp_as_number;
  if (nb != nullptr && (nb->nb_float != nullptr || nb->nb_index != nullptr)) {
    double d = PyFloat_AsDouble(obj.ptr());
    if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return d;
  }
  PyErr_Format(PyExc_TypeError, "'>' not supported between instances of '%.200s' and 'int'",
               Py_TYPE(obj.ptr())->tp_name);
  throw py::error_already_set();
}

// None -> nullopt, else a number.
inline Timeout optional_timeout_arg(py::handle obj) {
  if (obj.is_none()) return Timeout(std::nullopt);
  return Timeout(number_arg(obj));
}

inline std::string addr(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// The module's BrokenBarrierError (a subclass of threading.BrokenBarrierError).
extern PyObject* g_broken_barrier_error;

void init_sync(py::module_& m);
void init_sync_objects(py::module_& m);
void init_thread(py::module_& m);
void init_local(py::module_& m);

}  // namespace pythreading_py
