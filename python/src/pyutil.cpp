// Argument helpers shared by the module's types.
#include "pyutil.hpp"

namespace pythreading_py {

#if PY_VERSION_HEX < 0x030D0000
std::atomic<bool> g_finalizing{false};
#endif

namespace {

int find_name(PyObject* key, const char* const* names, int n) {
  for (int i = 0; i < n; ++i) {
    if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, names[i]) == 0) return i;
  }
  return -1;
}

bool put_keyword(const char* fn, const char* const* names, int n, PyObject* key, PyObject* value,
                 PyObject** out) {
  int slot = find_name(key, names, n);
  if (slot < 0) {
    PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", fn, key);
    return false;
  }
  if (out[slot] != nullptr) {
    PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[slot]);
    return false;
  }
  out[slot] = value;
  return true;
}

bool put_positional(const char* fn, int npos, PyObject* const* args, Py_ssize_t nargs,
                    PyObject** out) {
  if (nargs > npos) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fn, npos,
                 npos == 1 ? "" : "s", nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = args[i];
  return true;
}

}  // namespace

bool parse_args(const char* fn, const char* const* names, int n, int npos, PyObject* const* args,
                Py_ssize_t nargs, PyObject* kwnames, PyObject** out) {
  for (int i = 0; i < n; ++i) out[i] = nullptr;
  if (!put_positional(fn, npos, args, nargs, out)) return false;
  if (kwnames != nullptr) {
    Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nk; ++i) {
      if (!put_keyword(fn, names, n, PyTuple_GET_ITEM(kwnames, i), args[nargs + i], out)) {
        return false;
      }
    }
  }
  return true;
}

bool parse_tuple_args(const char* fn, const char* const* names, int n, int npos, PyObject* args,
                      PyObject* kwargs, PyObject** out) {
  for (int i = 0; i < n; ++i) out[i] = nullptr;
  Py_ssize_t nargs = args != nullptr ? PyTuple_GET_SIZE(args) : 0;
  if (nargs > npos) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fn, npos,
                 npos == 1 ? "" : "s", nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = PyTuple_GET_ITEM(args, i);
  if (kwargs != nullptr) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwargs, &pos, &key, &value)) {
      if (!put_keyword(fn, names, n, key, value, out)) return false;
    }
  }
  return true;
}

bool index_arg(PyObject* obj, long long* value, int* overflow) {
  Ref idx;
  if (!PyLong_Check(obj)) {
    if (Py_TYPE(obj)->tp_as_number == nullptr || Py_TYPE(obj)->tp_as_number->nb_index == nullptr) {
      PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                   Py_TYPE(obj)->tp_name);
      return false;
    }
    idx = Ref(PyNumber_Index(obj));
    if (!idx) return false;
    obj = idx.get();
  }
  *overflow = 0;
  *value = PyLong_AsLongLongAndOverflow(obj, overflow);
  return !(*value == -1 && PyErr_Occurred());
}

bool number_arg(PyObject* obj, double* out) {
  if (PyFloat_Check(obj)) {
    *out = PyFloat_AS_DOUBLE(obj);
    return true;
  }
  if (PyLong_Check(obj)) {
    *out = PyLong_AsDouble(obj);
    return !(*out == -1.0 && PyErr_Occurred());
  }
  PyNumberMethods* nb = Py_TYPE(obj)->tp_as_number;
  if (nb != nullptr && (nb->nb_float != nullptr || nb->nb_index != nullptr)) {
    *out = PyFloat_AsDouble(obj);
    return !(*out == -1.0 && PyErr_Occurred());
  }
  PyErr_Format(PyExc_TypeError, "'>' not supported between instances of '%.200s' and 'int'",
               Py_TYPE(obj)->tp_name);
  return false;
}

}  // namespace pythreading_py
