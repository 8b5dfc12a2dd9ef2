// Argument helpers shared by the module's types.
#include "pyutil.hpp"

#include <cstring>
#include <string>

namespace pythreading_py {

#if PY_VERSION_HEX < 0x030D0000
std::atomic<bool> g_finalizing{false};
#endif

std::atomic<std::uint64_t> g_gil_releases{0};

namespace {

int find_name(PyObject* key, const char* const* names, int n) {
  for (int i = 0; i < n; ++i) {
    if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, names[i]) == 0) return i;
  }
  return -1;
}

// "Class.method" names a method of a class that CPython writes in Python:
// its errors are a Python function's ("Class.method()" from 3.10 on,
// "method()" before). Other names get the C builtins' wording.
bool python_style(const char* fn) { return std::strchr(fn, '.') != nullptr; }

const char* shown_name(const char* fn) {
#if PY_VERSION_HEX < 0x030A0000
  if (const char* dot = std::strrchr(fn, '.')) return dot + 1;
#endif
  return fn;
}

bool put_keyword(const char* fn, const char* const* names, int n, PyObject* key, PyObject* value,
                 PyObject** out) {
  int slot = find_name(key, names, n);
  if (slot < 0) {
    PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", shown_name(fn),
                 key);
    return false;
  }
  if (out[slot] != nullptr) {
    PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", shown_name(fn),
                 names[slot]);
    return false;
  }
  out[slot] = value;
  return true;
}

bool too_many(const char* fn, int npos, int nreq, Py_ssize_t nargs) {
  if (nargs <= npos) return false;
  if (!python_style(fn)) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fn, npos,
                 npos == 1 ? "" : "s", nargs);
  } else if (nreq == npos) {  // counting `self`, as Python does
    PyErr_Format(PyExc_TypeError, "%s() takes %d positional argument%s but %zd were given",
                 shown_name(fn), npos + 1, npos == 0 ? "" : "s", nargs + 1);
  } else {
    PyErr_Format(PyExc_TypeError,
                 "%s() takes from %d to %d positional arguments but %zd were given", shown_name(fn),
                 nreq + 1, npos + 1, nargs + 1);
  }
  return true;
}

bool missing(const char* fn, const char* const* names, int nreq, PyObject** out) {
  int count = 0;
  for (int i = 0; i < nreq; ++i) count += out[i] == nullptr;
  if (count == 0) return false;
  std::string list;
  int seen = 0;
  for (int i = 0; i < nreq; ++i) {
    if (out[i] != nullptr) continue;
    if (seen > 0) list += count == 2 ? " and " : (seen == count - 1 ? ", and " : ", ");
    list += std::string("'") + names[i] + "'";
    ++seen;
  }
  PyErr_Format(PyExc_TypeError, "%s() missing %d required positional argument%s: %s",
               shown_name(fn), count, count == 1 ? "" : "s", list.c_str());
  return true;
}

}  // namespace

bool parse_args(const char* fn, const char* const* names, int n, int npos, PyObject* const* args,
                Py_ssize_t nargs, PyObject* kwnames, PyObject** out, int nreq) {
  for (int i = 0; i < n; ++i) out[i] = nullptr;
  if (too_many(fn, npos, nreq, nargs)) return false;
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = args[i];
  if (kwnames != nullptr) {
    Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nk; ++i) {
      if (!put_keyword(fn, names, n, PyTuple_GET_ITEM(kwnames, i), args[nargs + i], out)) {
        return false;
      }
    }
  }
  return !missing(fn, names, nreq, out);
}

bool parse_tuple_args(const char* fn, const char* const* names, int n, int npos, PyObject* args,
                      PyObject* kwargs, PyObject** out, int nreq) {
  for (int i = 0; i < n; ++i) out[i] = nullptr;
  Py_ssize_t nargs = args != nullptr ? PyTuple_GET_SIZE(args) : 0;
  if (too_many(fn, npos, nreq, nargs)) return false;
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = PyTuple_GET_ITEM(args, i);
  if (kwargs != nullptr) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwargs, &pos, &key, &value)) {
      if (!put_keyword(fn, names, n, key, value, out)) return false;
    }
  }
  return !missing(fn, names, nreq, out);
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
