// pythreading.dump_threads / find_deadlocks / dump_threads_on_signal and the
// lock-order debug switch (threading/diagnostics.hpp). Threads are named by
// their Python names: pythreading's own threads carry them in C++ already;
// a thread started by the standard threading module (a "Dummy-N" here) is
// renamed after threading._active's entry for its ident.
#include "threading/diagnostics.hpp"

#include <string>
#include <utility>
#include <vector>

#include "pyutil.hpp"

#define METH_CAST(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

namespace pythreading_py {
namespace {

// Replaces every `from` in `s` by `to`.
void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) {
    s.replace(p, from.size(), to);
  }
}

// The standard threading module's names for the threads it started, which we
// know only as dummies or not at all.
bool rename_std_threads(std::string& dump) {
  Ref threading_mod(PyImport_ImportModule("threading"));
  if (!threading_mod) return false;
  Ref active(PyObject_GetAttrString(threading_mod.get(), "_active"));
  if (!active || !PyDict_Check(active.get())) {
    PyErr_Clear();
    return true;
  }
  std::vector<std::pair<std::string, std::string>> cxx_names;  // ident -> C++ name
  for (auto& t : threading::enumerate()) {
    if (auto id = t->ident()) cxx_names.emplace_back(std::to_string(*id), t->name());
  }
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t pos = 0;
  while (PyDict_Next(active.get(), &pos, &key, &value)) {
    Ref name(PyObject_GetAttrString(value, "name"));
    const char* utf8 = name ? PyUnicode_AsUTF8(name.get()) : nullptr;
    unsigned long long id = PyLong_AsUnsignedLongLong(key);
    if (utf8 == nullptr || PyErr_Occurred()) {
      PyErr_Clear();
      continue;
    }
    std::string ident = std::to_string(id);
    std::string py = "\"" + std::string(utf8) + "\"";
    std::string cxx;
    for (auto& [i, n] : cxx_names) {
      if (i == ident) cxx = n;
    }
    if (!cxx.empty() && cxx.rfind("Dummy-", 0) != 0) continue;  // pythreading's own thread
    if (!cxx.empty()) {
      replace_all(dump, "\"" + cxx + "\" ident=" + ident, py + " ident=" + ident);
      replace_all(dump, "\"" + cxx + "\" (ident=" + ident, py + " (ident=" + ident);
    }
    replace_all(dump, "(no Thread object) ident=" + ident + " ", py + " ident=" + ident + " ");
    replace_all(dump, "thread ident=" + ident, py + " (ident=" + ident + ")");
  }
  return true;
}

PyObject* mod_dump_threads(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"file"};
  PyObject* file = nullptr;
  if (!parse_args("dump_threads", names, 1, 1, args, nargs, kwnames, &file)) return nullptr;
  if (file == nullptr) file = Py_None;
  std::string dump;
  try {
    dump = threading::dump_threads_string();
  } catch (...) {
    return raise_current();
  }
  if (!rename_std_threads(dump)) return nullptr;
  Ref out;
  if (file == Py_None) {
    out =
        Ref(PySys_GetObject("stderr") != nullptr ? Py_NewRef(PySys_GetObject("stderr")) : nullptr);
    if (!out || out.get() == Py_None) Py_RETURN_NONE;  // no stderr (pythonw)
  } else {
    out = Ref(Py_NewRef(file));
  }
  Ref written(PyObject_CallMethod(out.get(), "write", "s#", dump.data(),
                                  static_cast<Py_ssize_t>(dump.size())));
  if (!written) return nullptr;
  Ref flushed(PyObject_CallMethod(out.get(), "flush", nullptr));
  if (!flushed) PyErr_Clear();  // a file without flush() is fine
  Py_RETURN_NONE;
}

// The Python Thread object for each C++ thread, through pythreading.enumerate().
PyObject* mod_find_deadlocks(PyObject* m, PyObject*) {
  std::vector<std::vector<std::shared_ptr<threading::Thread>>> cycles;
  try {
    cycles = threading::find_deadlocks();
  } catch (...) {
    return raise_current();
  }
  Ref result(PyList_New(0));
  if (!result) return nullptr;
  if (cycles.empty()) return result.release();
  Ref all(PyObject_CallMethod(m, "enumerate", nullptr));
  if (!all) return nullptr;
  for (auto& cycle : cycles) {
    Ref list(PyList_New(0));
    if (!list) return nullptr;
    for (auto& t : cycle) {
      PyObject* found = Py_None;
      auto id = t ? t->ident() : std::nullopt;
      for (Py_ssize_t i = 0; id && i < PyList_GET_SIZE(all.get()); ++i) {
        PyObject* pt = PyList_GET_ITEM(all.get(), i);
        Ref pid(PyObject_GetAttrString(pt, "ident"));
        if (!pid) return nullptr;
        if (pid.get() != Py_None && PyLong_AsUnsignedLongLong(pid.get()) == *id) found = pt;
        if (PyErr_Occurred()) return nullptr;
      }
      if (PyList_Append(list.get(), found) < 0) return nullptr;
    }
    if (PyList_Append(result.get(), list.get()) < 0) return nullptr;
  }
  return result.release();
}

PyObject* mod_dump_threads_on_signal(PyObject*, PyObject* arg) {
  long signo = PyLong_AsLong(arg);
  if (signo == -1 && PyErr_Occurred()) return nullptr;
  try {
    threading::dump_threads_on_signal(static_cast<int>(signo));
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}

PyObject* mod_set_debug_locks(PyObject*, PyObject* arg) {
  int on = PyObject_IsTrue(arg);
  if (on < 0) return nullptr;
  try {
    threading::set_debug_locks(on != 0);
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}

PyObject* mod_debug_locks(PyObject*, PyObject*) {
  return PyBool_FromLong(threading::debug_locks());
}

PyMethodDef diagnostics_functions[] = {
    {"dump_threads", METH_CAST(mod_dump_threads), METH_FASTCALL | METH_KEYWORDS,
     "dump_threads(file=None)\n\nWrite every thread and what it waits on to file (sys.stderr)."},
    {"find_deadlocks", mod_find_deadlocks, METH_NOARGS,
     "The deadlock cycles of the wait-for graph, each a list of Thread objects."},
    {"dump_threads_on_signal", mod_dump_threads_on_signal, METH_O,
     "dump_threads_on_signal(signum)\n\nDump the threads to stderr whenever signum arrives."},
    {"set_debug_locks", mod_set_debug_locks, METH_O,
     "set_debug_locks(on)\n\nLock-order inversion checks (reported on stderr) and lock holders."},
    {"debug_locks", mod_debug_locks, METH_NOARGS, "Whether the lock-order debug mode is on."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool init_diagnostics(PyObject* m) { return PyModule_AddFunctions(m, diagnostics_functions) == 0; }

}  // namespace pythreading_py
