// Helpers for the hand-written METH_FASTCALL methods and reprs of the module.
#pragma once

#include <threading/errors.hpp>

#include "common.hpp"

namespace pythreading_py {

// "module.QualName" of an object's (possibly Python-subclassed) type.
inline std::string type_name(py::handle self) {
  py::handle t = reinterpret_cast<PyObject*>(Py_TYPE(self.ptr()));
  return std::string(py::str(t.attr("__module__"))) + "." +
         std::string(py::str(t.attr("__qualname__")));
}

template <class T>
inline T* self_value(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (inst->simple_layout) return static_cast<T*>(inst->simple_value_holder[0]);
  return &py::handle(self).cast<T&>();
}

// Sets Python's error for one of pythreading's C++ exceptions (the same type
// CPython raises); false for any other exception.
inline bool set_library_error(const std::exception& e) {
  if (dynamic_cast<const threading::BrokenBarrierError*>(&e) != nullptr) {
    PyErr_SetNone(g_broken_barrier_error);
  } else if (dynamic_cast<const threading::RuntimeError*>(&e) != nullptr) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } else if (dynamic_cast<const threading::ValueError*>(&e) != nullptr) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } else if (dynamic_cast<const threading::OverflowError*>(&e) != nullptr) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } else {
    return false;
  }
  return true;
}

// Sets the Python error for the exception being handled; returns nullptr.
inline PyObject* raise_current() {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    if (!set_library_error(e)) PyErr_SetString(PyExc_SystemError, e.what());
  }
  return nullptr;
}

// (blocking, timeout)-style arguments: fills out[0..1] (nullptr = absent).
inline bool parse_two(const char* fn, const char* n0, const char* n1, PyObject* const* args,
                      Py_ssize_t nargs, PyObject* kwnames, PyObject* out[2]) {
  out[0] = out[1] = nullptr;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most 2 arguments (%zd given)", fn, nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = args[i];
  if (kwnames != nullptr) {
    Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nk; ++i) {
      PyObject* k = PyTuple_GET_ITEM(kwnames, i);
      int slot = PyUnicode_CompareWithASCIIString(k, n0) == 0   ? 0
                 : PyUnicode_CompareWithASCIIString(k, n1) == 0 ? 1
                                                                : -1;
      if (slot < 0) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, k);
        return false;
      }
      if (out[slot] != nullptr) {
        PyErr_Format(PyExc_TypeError, "argument for %s() given by name ('%U') and position (%d)",
                     fn, k, slot + 1);
        return false;
      }
      out[slot] = args[nargs + i];
    }
  }
  return true;
}

inline PyObject* minus_one() {
  static PyObject* v = PyLong_FromLong(-1);  // immortal enough: kept for the process
  return v;
}

template <class F>
inline PyCFunction cfunc(F f) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

template <std::size_t N>
inline void install(py::handle cls, PyMethodDef (&defs)[N]) {
  for (PyMethodDef& d : defs) {
    py::object descr = py::reinterpret_steal<py::object>(
        PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &d));
    if (!descr) throw py::error_already_set();
    py::setattr(cls, d.ml_name, descr);
  }
}

}  // namespace pythreading_py
