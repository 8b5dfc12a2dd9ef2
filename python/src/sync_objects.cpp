// Semaphore, BoundedSemaphore, Event and Barrier for Python.
#include <functional>
#include <memory>
#include <string>
#include <threading/barrier.hpp>
#include <threading/errors.hpp>
#include <threading/event.hpp>
#include <threading/semaphore.hpp>

#include "common.hpp"
#include "fastcall.hpp"

namespace pythreading_py {

namespace {

using namespace pybind11::literals;

// ---------------------------------------------------------------------------
// Semaphore / BoundedSemaphore

bool sem_acquire(threading::Semaphore& sem, py::handle blocking_obj, py::handle timeout_obj) {
  int b = PyObject_IsTrue(blocking_obj.ptr());
  if (b < 0) throw py::error_already_set();
  if (b == 0 && !timeout_obj.is_none()) {
    throw threading::ValueError("can't specify timeout for non-blocking acquire");
  }
  if (sem.try_lock()) return true;
  if (b == 0) return false;
  // The timeout is looked at only now that the call has to wait.
  std::optional<Deadline> deadline;
  if (!timeout_obj.is_none()) {
    double t = number_arg(timeout_obj);
    if (!std::isnan(t)) {  // NaN never expires (CPython re-polls forever)
      if (t <= 0) return sem.try_lock();
      threading::detail::check_not_too_large(t);
      deadline = Deadline::after(t);
    }
  }
  return block([&](Timeout w) { return sem.acquire(true, w); }, deadline);
}

void sem_release(threading::Semaphore& sem, py::handle n_obj) {
  if (!PyLong_Check(n_obj.ptr())) {
    PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                 Py_TYPE(n_obj.ptr())->tp_name);
    throw py::error_already_set();
  }
  int overflow = 0;
  long long n = PyLong_AsLongLongAndOverflow(n_obj.ptr(), &overflow);
  if (n == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow < 0 || (overflow == 0 && n < 1)) {
    throw threading::ValueError("n must be one or more");
  }
  if (overflow > 0) throw threading::OverflowError("semaphore value too large");
  sem.release(static_cast<std::size_t>(n));
}

long long sem_value(py::handle v) {
  if (!PyLong_Check(v.ptr())) {
    PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                 Py_TYPE(v.ptr())->tp_name);
    throw py::error_already_set();
  }
  int overflow = 0;
  long long n = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (n == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow < 0) throw threading::ValueError("semaphore initial value must be >= 0");
  if (overflow > 0) throw threading::OverflowError("semaphore value too large");
  return n;
}

// ---------------------------------------------------------------------------
// Event

bool event_wait(threading::Event& ev, py::handle timeout_obj) {
  if (ev.is_set()) return true;  // the timeout is not even looked at
  std::optional<Deadline> deadline;
  if (!timeout_obj.is_none()) {
    double t = number_arg(timeout_obj);
    if (std::isnan(t) || t <= 0) return ev.is_set();
    threading::detail::check_not_too_large(t);
    deadline = Deadline::after(t);
  }
  return block([&](Timeout w) { return ev.wait(w); }, deadline);
}

// ---------------------------------------------------------------------------
// Barrier

threading::Barrier* make_barrier(py::handle parties_obj, py::object action, py::handle timeout) {
  if (!PyLong_Check(parties_obj.ptr())) {
    PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                 Py_TYPE(parties_obj.ptr())->tp_name);
    throw py::error_already_set();
  }
  int overflow = 0;
  long long parties = PyLong_AsLongLongAndOverflow(parties_obj.ptr(), &overflow);
  if (parties == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow < 0 || (overflow == 0 && parties < 1)) {
    throw threading::ValueError("parties must be > 0");
  }
  if (overflow > 0) throw threading::OverflowError("parties too large");
  std::function<void()> fn;
  if (!action.is_none()) {
    // The callable is released with the GIL, whichever thread drops it last.
    std::shared_ptr<py::object> a(new py::object(std::move(action)), [](py::object* p) {
      if (!Py_IsInitialized() || _Py_IsFinalizing()) {
        p->release();  // too late to touch Python objects
        delete p;
        return;
      }
      py::gil_scoped_acquire gil;
      delete p;
    });
    fn = [a] {
      py::gil_scoped_acquire gil;
      (*a)();
    };
  }
  return new threading::Barrier(static_cast<std::size_t>(parties), std::move(fn),
                                optional_timeout_arg(timeout));
}

std::size_t barrier_wait(threading::Barrier& b, py::handle timeout_obj) {
  Timeout t = optional_timeout_arg(timeout_obj);
  // No slicing here: a Barrier wait that times out breaks the barrier.
  py::gil_scoped_release nogil;
  return b.wait(t);
}

PyTypeObject* g_bounded_type = nullptr;

threading::Semaphore* sem_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (!inst->simple_layout) return &py::handle(self).cast<threading::Semaphore&>();
  void* p = inst->simple_value_holder[0];
  if (g_bounded_type != nullptr && PyObject_TypeCheck(self, g_bounded_type)) {
    return static_cast<threading::BoundedSemaphore*>(p);
  }
  return static_cast<threading::Semaphore*>(p);
}

PyObject* fast_sem_acquire(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
  threading::Semaphore* s = sem_of(self);
  if (nargs == 0 && kwnames == nullptr && s->try_lock()) Py_RETURN_TRUE;
  PyObject* a[2];
  if (!parse_two("acquire", "blocking", "timeout", args, nargs, kwnames, a)) return nullptr;
  try {
    return PyBool_FromLong(sem_acquire(*s, a[0] ? a[0] : Py_True, a[1] ? a[1] : Py_None));
  } catch (...) {
    return raise_current();
  }
}
PyObject* fast_sem_enter(PyObject* self, PyObject*) {
  return fast_sem_acquire(self, nullptr, 0, nullptr);
}
PyObject* fast_sem_release(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
  threading::Semaphore* s = sem_of(self);
  try {
    if (nargs == 0 && kwnames == nullptr) {
      s->release();
      Py_RETURN_NONE;
    }
    PyObject* a[2];
    if (!parse_two("release", "n", "", args, nargs, kwnames, a)) return nullptr;
    if (a[1] != nullptr || nargs > 1) {
      PyErr_SetString(PyExc_TypeError, "release() takes at most 1 argument");
      return nullptr;
    }
    sem_release(*s, a[0]);
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}
PyObject* fast_sem_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  return fast_sem_release(self, nullptr, 0, nullptr);
}

PyMethodDef g_sem_methods[] = {
    {"acquire", cfunc(fast_sem_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=None) -> bool"},
    {"__enter__", cfunc(fast_sem_enter), METH_NOARGS, "acquire()"},
    {"release", cfunc(fast_sem_release), METH_FASTCALL | METH_KEYWORDS, "release(n=1)"},
    {"__exit__", cfunc(fast_sem_exit), METH_FASTCALL, "release()"},
};

}  // namespace

void init_sync_objects(py::module_& m) {
  // --- Semaphore / BoundedSemaphore -----------------------------------------
  py::class_<threading::Semaphore>(m, "Semaphore",
                                   "A counting semaphore: acquire() waits while the counter is "
                                   "0; release() has no upper bound.")
      .def(py::init([](py::handle v) { return new threading::Semaphore(sem_value(v)); }),
           "value"_a = 1)
      .def("acquire", &sem_acquire, "blocking"_a = true, "timeout"_a = py::none())
      .def("__enter__", &sem_acquire, "blocking"_a = true, "timeout"_a = py::none())
      .def("release", &sem_release, "n"_a = 1)
      .def("__exit__", [](threading::Semaphore& s, py::args) { s.release(); })
      .def("__repr__", [](py::handle self) {
        auto& s = self.cast<threading::Semaphore&>();
        return "<" + type_name(self) + " at " + addr(self.ptr()) +
               ": value=" + std::to_string(s.value()) + ">";
      });
  py::class_<threading::BoundedSemaphore, threading::Semaphore>(
      m, "BoundedSemaphore",
      "A semaphore whose release() may not raise the counter above its initial value.")
      .def(py::init([](py::handle v) { return new threading::BoundedSemaphore(sem_value(v)); }),
           "value"_a = 1)
      .def("__repr__", [](py::handle self) {
        auto& s = self.cast<threading::BoundedSemaphore&>();
        return "<" + type_name(self) + " at " + addr(self.ptr()) +
               ": value=" + std::to_string(s.value()) + "/" + std::to_string(s.initial_value()) +
               ">";
      });

  // --- Event ----------------------------------------------------------------
  py::class_<threading::Event>(m, "Event", "A flag that threads can wait for.")
      .def(py::init<>())
      .def("is_set", &threading::Event::is_set)
      .def("isSet",
           [](threading::Event& e) {
             if (PyErr_WarnEx(PyExc_DeprecationWarning,
                              "isSet() is deprecated, use is_set() instead", 1) < 0) {
               throw py::error_already_set();
             }
             return e.is_set();
           })
      .def("set", &threading::Event::set)
      .def("clear", &threading::Event::clear)
      .def("wait", &event_wait, "timeout"_a = py::none())
      .def("__repr__", [](py::handle self) {
        auto& e = self.cast<threading::Event&>();
        return "<" + type_name(self) + " at " + addr(self.ptr()) + ": " +
               (e.is_set() ? "set" : "unset") + ">";
      });

  install(m.attr("Semaphore"), g_sem_methods);
  g_bounded_type = reinterpret_cast<PyTypeObject*>(m.attr("BoundedSemaphore").ptr());

  // --- Barrier --------------------------------------------------------------
  py::class_<threading::Barrier>(m, "Barrier",
                                 "A cyclic barrier: wait() returns once `parties` threads "
                                 "wait; the last one runs `action` first.")
      .def(py::init(&make_barrier), "parties"_a, "action"_a = py::none(), "timeout"_a = py::none())
      .def("wait", &barrier_wait, "timeout"_a = py::none())
      .def("reset", &threading::Barrier::reset, py::call_guard<py::gil_scoped_release>())
      .def("abort", &threading::Barrier::abort, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("parties", &threading::Barrier::parties)
      .def_property_readonly("n_waiting", &threading::Barrier::n_waiting)
      .def_property_readonly("broken", &threading::Barrier::broken)
      .def("__repr__", [](py::handle self) {
        auto& b = self.cast<threading::Barrier&>();
        std::string head = "<" + type_name(self) + " at " + addr(self.ptr()) + ": ";
        if (b.broken()) return head + "broken>";
        return head + "waiters=" + std::to_string(b.n_waiting()) + "/" +
               std::to_string(b.parties()) + ">";
      });
}

}  // namespace pythreading_py
