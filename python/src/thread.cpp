// Thread and the module functions for Python.
//
// A pythreading.Thread is a threading::Thread (a PyThread, which knows its
// target, args and kwargs as Python objects). Its C++ run() — what the new
// thread executes — takes the GIL and calls the Python-level `self.run()`,
// so a Python subclass overriding run() works as with threading.Thread. The
// Python object is kept alive (a reference held in the PyThread) from start()
// until run() has returned.
#include <pybind11/eval.h>

#include <threading/thread.hpp>
#include <unordered_set>

#include "common.hpp"

namespace pythreading_py {

namespace {

using namespace pybind11::literals;

// Module-level Python state, guarded by the GIL.
PyObject* g_module = nullptr;   // borrowed: the module outlives every thread
PyObject* g_trace = Py_None;    // settrace()
PyObject* g_profile = Py_None;  // setprofile()
std::unordered_set<const threading::Thread*> g_pinned;  // main/dummy wrappers kept alive

class PyThread : public threading::Thread {
 public:
  explicit PyThread(Options o) : Thread(std::move(o)) {}
  // The last reference may be the running thread's own (the library's), so
  // this can run in any thread, with or without the GIL.
  ~PyThread() override {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) {
      // Too late to touch Python objects: leave them.
      target_.release();
      args_.release();
      kwargs_.release();
      self_keep_.release();
      return;
    }
    PyGILState_STATE st = PyGILState_Ensure();
    target_ = py::object();
    args_ = py::object();
    kwargs_ = py::object();
    self_keep_ = py::object();
    PyGILState_Release(st);
  }

  // The new thread's activity: Python's Thread._bootstrap_inner in short.
  void run() override {
    // Raw C API only: during interpreter finalization a daemon thread may be
    // ended (pthread_exit) inside any GIL acquisition, unwinding this frame
    // without the GIL, so nothing here may own a Python reference.
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject* self = self_keep_.release().ptr();  // our reference now
    if (g_trace != Py_None) call_sys("settrace", g_trace);
    if (g_profile != Py_None) call_sys("setprofile", g_profile);
    PyObject* r = PyObject_CallMethod(self, "run", nullptr);
    if (r == nullptr) {
      report_exception(self);
    } else {
      Py_DECREF(r);
    }
    Py_DECREF(self);
    PyGILState_Release(st);
  }

  // Python's default Thread.run().
  void py_run() {
    if (consumed_) {
      throw py::attribute_error("'Thread' object has no attribute '_target'");
    }
    py::object target = std::move(target_), args = std::move(args_), kwargs = std::move(kwargs_);
    consumed_ = true;
    if (target && !target.is_none()) {
      PyObject* r = PyObject_Call(target.ptr(), py::tuple(args).ptr(), kwargs.ptr());
      if (r == nullptr) throw py::error_already_set();
      Py_DECREF(r);
    }
  }

  // Called with the GIL by start(): keep `self` alive until run() ends.
  bool keep_alive(py::handle self) {
    if (self_keep_) return false;
    self_keep_ = py::reinterpret_borrow<py::object>(self);
    return true;
  }
  void drop_keep_alive() { self_keep_ = py::object(); }

  py::object target_, args_, kwargs_;
  bool consumed_ = false;

 private:
  static void call_sys(const char* fn, PyObject* arg) {
    PyObject* sys = PyImport_ImportModule("sys");
    PyObject* r = sys != nullptr ? PyObject_CallMethod(sys, fn, "O", arg) : nullptr;
    if (r == nullptr) PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(sys);
  }

  // CPython's _make_invoke_excepthook(): threading.excepthook(args), looked
  // up now; if the hook fails, "Exception in threading.excepthook:" and
  // sys.excepthook for the hook's own exception.
  static void report_exception(PyObject* thread) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
    PyObject* hook = PyObject_GetAttrString(g_module, "excepthook");
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

  py::object self_keep_;
};

py::object wrap(const std::shared_ptr<threading::Thread>& t) {
  py::object o = py::cast(t);
  // Main and dummy threads have no Python-made wrapper; keep the first one,
  // so current_thread() is always the same object (attributes included).
  if (dynamic_cast<PyThread*>(t.get()) == nullptr && g_pinned.insert(t.get()).second) {
    o.inc_ref();
  }
  return o;
}

void deprecated(const char* msg) {
  if (PyErr_WarnEx(PyExc_DeprecationWarning, msg, 1) < 0) throw py::error_already_set();
}

void thread_join(threading::Thread& t, py::handle timeout_obj) {
  std::optional<Deadline> deadline;
  if (!timeout_obj.is_none()) {
    double x = number_arg(timeout_obj);
    if (std::isnan(x) || x > threading::TIMEOUT_MAX) {
      py::gil_scoped_release nogil;
      t.join(x);  // ValueError / OverflowError on a live thread
      return;
    }
    deadline = Deadline::after(x);  // negative: a poll
  }
  bool done = block(
      [&](Timeout w) {
        t.join(w);
        return !t.is_alive();
      },
      deadline);
  if (done && !deadline && in_main_thread()) {
    // The sliced joins were timed; an untimed one also reaps the OS thread
    // (its thread-locals are gone when join() returns).
    py::gil_scoped_release nogil;
    t.join();
  }
}

std::string thread_repr(py::handle self) {
  auto& t = self.cast<threading::Thread&>();
  if (dynamic_cast<PyThread*>(&t) == nullptr) return t.repr();  // _MainThread, _DummyThread
  // "<ClassName(name, status[ daemon][ ident])>", the Python class's name.
  auto ident = t.ident();
  std::string status = t.is_alive() ? "started" : ident ? "stopped" : "initial";
  if (t.daemon()) status += " daemon";
  if (ident) status += " " + std::to_string(*ident);
  py::handle type = reinterpret_cast<PyObject*>(Py_TYPE(self.ptr()));
  return "<" + std::string(py::str(type.attr("__name__"))) + "(" + t.name() + ", " + status + ")>";
}

}  // namespace

void init_thread(py::module_& m) {
  g_module = m.ptr();

  py::class_<threading::Thread, PyThread, std::shared_ptr<threading::Thread>>(
      m, "Thread", py::dynamic_attr(),
      "A thread of control: Thread(group=None, target=None, name=None, args=(), "
      "kwargs=None, *, daemon=None). Subclass it and override run(), or pass a target.")
      .def(py::init([](py::object group, py::object target, py::object name, py::object args,
                       py::object kwargs, py::object daemon) {
             if (!group.is_none()) {
               PyErr_SetString(PyExc_AssertionError, "group argument must be None for now");
               throw py::error_already_set();
             }
             threading::Thread::Options o;
             if (PyObject_IsTrue(name.ptr()) == 1) o.name = std::string(py::str(name));
             if (PyErr_Occurred()) throw py::error_already_set();
             if (!daemon.is_none()) o.daemon = PyObject_IsTrue(daemon.ptr()) == 1;
             bool auto_name = !o.name.has_value();
             auto* t = new PyThread(std::move(o));
             if (auto_name && !target.is_none() && py::hasattr(target, "__name__")) {
               // 3.10+: "Thread-N (target_name)"
               t->name(t->name() + " (" + std::string(py::str(target.attr("__name__"))) + ")");
             }
             t->target_ = target;
             t->args_ = args;
             t->kwargs_ = kwargs.is_none() ? py::dict() : kwargs;
             return t;
           }),
           "group"_a = py::none(), "target"_a = py::none(), "name"_a = py::none(),
           "args"_a = py::tuple(), "kwargs"_a = py::none(), py::kw_only(), "daemon"_a = py::none())
      .def("start",
           [](py::handle self) {
             auto& t = self.cast<threading::Thread&>();
             auto* pt = dynamic_cast<PyThread*>(&t);
             bool kept = pt != nullptr && pt->keep_alive(self);
             try {
               py::gil_scoped_release nogil;
               t.start();
             } catch (...) {
               if (kept) pt->drop_keep_alive();
               throw;
             }
           })
      .def("run",
           [](threading::Thread& t) {
             if (auto* pt = dynamic_cast<PyThread*>(&t)) {
               pt->py_run();
             } else {
               py::gil_scoped_release nogil;
               t.run();
             }
           })
      .def("join", &thread_join, "timeout"_a = py::none())
      .def("is_alive", &threading::Thread::is_alive)
      .def_property(
          "name", [](const threading::Thread& t) { return t.name(); },
          [](threading::Thread& t, py::handle v) { t.name(std::string(py::str(v))); })
      .def_property(
          "daemon", [](const threading::Thread& t) { return t.daemon(); },
          [](threading::Thread& t, py::handle v) {
            int b = PyObject_IsTrue(v.ptr());
            if (b < 0) throw py::error_already_set();
            t.daemon(b == 1);
          })
      .def_property_readonly("ident",
                             [](const threading::Thread& t) -> py::object {
                               auto i = t.ident();
                               return i ? py::object(py::int_(*i)) : py::object(py::none());
                             })
      .def_property_readonly("native_id",
                             [](const threading::Thread& t) -> py::object {
                               auto i = t.native_id();
                               return i ? py::object(py::int_(*i)) : py::object(py::none());
                             })
      .def("getName",
           [](const threading::Thread& t) {
             deprecated("getName() is deprecated, get the name attribute instead");
             return t.name();
           })
      .def("setName",
           [](threading::Thread& t, py::handle v) {
             deprecated("setName() is deprecated, set the name attribute instead");
             t.name(std::string(py::str(v)));
           })
      .def("isDaemon",
           [](const threading::Thread& t) {
             deprecated("isDaemon() is deprecated, get the daemon attribute instead");
             return t.daemon();
           })
      .def("setDaemon",
           [](threading::Thread& t, bool d) {
             deprecated("setDaemon() is deprecated, set the daemon attribute instead");
             t.daemon(d);
           })
      .def("__repr__", &thread_repr);

  // --- module functions -------------------------------------------------------
  m.def("active_count", [] { return threading::active_count(); });
  m.def("activeCount", [] {
    deprecated("activeCount() is deprecated, use active_count() instead");
    return threading::active_count();
  });
  m.def("current_thread", [] { return wrap(threading::current_thread()); });
  m.def("currentThread", [] {
    deprecated("currentThread() is deprecated, use current_thread() instead");
    return wrap(threading::current_thread());
  });
  m.def("main_thread", [] { return wrap(threading::main_thread()); });
  m.def("enumerate", [] {
    py::list out;
    for (const auto& t : threading::enumerate()) out.append(wrap(t));
    return out;
  });
  m.def("get_ident", [] { return threading::get_ident(); });
  m.def("get_native_id", [] { return threading::get_native_id(); });
  m.def("stack_size", [](py::args a) {
    Py_ssize_t n = PyTuple_GET_SIZE(a.ptr());
    if (n == 0) return threading::stack_size();
    if (n > 1) {
      throw py::type_error("stack_size expected at most 1 argument, got " + std::to_string(n));
    }
    py::handle v = a[0];
    if (!PyLong_Check(v.ptr())) {
      PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                   Py_TYPE(v.ptr())->tp_name);
      throw py::error_already_set();
    }
    long long size = PyLong_AsLongLong(v.ptr());
    if (size == -1 && PyErr_Occurred()) throw py::error_already_set();
    return threading::stack_size(size);
  });
  m.def(
      "settrace",
      [](py::object f) {
        Py_INCREF(f.ptr());
        Py_SETREF(g_trace, f.ptr());
      },
      "func"_a);
  m.def(
      "setprofile",
      [](py::object f) {
        Py_INCREF(f.ptr());
        Py_SETREF(g_profile, f.ptr());
      },
      "func"_a);
  m.def("gettrace", [] { return py::reinterpret_borrow<py::object>(g_trace); });
  m.def("getprofile", [] { return py::reinterpret_borrow<py::object>(g_profile); });

  // excepthook: CPython's own default (prints "Exception in thread NAME:" and
  // the traceback; silent for SystemExit), replaceable, looked up per use.
  py::module_ thread_mod = py::module_::import("_thread");
  m.attr("excepthook") = thread_mod.attr("_excepthook");
  m.attr("__excepthook__") = thread_mod.attr("_excepthook");
  m.attr("ExceptHookArgs") = thread_mod.attr("_ExceptHookArgs");

  // Timer is CPython's own (pure-Python) Timer over our Thread and Event.
  py::dict ns = m.attr("__dict__");
  py::exec(R"(
class Timer(Thread):
    """Call a function after a specified number of seconds:

            t = Timer(30.0, f, args=None, kwargs=None)
            t.start()
            t.cancel()     # stop the timer's action if it's still waiting

    """

    def __init__(self, interval, function, args=None, kwargs=None):
        Thread.__init__(self)
        self.interval = interval
        self.function = function
        self.args = args if args is not None else []
        self.kwargs = kwargs if kwargs is not None else {}
        self.finished = Event()

    def cancel(self):
        """Stop the timer if it hasn't finished yet."""
        self.finished.set()

    def run(self):
        self.finished.wait(self.interval)
        if not self.finished.is_set():
            self.function(*self.args, **self.kwargs)
        self.finished.set()

Timer.__module__ = "pythreading"
)",
           ns, ns);

  // Interpreter exit waits for our non-daemon threads, as it does for
  // threading's (atexit callbacks run after threading._shutdown()).
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    py::gil_scoped_release nogil;
    threading::_shutdown();
  }));
}

}  // namespace pythreading_py
