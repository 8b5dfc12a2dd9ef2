// Thread, Timer and the module functions for Python.
//
// A pythreading.Thread owns a PyThread (a threading::Thread) through a
// shared_ptr. The C++ run() — what the new thread executes — takes the GIL
// and calls the Python-level `self.run()`, so a subclass overriding run()
// works as with threading.Thread. start() hands the new thread a reference
// to the Python object, dropped when run() has returned.
#include <map>
#include <memory>
#include <string>
#include <threading/event.hpp>
#include <threading/thread.hpp>
#include <vector>

#include "pyutil.hpp"

namespace pythreading_py {

namespace {

#define METH_CAST(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

// settrace()/setprofile() functions (strong references; GIL-guarded).
PyObject* g_trace = nullptr;
PyObject* g_std_threading = nullptr;       // the standard threading module (kept)
PyObject* g_default_excepthook = nullptr;  // _thread._excepthook (kept)
PyObject* g_profile = nullptr;
PyTypeObject* g_thread_type = nullptr;
PyTypeObject* g_main_thread_type = nullptr;
PyTypeObject* g_dummy_thread_type = nullptr;

struct ThreadObject {
  PyObject_HEAD std::shared_ptr<threading::Thread> thread;  // null before __init__
  PyObject* dict;
  PyObject* weakrefs;
  PyObject* daemon;  // daemon= as given (CPython keeps the object), or nullptr
};

ThreadObject* thread_cast(PyObject* o) { return reinterpret_cast<ThreadObject*>(o); }

void report_exception(PyObject* thread);

class PyThread final : public threading::Thread {
 public:
  PyThread(Options o, PyObject* wrapper) : Thread(std::move(o)), wrapper_(wrapper) {}

  // The new thread's activity: Python's Thread._bootstrap_inner in short.
  void run() override {
    // Raw C API only: during interpreter finalization a daemon thread may be
    // ended (pthread_exit) inside any GIL acquisition, unwinding this frame
    // without the GIL, so nothing here may own a Python reference in a RAII way.
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject* self = running_;  // our reference now
    running_ = nullptr;
    if (self != nullptr) {
      std_register(self, true);
      install_hook("settrace", g_trace, "_trace_hook");
      install_hook("setprofile", g_profile, "_profile_hook");
      PyObject* r = PyObject_CallMethod(self, "run", nullptr);
      if (r == nullptr) {
        report_exception(self);
      } else {
        Py_DECREF(r);
      }
      std_register(self, false);
      Py_DECREF(self);
    }
    python_done_.set();
    PyGILState_Release(st);
  }

  // Set when the Python part of run() is over: what the main thread's join
  // waits on, interruptibly (the library's own join is then brief).
  threading::Event python_done_;

  // With the GIL, by start(): the running thread's reference.
  void hand_over(PyObject* self) { running_ = Py_NewRef(self); }
  void take_back() { Py_CLEAR(running_); }

  PyObject* wrapper_;  // borrowed; cleared when the Python object dies (GIL-guarded)

 private:
  // sys.settrace/setprofile(func) in this thread: ours if set, else the one
  // set through the standard threading module (its private attribute holds
  // it; gettrace()/getprofile() read the same from 3.10 on).
  static void install_hook(const char* fn, PyObject* ours, const char* std_attr) {
    PyObject* func = ours != nullptr ? Py_NewRef(ours) : nullptr;
    if (func == nullptr && g_std_threading != nullptr) {
      func = PyObject_GetAttrString(g_std_threading, std_attr);
      if (func == nullptr) PyErr_Clear();
    }
    if (func != nullptr && func != Py_None) {
      PyObject* sys = PyImport_ImportModule("sys");
      PyObject* r = sys != nullptr ? PyObject_CallMethod(sys, fn, "O", func) : nullptr;
      if (r == nullptr) PyErr_Clear();
      Py_XDECREF(r);
      Py_XDECREF(sys);
    }
    Py_XDECREF(func);
  }

  // The standard library's view: threading.current_thread() is
  // threading._active[get_ident()], so while run() runs this thread's entry
  // there is our Thread object (same name, same ident; logging's
  // %(threadName)s shows it), not a stale _DummyThread.
  static void std_register(PyObject* self, bool add) {
    if (g_std_threading == nullptr) return;
    PyObject* active = PyObject_GetAttrString(g_std_threading, "_active");
    PyObject* key =
        active != nullptr ? PyLong_FromUnsignedLong(PyThread_get_thread_ident()) : nullptr;
    if (key != nullptr && PyDict_Check(active)) {
      if (add) {
        if (PyDict_SetItem(active, key, self) < 0) PyErr_Clear();
      } else {
        PyObject* cur = PyDict_GetItemWithError(active, key);  // borrowed
        if (cur == self && PyDict_DelItem(active, key) < 0) PyErr_Clear();
      }
    }
    PyErr_Clear();
    Py_XDECREF(key);
    Py_XDECREF(active);
  }

  PyObject* running_ = nullptr;
};

// threading.excepthook(ExceptHookArgs) for the exception being raised, both
// looked up now; if the hook fails, "Exception in threading.excepthook:" and
// sys.excepthook for the hook's own exception.
void report_exception(PyObject* thread) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
  // pythreading.excepthook if replaced, else threading.excepthook (which
  // pytest and others replace): a hook set through either module applies.
  PyObject* hook = PyObject_GetAttrString(g_module, "excepthook");
  if (hook != nullptr && hook == g_default_excepthook && g_std_threading != nullptr) {
    Py_SETREF(hook, PyObject_GetAttrString(g_std_threading, "excepthook"));
  }
  PyObject* args_type = PyObject_GetAttrString(g_module, "ExceptHookArgs");
  PyObject* r = nullptr;
  if (hook != nullptr && args_type != nullptr) {
    PyObject* seq = Py_BuildValue("[OOOO]", type ? type : Py_None, value ? value : Py_None,
                                  tb ? tb : Py_None, thread);
    PyObject* hook_args = seq ? PyObject_CallOneArg(args_type, seq) : nullptr;
    if (hook_args != nullptr) r = PyObject_CallOneArg(hook, hook_args);
    Py_XDECREF(hook_args);
    Py_XDECREF(seq);
  }
  if (r == nullptr) {
    PySys_WriteStderr("Exception in threading.excepthook:\n");
    PyErr_Print();
  }
  Py_XDECREF(r);
  Py_XDECREF(hook);
  Py_XDECREF(args_type);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
}

// --- wrappers for threads Python did not create (main, dummies) -----------

// The wrapper of each main/dummy thread, so current_thread() is always the
// same object; an ended dummy's entry goes at the next insertion.
std::map<const threading::Thread*, PyObject*>* g_foreign =
    new std::map<const threading::Thread*, PyObject*>;

PyObject* wrap(const std::shared_ptr<threading::Thread>& t) {
  if (auto* pt = dynamic_cast<PyThread*>(t.get())) {
    if (pt->wrapper_ != nullptr) return Py_NewRef(pt->wrapper_);
  } else {
    auto it = g_foreign->find(t.get());
    if (it != g_foreign->end()) return Py_NewRef(it->second);
  }
  for (auto it = g_foreign->begin(); it != g_foreign->end();) {
    if (!it->first->is_alive() && it->first != threading::main_thread().get()) {
      Py_DECREF(it->second);
      it = g_foreign->erase(it);
    } else {
      ++it;
    }
  }
  PyTypeObject* type = t == threading::main_thread() ? g_main_thread_type : g_dummy_thread_type;
  PyObject* o = type->tp_alloc(type, 0);
  if (o == nullptr) return nullptr;
  new (&thread_cast(o)->thread) std::shared_ptr<threading::Thread>(t);
  if (dynamic_cast<PyThread*>(t.get()) == nullptr) {
    try {
      (*g_foreign)[t.get()] = Py_NewRef(o);
    } catch (...) {
      Py_DECREF(o);
      Py_DECREF(o);
      return raise_current();
    }
  }
  return o;
}

// --- Thread ---------------------------------------------------------------

threading::Thread* thread_of(PyObject* o) {
  threading::Thread* t = thread_cast(o)->thread.get();
  if (t == nullptr) PyErr_SetString(PyExc_RuntimeError, "thread.__init__() not called");
  return t;
}

PyObject* thread_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* o = type->tp_alloc(type, 0);
  if (o != nullptr) new (&thread_cast(o)->thread) std::shared_ptr<threading::Thread>();
  return o;
}

// The attributes CPython's Thread keeps and popular code reads.
bool set_run_attrs(PyObject* self, PyObject* target, PyObject* args, PyObject* kwargs) {
  return PyObject_SetAttrString(self, "_target", target) == 0 &&
         PyObject_SetAttrString(self, "_args", args) == 0 &&
         PyObject_SetAttrString(self, "_kwargs", kwargs) == 0;
}

int thread_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"group", "target", "name", "args", "kwargs", "daemon"};
  PyObject* a[6];
  if (!parse_tuple_args("Thread.__init__", names, 6, 5, args, kwargs, a)) return -1;
  if (a[0] != nullptr && a[0] != Py_None) {
    PyErr_SetString(PyExc_AssertionError, "group argument must be None for now");
    return -1;
  }
  PyObject* target = a[1] != nullptr ? a[1] : Py_None;
  threading::Thread::Options opts;
  if (a[2] != nullptr) {
    int named = truth(a[2]);
    if (named < 0) return -1;
    if (named == 1) {
      Ref s(PyObject_Str(a[2]));
      const char* utf8 = s ? PyUnicode_AsUTF8(s.get()) : nullptr;
      if (utf8 == nullptr) return -1;
      opts.name = utf8;
    }
  }
  PyObject* daemon = a[5] != nullptr && a[5] != Py_None ? a[5] : nullptr;
  if (daemon != nullptr) {
    int d = truth(daemon);
    if (d < 0) return -1;
    opts.daemon = d == 1;
  }
  Ref call_args(a[3] != nullptr ? Py_NewRef(a[3]) : PyTuple_New(0));
  Ref call_kwargs(a[4] != nullptr && a[4] != Py_None ? Py_NewRef(a[4]) : PyDict_New());
  if (!call_args || !call_kwargs) return -1;
  bool auto_name = !opts.name.has_value();
  ThreadObject* self = thread_cast(o);
  std::shared_ptr<threading::Thread> t;
  try {
    t = std::make_shared<PyThread>(std::move(opts), o);
  } catch (...) {
    raise_current();
    return -1;
  }
#if PY_VERSION_HEX >= 0x030A0000
  if (auto_name && target != Py_None) {  // 3.10+: "Thread-N (target_name)"
    Ref tname(PyObject_GetAttrString(target, "__name__"));
    if (!tname) {
      if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
      PyErr_Clear();
    } else {
      Ref s(PyObject_Str(tname.get()));
      const char* utf8 = s ? PyUnicode_AsUTF8(s.get()) : nullptr;
      if (utf8 == nullptr) return -1;
      t->name(t->name() + " (" + utf8 + ")");
    }
  }
#else
  (void)auto_name;
#endif
  if (!set_run_attrs(o, target, call_args.get(), call_kwargs.get())) return -1;
  if (self->thread) {
    if (auto* old = dynamic_cast<PyThread*>(self->thread.get())) old->wrapper_ = nullptr;
  }
  self->thread = std::move(t);
  Py_XSETREF(self->daemon, Py_XNewRef(daemon));
  // The default excepthook writes to thread._stderr when sys.stderr is None.
  PyObject* err = PySys_GetObject("stderr");  // borrowed
  if (PyObject_SetAttrString(o, "_stderr", err != nullptr ? err : Py_None) < 0) return -1;
  return 0;
}

int thread_traverse(PyObject* o, visitproc visit, void* arg) {
  ThreadObject* self = thread_cast(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(self->dict);
  Py_VISIT(self->daemon);
  return 0;
}

int thread_clear(PyObject* o) {
  ThreadObject* self = thread_cast(o);
  Py_CLEAR(self->dict);
  Py_CLEAR(self->daemon);
  return 0;
}

void thread_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  ThreadObject* self = thread_cast(o);
  if (self->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  thread_clear(o);
  if (auto* pt = dynamic_cast<PyThread*>(self->thread.get())) pt->wrapper_ = nullptr;
  {
    // The library may hold the last reference of a finished thread elsewhere;
    // ours is dropped without the GIL in case it must reap the OS thread.
    std::shared_ptr<threading::Thread> t = std::move(self->thread);
    self->thread.~shared_ptr();
    if (t) {
      Py_BEGIN_ALLOW_THREADS t.reset();
      Py_END_ALLOW_THREADS
    }
  }
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* thread_start(PyObject* o, PyObject*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  auto* pt = dynamic_cast<PyThread*>(t);
  if (pt != nullptr) {
    if (t->is_alive() || t->ident()) {
      PyErr_SetString(PyExc_RuntimeError, "threads can only be started once");
      return nullptr;
    }
    pt->hand_over(o);
  }
  CaughtError err;
  Py_BEGIN_ALLOW_THREADS try { t->start(); } catch (...) {
    err.e = std::current_exception();
  }
  Py_END_ALLOW_THREADS if (err.e) {
    if (pt != nullptr) pt->take_back();
    return err.raise();
  }
  Py_RETURN_NONE;
}

// Python's default Thread.run(): self._target(*self._args, **self._kwargs),
// then the three attributes are deleted.
PyObject* thread_run(PyObject* o, PyObject*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  if (dynamic_cast<PyThread*>(t) == nullptr) {
    Py_BEGIN_ALLOW_THREADS t->run();
    Py_END_ALLOW_THREADS Py_RETURN_NONE;
  }
  Ref target(PyObject_GetAttrString(o, "_target"));
  Ref args(target ? PyObject_GetAttrString(o, "_args") : nullptr);
  Ref kwargs(args ? PyObject_GetAttrString(o, "_kwargs") : nullptr);
  if (!kwargs) return nullptr;
  Ref result;
  bool ok = true;
  if (target.get() != Py_None) {
    Ref tuple(PySequence_Tuple(args.get()));
    Ref dict;
    if (tuple) {
      if (PyDict_CheckExact(kwargs.get())) {
        dict = Ref(Py_NewRef(kwargs.get()));
      } else {  // any mapping, as `**kwargs` takes it
        dict = Ref(PyDict_New());
        if (dict && PyDict_Merge(dict.get(), kwargs.get(), 1) < 0) dict = Ref();
      }
    }
    if (dict) result = Ref(PyObject_Call(target.get(), tuple.get(), dict.get()));
    ok = static_cast<bool>(result);
  }
  // As CPython: the references go even when the call failed (in `finally`).
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  for (const char* name : {"_target", "_args", "_kwargs"}) {
    if (PyObject_DelAttrString(o, name) < 0) PyErr_Clear();
  }
  PyErr_Restore(et, ev, etb);
  if (!ok) return nullptr;
  Py_RETURN_NONE;
}

// join(timeout) of any thread; 0 = done or timed out, -1 = Python error.
int join_thread(threading::Thread* t, Deadline deadline) {
  auto* pt = dynamic_cast<PyThread*>(t);
  if (pt != nullptr && in_main_thread()) {
    try {
      t->join(-1.0);  // a poll: raises for an unstarted or the current thread
    } catch (...) {
      raise_current();
      return -1;
    }
    // Interruptible: the thread's Python code is over once this is set.
    int r = block([&](threading::Timeout w) { return pt->python_done_.wait(w); }, deadline);
    if (r <= 0) return r;
  }
  int r = block(
      [&](threading::Timeout w) {
        t->join(w);
        return !t->is_alive();
      },
      deadline);
  return r < 0 ? -1 : 0;
}

PyObject* thread_join(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"timeout"};
  PyObject* timeout_obj;
  if (!parse_args("Thread.join", names, 1, 1, args, nargs, kwnames, &timeout_obj)) return nullptr;
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  Deadline deadline;
  if (timeout_obj != nullptr && timeout_obj != Py_None) {
    double x;
    if (!number_arg(timeout_obj, &x)) return nullptr;
    if (std::isnan(x) || x > threading::TIMEOUT_MAX) {
      CaughtError err;
      Py_BEGIN_ALLOW_THREADS try {
        t->join(x);  // ValueError / OverflowError on a live thread
      } catch (...) {
        err.e = std::current_exception();
      }
      Py_END_ALLOW_THREADS if (err.e) return err.raise();
      Py_RETURN_NONE;
    }
    deadline = Deadline::after(x);  // negative: a poll
  }
  if (join_thread(t, deadline) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* thread_is_alive(PyObject* o, PyObject*) {
  threading::Thread* t = thread_of(o);
  return t == nullptr ? nullptr : PyBool_FromLong(t->is_alive());
}

PyObject* thread_get_name(PyObject* o, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  std::string n = t->name();
  return PyUnicode_DecodeUTF8(n.data(), static_cast<Py_ssize_t>(n.size()), "surrogatepass");
}

int thread_set_name(PyObject* o, PyObject* v, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return -1;
  if (v == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete the name");
    return -1;
  }
  Ref s(PyObject_Str(v));
  Py_ssize_t len;
  const char* utf8 = s ? PyUnicode_AsUTF8AndSize(s.get(), &len) : nullptr;
  if (utf8 == nullptr) return -1;
  t->name(std::string(utf8, static_cast<std::size_t>(len)));
  return 0;
}

PyObject* thread_get_daemon(PyObject* o, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  if (thread_cast(o)->daemon != nullptr) return Py_NewRef(thread_cast(o)->daemon);
  return PyBool_FromLong(t->daemon());
}

int thread_set_daemon(PyObject* o, PyObject* v, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return -1;
  if (v == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete the daemon flag");
    return -1;
  }
  int d = truth(v);
  if (d < 0) return -1;
  try {
    t->daemon(d == 1);
  } catch (...) {
    raise_current();
    return -1;
  }
  Py_XSETREF(thread_cast(o)->daemon, Py_NewRef(v));
  return 0;
}

PyObject* optional_int(std::optional<long long> v) {
  if (!v) Py_RETURN_NONE;
  return PyLong_FromLongLong(*v);
}

PyObject* thread_get_ident(PyObject* o, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  auto i = t->ident();
  if (!i) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(*i);
}

PyObject* thread_get_native_id(PyObject* o, void*) {
  threading::Thread* t = thread_of(o);
  if (t == nullptr) return nullptr;
  auto i = t->native_id();
  return optional_int(i ? std::optional<long long>(*i) : std::nullopt);
}

bool deprecated(const char* msg) { return PyErr_WarnEx(PyExc_DeprecationWarning, msg, 1) == 0; }

PyObject* thread_getName(PyObject* o, PyObject*) {
  if (!deprecated("getName() is deprecated, get the name attribute instead")) return nullptr;
  return thread_get_name(o, nullptr);
}

PyObject* thread_setName(PyObject* o, PyObject* v) {
  if (!deprecated("setName() is deprecated, set the name attribute instead")) return nullptr;
  if (thread_set_name(o, v, nullptr) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* thread_isDaemon(PyObject* o, PyObject*) {
  if (!deprecated("isDaemon() is deprecated, get the daemon attribute instead")) return nullptr;
  return thread_get_daemon(o, nullptr);
}

PyObject* thread_setDaemon(PyObject* o, PyObject* v) {
  if (!deprecated("setDaemon() is deprecated, set the daemon attribute instead")) return nullptr;
  if (thread_set_daemon(o, v, nullptr) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* thread_repr(PyObject* o) {
  threading::Thread* t = thread_cast(o)->thread.get();
  PyObject* type_name = PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(o)), "__name__");
  Ref tn(type_name);
  if (!tn) return nullptr;
  if (t == nullptr) return PyUnicode_FromFormat("<%S(<uninitialized>, initial)>", type_name);
  if (dynamic_cast<PyThread*>(t) == nullptr) return PyUnicode_FromString(t->repr().c_str());
  auto ident = t->ident();
  const char* status = t->is_alive() ? "started" : ident ? "stopped" : "initial";
  Ref name(thread_get_name(o, nullptr));
  if (!name) return nullptr;
  const char* daemon = t->daemon() ? " daemon" : "";
  if (!ident) return PyUnicode_FromFormat("<%S(%S, %s%s)>", type_name, name.get(), status, daemon);
  return PyUnicode_FromFormat("<%S(%S, %s%s %llu)>", type_name, name.get(), status, daemon,
                              static_cast<unsigned long long>(*ident));
}

// copy.copy(): another object for the same thread (CPython's copy shares the
// thread's state too), with a copy of the attributes.
PyObject* thread_copy(PyObject* o, PyObject*) {
  return copy_with_dict(o, [&]() -> PyObject* {
    PyTypeObject* type = Py_TYPE(o);
    PyObject* c = type->tp_alloc(type, 0);
    if (c == nullptr) return nullptr;
    new (&thread_cast(c)->thread) std::shared_ptr<threading::Thread>(thread_cast(o)->thread);
    thread_cast(c)->daemon = Py_XNewRef(thread_cast(o)->daemon);
    return c;
  });
}

// threading's after-fork handler calls these on every entry of its _active
// table, ours included; the library already fixed our state in the child.
PyObject* thread_std_fork(PyObject*, PyObject*, PyObject*) { Py_RETURN_NONE; }

PyMethodDef thread_methods[] = {
    {"start", thread_start, METH_NOARGS, "Start the thread's activity (at most once)."},
    {"run", thread_run, METH_NOARGS, "The activity: calls target(*args, **kwargs)."},
    {"join", METH_CAST(thread_join), METH_FASTCALL | METH_KEYWORDS,
     "join(timeout=None)\nWait until the thread ends (or the timeout passes)."},
    {"is_alive", thread_is_alive, METH_NOARGS, "True from just before run() to just after."},
    {"getName", thread_getName, METH_NOARGS, "Deprecated: the name attribute."},
    {"setName", thread_setName, METH_O, "Deprecated: the name attribute."},
    {"isDaemon", thread_isDaemon, METH_NOARGS, "Deprecated: the daemon attribute."},
    {"setDaemon", thread_setDaemon, METH_O, "Deprecated: the daemon attribute."},
    {"__copy__", thread_copy, METH_NOARGS, "Another object for the same thread."},
    {"_reset_internal_locks", METH_CAST(thread_std_fork), METH_VARARGS | METH_KEYWORDS,
     "For threading's fork handler (we keep our state ourselves)."},
    {"_stop", METH_CAST(thread_std_fork), METH_VARARGS | METH_KEYWORDS, "Idem."},
    {"_after_fork", METH_CAST(thread_std_fork), METH_VARARGS | METH_KEYWORDS, "Idem."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef thread_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"name", thread_get_name, thread_set_name, "The thread's name.", nullptr},
    {"daemon", thread_get_daemon, thread_set_daemon, "Whether exit leaves it running.", nullptr},
    {"ident", thread_get_ident, nullptr, "get_ident() of the thread, or None.", nullptr},
    {"native_id", thread_get_native_id, nullptr, "The kernel's thread id, or None.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef thread_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(ThreadObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ThreadObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot thread_slots[] = {
    {Py_tp_doc, const_cast<char*>(
                    "Thread(group=None, target=None, name=None, args=(), kwargs=None, *, "
                    "daemon=None)\n--\n\nA thread of control: subclass it and override run(), or "
                    "pass a target.")},
    {Py_tp_new, reinterpret_cast<void*>(thread_new)},
    {Py_tp_init, reinterpret_cast<void*>(thread_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(thread_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(thread_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(thread_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(thread_repr)},
    {Py_tp_methods, thread_methods},
    {Py_tp_getset, thread_getset},
    {Py_tp_members, thread_members},
    {0, nullptr}};

PyType_Spec thread_spec = {"pythreading.Thread", sizeof(ThreadObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                           thread_slots};

PyType_Slot main_slots[] = {{Py_tp_doc, const_cast<char*>("The main thread.")},
                            {Py_tp_traverse, reinterpret_cast<void*>(thread_traverse)},
                            {Py_tp_clear, reinterpret_cast<void*>(thread_clear)},
                            {0, nullptr}};
PyType_Spec main_spec = {"pythreading._MainThread", sizeof(ThreadObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, main_slots};
PyType_Slot dummy_slots[] = {{Py_tp_doc, const_cast<char*>("A thread not started by this module.")},
                             {Py_tp_traverse, reinterpret_cast<void*>(thread_traverse)},
                             {Py_tp_clear, reinterpret_cast<void*>(thread_clear)},
                             {0, nullptr}};
PyType_Spec dummy_spec = {"pythreading._DummyThread", sizeof(ThreadObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, dummy_slots};

// --- Timer: a Thread that calls function(*args, **kwargs) after `interval`
// seconds unless cancel() sets its `finished` Event first. Its state is plain
// attributes, as code written for threading.Timer expects.

int timer_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"interval", "function", "args", "kwargs"};
  PyObject* a[4];
  if (!parse_tuple_args("Timer.__init__", names, 4, 4, args, kwargs, a, 2)) return -1;
  Ref no_args(PyTuple_New(0));
  if (!no_args || thread_init(o, no_args.get(), nullptr) < 0) return -1;
  Ref call_args(a[2] != nullptr && a[2] != Py_None ? Py_NewRef(a[2]) : PyList_New(0));
  Ref call_kwargs(a[3] != nullptr && a[3] != Py_None ? Py_NewRef(a[3]) : PyDict_New());
  Ref finished(PyObject_CallNoArgs(reinterpret_cast<PyObject*>(g_event_type)));
  if (!call_args || !call_kwargs || !finished) return -1;
  if (PyObject_SetAttrString(o, "interval", a[0]) < 0 ||
      PyObject_SetAttrString(o, "function", a[1]) < 0 ||
      PyObject_SetAttrString(o, "args", call_args.get()) < 0 ||
      PyObject_SetAttrString(o, "kwargs", call_kwargs.get()) < 0 ||
      PyObject_SetAttrString(o, "finished", finished.get()) < 0) {
    return -1;
  }
  return 0;
}

PyObject* timer_cancel(PyObject* o, PyObject*) {
  Ref finished(PyObject_GetAttrString(o, "finished"));
  if (!finished) return nullptr;
  return PyObject_CallMethod(finished.get(), "set", nullptr);
}

PyObject* timer_run(PyObject* o, PyObject*) {
  Ref finished(PyObject_GetAttrString(o, "finished"));
  Ref interval(finished ? PyObject_GetAttrString(o, "interval") : nullptr);
  if (!interval) return nullptr;
  Ref r(PyObject_CallMethod(finished.get(), "wait", "O", interval.get()));
  if (!r) return nullptr;
  Ref is_set(PyObject_CallMethod(finished.get(), "is_set", nullptr));
  int fired = is_set ? truth(is_set.get()) : -1;
  if (fired < 0) return nullptr;
  if (fired == 0) {
    Ref fn(PyObject_GetAttrString(o, "function"));
    Ref args(fn ? PyObject_GetAttrString(o, "args") : nullptr);
    Ref kwargs(args ? PyObject_GetAttrString(o, "kwargs") : nullptr);
    if (!kwargs) return nullptr;
    Ref tuple(PySequence_Tuple(args.get()));
    Ref dict(tuple ? PyDict_New() : nullptr);
    if (!dict || PyDict_Merge(dict.get(), kwargs.get(), 1) < 0) return nullptr;
    Ref result(PyObject_Call(fn.get(), tuple.get(), dict.get()));
    if (!result) return nullptr;
  }
  return PyObject_CallMethod(finished.get(), "set", nullptr);
}

PyMethodDef timer_methods[] = {
    {"cancel", timer_cancel, METH_NOARGS, "Stop the timer if it has not fired yet."},
    {"run", timer_run, METH_NOARGS, "Wait `interval`, then call the function unless cancelled."},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot timer_slots[] = {
    {Py_tp_doc, const_cast<char*>("Timer(interval, function, args=None, kwargs=None)\n--\n\nA "
                                  "Thread that calls function(*args, **kwargs) after interval "
                                  "seconds, unless cancel() is called first.")},
    {Py_tp_init, reinterpret_cast<void*>(timer_init)},
    {Py_tp_traverse, reinterpret_cast<void*>(thread_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(thread_clear)},

    {Py_tp_methods, timer_methods},
    {0, nullptr}};

PyType_Spec timer_spec = {"pythreading.Timer", sizeof(ThreadObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                          timer_slots};

// --- module functions ------------------------------------------------------

std::vector<std::shared_ptr<threading::Thread>> alive_threads() {
  std::vector<std::shared_ptr<threading::Thread>> v = threading::enumerate();
  // During finalization the library counts the main thread stopped; CPython
  // still lists it.
  std::shared_ptr<threading::Thread> main = threading::main_thread();
  bool has_main = false;
  for (auto& t : v) has_main = has_main || t == main;
  if (!has_main) v.insert(v.begin(), main);
  return v;
}

PyObject* mod_active_count(PyObject*, PyObject*) {
  try {
    return PyLong_FromSize_t(alive_threads().size());
  } catch (...) {
    return raise_current();
  }
}

PyObject* mod_activeCount(PyObject* m, PyObject*) {
  if (!deprecated("activeCount() is deprecated, use active_count() instead")) return nullptr;
  return mod_active_count(m, nullptr);
}

PyObject* mod_current_thread(PyObject*, PyObject*) {
  try {
    return wrap(threading::current_thread());
  } catch (...) {
    return raise_current();
  }
}

PyObject* mod_currentThread(PyObject* m, PyObject*) {
  if (!deprecated("currentThread() is deprecated, use current_thread() instead")) return nullptr;
  return mod_current_thread(m, nullptr);
}

PyObject* mod_main_thread(PyObject*, PyObject*) {
  try {
    return wrap(threading::main_thread());
  } catch (...) {
    return raise_current();
  }
}

PyObject* mod_enumerate(PyObject*, PyObject*) {
  try {
    std::vector<std::shared_ptr<threading::Thread>> v = alive_threads();
    Ref list(PyList_New(0));
    if (!list) return nullptr;
    for (auto& t : v) {
      Ref w(wrap(t));
      if (!w || PyList_Append(list.get(), w.get()) < 0) return nullptr;
    }
    return list.release();
  } catch (...) {
    return raise_current();
  }
}

PyObject* mod_get_ident(PyObject*, PyObject*) {
  return PyLong_FromUnsignedLongLong(threading::get_ident());
}

PyObject* mod_get_native_id(PyObject*, PyObject*) {
  return PyLong_FromLongLong(threading::get_native_id());
}

PyObject* mod_stack_size(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  try {
    if (nargs == 0) return PyLong_FromSize_t(threading::stack_size());
    if (nargs > 1) {
      PyErr_Format(PyExc_TypeError, "stack_size expected at most 1 argument, got %zd", nargs);
      return nullptr;
    }
    long long size;
    int overflow;
    if (!index_arg(args[0], &size, &overflow)) return nullptr;
    if (overflow != 0) {
      PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long");
      return nullptr;
    }
    return PyLong_FromSize_t(threading::stack_size(size));
  } catch (...) {
    return raise_current();
  }
}

PyObject* set_hook(PyObject** slot, PyObject* func) {
  Py_XSETREF(*slot, func == Py_None ? nullptr : Py_NewRef(func));
  Py_RETURN_NONE;
}

PyObject* mod_settrace(PyObject*, PyObject* f) { return set_hook(&g_trace, f); }
PyObject* mod_setprofile(PyObject*, PyObject* f) { return set_hook(&g_profile, f); }
#if PY_VERSION_HEX >= 0x030C0000
// 3.12's settrace_all_threads/setprofile_all_threads: ours for new threads,
// and threading's for the threads running now (and its new threads).
PyObject* all_threads(PyObject** slot, const char* std_fn, PyObject* func) {
  Ref r(PyObject_CallMethod(g_std_threading, std_fn, "O", func));
  if (!r) return nullptr;
  return set_hook(slot, func);
}
PyObject* mod_settrace_all_threads(PyObject*, PyObject* f) {
  return all_threads(&g_trace, "settrace_all_threads", f);
}
PyObject* mod_setprofile_all_threads(PyObject*, PyObject* f) {
  return all_threads(&g_profile, "setprofile_all_threads", f);
}
#endif

PyObject* mod_gettrace(PyObject*, PyObject*) { return Py_NewRef(g_trace ? g_trace : Py_None); }
PyObject* mod_getprofile(PyObject*, PyObject*) {
  return Py_NewRef(g_profile ? g_profile : Py_None);
}

// Interpreter exit: join every alive non-daemon thread of ours, in the main
// thread, interruptibly (a Ctrl-C abandons them, as CPython does).
int join_non_daemon_threads() {
  std::shared_ptr<threading::Thread> me = threading::current_thread();
  for (;;) {
    std::shared_ptr<threading::Thread> next;
    for (auto& t : threading::enumerate()) {
      if (t != me && t != threading::main_thread() && !t->daemon() && t->is_alive() &&
          dynamic_cast<PyThread*>(t.get()) != nullptr) {
        next = t;
        break;
      }
    }
    if (!next) return 0;
    if (join_thread(next.get(), Deadline::never()) < 0) return -1;
  }
}

// Installed as threading._shutdown, which the interpreter calls at exit
// (and when a sub-interpreter ends) before any atexit handler: our threads
// are joined first, then threading's own.
PyObject* g_std_shutdown = nullptr;

PyObject* mod_shutdown(PyObject*, PyObject*) {
  int r;
  try {
    r = join_non_daemon_threads();
  } catch (...) {
    return raise_current();
  }
#if PY_VERSION_HEX < 0x030D0000
  g_finalizing.store(true, std::memory_order_release);
#endif
  if (r < 0) {
    // Ctrl-C: stop waiting, as CPython does; the threads left are abandoned
    // at process exit too (not waited for by the library).
    threading::abandon_exit_wait();
    return nullptr;
  }
  if (g_std_shutdown != nullptr) return PyObject_CallNoArgs(g_std_shutdown);
  Py_RETURN_NONE;
}

PyMethodDef module_functions[] = {
    {"active_count", mod_active_count, METH_NOARGS, "The number of alive threads."},
    {"activeCount", mod_activeCount, METH_NOARGS, "Deprecated alias of active_count()."},
    {"current_thread", mod_current_thread, METH_NOARGS, "The calling thread's Thread."},
    {"currentThread", mod_currentThread, METH_NOARGS, "Deprecated alias of current_thread()."},
    {"main_thread", mod_main_thread, METH_NOARGS, "The main thread's Thread."},
    {"enumerate", mod_enumerate, METH_NOARGS, "A list of the alive threads."},
    {"get_ident", mod_get_ident, METH_NOARGS, "The calling thread's identifier."},
    {"get_native_id", mod_get_native_id, METH_NOARGS, "The kernel's id of the calling thread."},
    {"stack_size", METH_CAST(mod_stack_size), METH_FASTCALL,
     "stack_size([size]) -> the previous size\nThe stack size of threads started later."},
    {"settrace", mod_settrace, METH_O, "settrace(func): sys.settrace(func) in each new thread."},
    {"setprofile", mod_setprofile, METH_O,
     "setprofile(func): sys.setprofile(func) in each new thread."},
    {"gettrace", mod_gettrace, METH_NOARGS, "The function set by settrace()."},
#if PY_VERSION_HEX >= 0x030C0000
    {"settrace_all_threads", mod_settrace_all_threads, METH_O,
     "settrace(func) and sys.settrace(func) in every running thread."},
    {"setprofile_all_threads", mod_setprofile_all_threads, METH_O,
     "setprofile(func) and sys.setprofile(func) in every running thread."},
#endif
    {"getprofile", mod_getprofile, METH_NOARGS, "The function set by setprofile()."},
    {nullptr, nullptr, 0, nullptr}};

PyMethodDef shutdown_def = {"_shutdown", mod_shutdown, METH_NOARGS,
                            "Exit: join pythreading's non-daemon threads, then threading's."};

}  // namespace

bool init_thread(PyObject* m) {
  if (PyModule_AddFunctions(m, module_functions) < 0) return false;
  PyObject* t = PyType_FromSpec(&thread_spec);
  if (t == nullptr) return false;
  g_thread_type = reinterpret_cast<PyTypeObject*>(t);
  Ref bases(PyTuple_Pack(1, t));
  if (!add_type(m, "Thread", t) || !bases) return false;
  PyObject* timer = PyType_FromSpecWithBases(&timer_spec, bases.get());
  if (timer == nullptr || !add_type(m, "Timer", timer)) return false;
  PyObject* main = PyType_FromSpecWithBases(&main_spec, bases.get());
  if (main == nullptr || !add_type(m, "_MainThread", main)) return false;
  g_main_thread_type = reinterpret_cast<PyTypeObject*>(main);
  PyObject* dummy = PyType_FromSpecWithBases(&dummy_spec, bases.get());
  if (dummy == nullptr || !add_type(m, "_DummyThread", dummy)) return false;
  g_dummy_thread_type = reinterpret_cast<PyTypeObject*>(dummy);

  // excepthook: _thread's default (prints "Exception in thread NAME:" and
  // the traceback; silent for SystemExit), replaceable, looked up per use.
  Ref thread_mod(PyImport_ImportModule("_thread"));
  if (!thread_mod) return false;
  Ref hook(PyObject_GetAttrString(thread_mod.get(), "_excepthook"));
  g_default_excepthook = Py_XNewRef(hook.get());
  Ref hook_args(hook ? PyObject_GetAttrString(thread_mod.get(), "_ExceptHookArgs") : nullptr);
  if (!hook_args) return false;
  if (PyModule_AddObject(m, "excepthook", Py_NewRef(hook.get())) < 0 ||
      PyModule_AddObject(m, "__excepthook__", Py_NewRef(hook.get())) < 0 ||
      PyModule_AddObject(m, "ExceptHookArgs", Py_NewRef(hook_args.get())) < 0) {
    return false;
  }

  // Exit order: threading._shutdown, wrapped (see mod_shutdown).
  Ref std_threading(PyImport_ImportModule("threading"));
  if (!std_threading) return false;
  g_std_threading = Py_NewRef(std_threading.get());
  g_std_shutdown = PyObject_GetAttrString(std_threading.get(), "_shutdown");  // kept
  if (g_std_shutdown == nullptr) PyErr_Clear();
  Ref ours(PyCFunction_NewEx(&shutdown_def, nullptr, nullptr));
  return ours && PyObject_SetAttrString(std_threading.get(), "_shutdown", ours.get()) == 0;
}

}  // namespace pythreading_py
