// Lock, RLock, Condition (and the other synchronisation objects) for Python.
#include <deque>
#include <memory>
#include <string>
#include <threading/condition.hpp>
#include <threading/errors.hpp>
#include <threading/lock.hpp>
#include <threading/rlock.hpp>

#include "common.hpp"
#include "fastcall.hpp"

namespace pythreading_py {

namespace {

using namespace pybind11::literals;

// ---------------------------------------------------------------------------
// Lock

bool lock_acquire(threading::Lock& lock, py::handle blocking_obj, py::handle timeout_obj) {
  bool blocking = blocking_arg(blocking_obj);
  double t = lock_timeout_arg(timeout_obj);
  if (t == -1 && blocking) {
    if (lock.try_lock()) return true;
    return block([&](Timeout w) { return lock.acquire(true, w); }, std::nullopt);
  }
  std::optional<Deadline> deadline = threading::detail::lock_acquire_deadline(blocking, t);
  if (lock.try_lock()) return true;
  if (!blocking || (deadline && deadline->expired())) return false;
  return block([&](Timeout w) { return lock.acquire(true, w); }, deadline);
}

std::string lock_repr(py::handle self) {
  auto& lock = self.cast<threading::Lock&>();
  return std::string(lock.locked() ? "<locked " : "<unlocked ") + "pythreading.Lock object at " +
         addr(self.ptr()) + ">";
}

// ---------------------------------------------------------------------------
// RLock: the library's RLock plus a mirror of its owner and count, kept by
// the owner, so that repr() can show them from any thread.

struct PyRLock {
  threading::RLock lock;
  std::atomic<unsigned long> owner{0};
  std::atomic<std::uint32_t> count{0};

  void note_acquired() noexcept {
    std::uint32_t n = lock.recursion_count();
    if (n == 1) owner.store(PyThread_get_thread_ident(), std::memory_order_relaxed);
    count.store(n, std::memory_order_relaxed);
  }
  void note_releasing() noexcept {
    std::uint32_t n = lock.recursion_count();
    if (n == 0) return;  // release() raises
    if (n == 1) owner.store(0, std::memory_order_relaxed);
    count.store(n - 1, std::memory_order_relaxed);
  }
  void note_released_all() noexcept {
    owner.store(0, std::memory_order_relaxed);
    count.store(0, std::memory_order_relaxed);
  }

  bool acquire(py::handle blocking_obj, py::handle timeout_obj) {
    bool blocking = blocking_arg(blocking_obj);
    double t = lock_timeout_arg(timeout_obj);
    bool ok;
    if (t == -1 && blocking) {
      ok = lock.acquire(false) ||
           block([&](Timeout w) { return lock.acquire(true, w); }, std::nullopt);
    } else {
      // Validates even on re-entry, as CPython's C RLock does.
      std::optional<Deadline> deadline = threading::detail::lock_acquire_deadline(blocking, t);
      if (lock.acquire(false)) {
        ok = true;
      } else if (!blocking || (deadline && deadline->expired())) {
        ok = false;
      } else {
        ok = block([&](Timeout w) { return lock.acquire(true, w); }, deadline);
      }
    }
    if (ok) note_acquired();
    return ok;
  }
  void release() {
    note_releasing();
    lock.release();
  }
  py::tuple release_save() {
    std::uint32_t n = lock.recursion_count();
    if (n == 0) throw threading::RuntimeError("cannot release un-acquired lock");
    unsigned long me = PyThread_get_thread_ident();
    note_released_all();
    for (std::uint32_t i = 0; i < n; ++i) lock.release();
    return py::make_tuple(n, me);
  }
  void acquire_restore(py::handle state) {
    auto st = py::reinterpret_borrow<py::tuple>(state);
    auto n = st[0].cast<std::uint32_t>();
    if (!lock.acquire(false)) {
      block([&](Timeout w) { return lock.acquire(true, w); }, std::nullopt);
    }
    for (std::uint32_t i = 1; i < n; ++i) lock.acquire(false);
    note_acquired();
  }
  std::string repr(const void* self) const {
    unsigned long o = owner.load(std::memory_order_relaxed);
    std::uint32_t c = count.load(std::memory_order_relaxed);
    if (lock.is_owned()) {
      o = PyThread_get_thread_ident();
      c = lock.recursion_count();
    }
    return std::string(o != 0 ? "<locked " : "<unlocked ") +
           "pythreading.RLock object owner=" + std::to_string(o) + " count=" + std::to_string(c) +
           " at " + addr(self) + ">";
  }
};

// ---------------------------------------------------------------------------
// Condition. Over our own Lock/RLock it is the library's Condition; over any
// other object with acquire()/release() (threading.Lock(), a Semaphore, ...)
// it is CPython's pure-Python algorithm: a FIFO of per-waiter locks (ours),
// guarded by the GIL.

class PyCondition {
 public:
  explicit PyCondition(py::object lock) {
    if (lock.is_none()) lock = py::cast(new PyRLock, py::return_value_policy::take_ownership);
    lock_ = lock;
    if (py::isinstance<PyRLock>(lock)) {
      rlock_ = &lock.cast<PyRLock&>();
      native_ = std::make_unique<threading::Condition>(rlock_->lock);
    } else if (py::isinstance<threading::Lock>(lock)) {
      plock_ = &lock.cast<threading::Lock&>();
      native_ = std::make_unique<threading::Condition>(*plock_);
    } else {
      acquire_ = lock.attr("acquire");  // AttributeError, as in CPython
      release_ = lock.attr("release");
      if (py::hasattr(lock, "_release_save")) release_save_ = lock.attr("_release_save");
      if (py::hasattr(lock, "_acquire_restore")) acquire_restore_ = lock.attr("_acquire_restore");
      if (py::hasattr(lock, "_is_owned")) is_owned_ = lock.attr("_is_owned");
    }
  }

  py::object acquire(py::args args, py::kwargs kwargs) {
    if (rlock_ != nullptr || plock_ != nullptr) {
      if (PyTuple_GET_SIZE(args.ptr()) > 2) {
        throw py::type_error("acquire() takes at most 2 arguments (" +
                             std::to_string(PyTuple_GET_SIZE(args.ptr())) + " given)");
      }
      py::object blocking = py::bool_(true), timeout = py::int_(-1);
      if (PyTuple_GET_SIZE(args.ptr()) > 0) blocking = args[0];
      if (PyTuple_GET_SIZE(args.ptr()) > 1) timeout = args[1];
      for (auto item : kwargs) {
        std::string k = py::str(item.first);
        if (k == "blocking" && PyTuple_GET_SIZE(args.ptr()) < 1) {
          blocking = py::reinterpret_borrow<py::object>(item.second);
        } else if (k == "timeout" && PyTuple_GET_SIZE(args.ptr()) < 2) {
          timeout = py::reinterpret_borrow<py::object>(item.second);
        } else {
          throw py::type_error("acquire() got an unexpected keyword argument '" + k + "'");
        }
      }
      bool ok = rlock_ != nullptr ? rlock_->acquire(blocking, timeout)
                                  : lock_acquire(*plock_, blocking, timeout);
      return py::bool_(ok);
    }
    return acquire_(*args, **kwargs);
  }
  py::object release() {
    if (rlock_ != nullptr) {
      rlock_->release();
      return py::none();
    }
    if (plock_ != nullptr) {
      plock_->release();
      return py::none();
    }
    return release_();
  }
  py::object enter() {
    if (rlock_ != nullptr) return py::bool_(rlock_->acquire(py::bool_(true), py::int_(-1)));
    if (plock_ != nullptr) return py::bool_(lock_acquire(*plock_, py::bool_(true), py::int_(-1)));
    return acquire_();
  }

  bool is_owned() {
    if (rlock_ != nullptr) return rlock_->lock.is_owned();
    if (plock_ != nullptr) return plock_->locked();
    if (is_owned_) return py::bool_(is_owned_());
    if (py::bool_(acquire_(false))) {
      release_();
      return false;
    }
    return true;
  }
  py::object release_save() {
    if (rlock_ != nullptr) return rlock_->release_save();
    if (plock_ != nullptr) {
      plock_->release();
      return py::none();
    }
    if (release_save_) return release_save_();
    return release_();
  }
  void acquire_restore(py::handle state) {
    if (rlock_ != nullptr) return rlock_->acquire_restore(state);
    if (plock_ != nullptr) {
      lock_acquire(*plock_, py::bool_(true), py::int_(-1));
      return;
    }
    if (acquire_restore_) {
      acquire_restore_(state);
    } else {
      acquire_();
    }
  }
  std::uint32_t recursion_count() {
    if (rlock_ != nullptr) return rlock_->lock.recursion_count();
    throw py::attribute_error("'Condition' object has no attribute '_recursion_count'");
  }

  bool wait(py::handle timeout_obj) {
    if (native_) return wait_native(timeout_obj);
    return wait_foreign(timeout_obj);
  }

  py::object wait_for(py::object predicate, py::object timeout) {
    // CPython's algorithm, line for line.
    double endtime = 0;
    bool have_end = false;
    std::optional<double> waittime;
    if (!timeout.is_none()) waittime = number_arg(timeout);
    py::object result = predicate();
    while (!PyObject_IsTrue(result.ptr())) {
      if (PyErr_Occurred()) throw py::error_already_set();
      if (waittime) {
        if (!have_end) {
          endtime = now() + *waittime;
          have_end = true;
        } else {
          waittime = endtime - now();
          if (*waittime <= 0) break;
        }
      }
      wait(waittime ? py::object(py::float_(*waittime)) : py::object(py::none()));
      result = predicate();
    }
    return result;
  }

  void notify(py::handle n_obj) {
    // CPython: `while waiters and n > 0: ... n -= 1`, so 1.5 wakes two.
    std::size_t n;
    if (PyLong_Check(n_obj.ptr())) {
      int overflow = 0;
      long long v = PyLong_AsLongLongAndOverflow(n_obj.ptr(), &overflow);
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      n = overflow > 0 ? SIZE_MAX : (overflow < 0 || v <= 0 ? 0 : static_cast<std::size_t>(v));
    } else {
      double d = number_arg(n_obj);
      n = !(d > 0) ? 0 : d >= 1e18 ? SIZE_MAX : static_cast<std::size_t>(std::ceil(d));
    }
    if (native_) {
      native_->notify(n);
      return;
    }
    if (!is_owned()) throw threading::RuntimeError("cannot notify on un-acquired lock");
    while (!waiters_.empty() && n > 0) {
      std::shared_ptr<threading::Lock> w = waiters_.front();
      waiters_.pop_front();
      if (w->locked()) {
        w->release();
        --n;
      }
    }
  }
  void notify_all() {
    if (native_) {
      native_->notify_all();
      return;
    }
    notify(py::int_(static_cast<Py_ssize_t>(waiters_.size())));
  }

  std::string repr() {
    std::size_t waiting = native_ ? native_->waiter_count() : waiters_.size();
    return "<Condition(" + std::string(py::repr(lock_)) + ", " + std::to_string(waiting) + ")>";
  }

  const py::object& lock() const { return lock_; }

 private:
  static double now() { return static_cast<double>(Deadline::now_ns()) / 1e9; }

  bool wait_native(py::handle timeout_obj) {
    if (!is_owned()) throw threading::RuntimeError("cannot wait on un-acquired lock");
    Timeout timeout = optional_timeout_arg(timeout_obj);
    bool rl = rlock_ != nullptr;
    // The mirror is the owner's: while we wait, others may take the lock.
    std::uint32_t count = rl ? rlock_->lock.recursion_count() : 0;
    if (rl) rlock_->note_released_all();
    struct Restore {
      PyRLock* r;
      std::uint32_t n;
      ~Restore() {
        if (r != nullptr) {
          r->owner.store(PyThread_get_thread_ident(), std::memory_order_relaxed);
          r->count.store(n, std::memory_order_relaxed);
        }
      }
    } restore{rlock_, count};
    threading::Condition& cv = *native_;
    if (!in_main_thread()) {
      py::gil_scoped_release nogil;
      return cv.wait(timeout);
    }
    // Main thread: wait in slices, looking for signals in between (we hold
    // the lock again between slices, so no notification can be missed).
    std::optional<Deadline> deadline;
    if (!timeout.is_none()) {
      double t = timeout.seconds();
      if (std::isnan(t) || t <= 0) {
        py::gil_scoped_release nogil;
        return cv.wait(t);
      }
      threading::detail::check_not_too_large(t);
      deadline = Deadline::after(t);
    }
    return block([&](Timeout w) { return cv.wait(w); }, deadline);
  }

  bool wait_foreign(py::handle timeout_obj) {
    if (!is_owned()) throw threading::RuntimeError("cannot wait on un-acquired lock");
    auto waiter = std::make_shared<threading::Lock>();
    waiter->acquire();
    waiters_.push_back(waiter);
    py::object saved = release_save();
    bool gotit = false;
    try {
      if (timeout_obj.is_none()) {
        gotit = block([&](Timeout w) { return waiter->acquire(true, w); }, std::nullopt);
      } else {
        double t = number_arg(timeout_obj);
        if (t > 0) {
          threading::detail::check_not_too_large(t);
          gotit = block([&](Timeout w) { return waiter->acquire(true, w); }, Deadline::after(t));
        } else {
          gotit = waiter->acquire(false);
        }
      }
    } catch (...) {
      restore_after_wait(saved, waiter, false);
      throw;
    }
    restore_after_wait(saved, waiter, gotit);
    return gotit;
  }

  void restore_after_wait(const py::object& saved, const std::shared_ptr<threading::Lock>& waiter,
                          bool gotit) {
    acquire_restore(saved);
    if (!gotit) {
      auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
      if (it != waiters_.end()) waiters_.erase(it);
    }
  }

  py::object lock_;
  PyRLock* rlock_ = nullptr;
  threading::Lock* plock_ = nullptr;
  std::unique_ptr<threading::Condition> native_;
  // Foreign locks only (guarded by the GIL).
  py::object acquire_, release_, release_save_, acquire_restore_, is_owned_;
  std::deque<std::shared_ptr<threading::Lock>> waiters_;
};

// ---------------------------------------------------------------------------
// Fast paths. pybind11's generic dispatcher costs several hundred ns a call,
// more than the lock operation itself, so the hot methods of Lock, RLock and
// Semaphore are plain METH_FASTCALL functions installed on the classes.

PyObject* fast_lock_acquire(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
  auto* l = self_value<threading::Lock>(self);
  if (nargs == 0 && kwnames == nullptr && l->try_lock()) Py_RETURN_TRUE;
  PyObject* a[2];
  if (!parse_two("acquire", "blocking", "timeout", args, nargs, kwnames, a)) return nullptr;
  try {
    return PyBool_FromLong(lock_acquire(*l, a[0] ? a[0] : Py_True, a[1] ? a[1] : minus_one()));
  } catch (...) {
    return raise_current();
  }
}
PyObject* fast_lock_enter(PyObject* self, PyObject*) {
  return fast_lock_acquire(self, nullptr, 0, nullptr);
}
PyObject* fast_lock_release(PyObject* self, PyObject*) {
  try {
    self_value<threading::Lock>(self)->release();
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}
PyObject* fast_lock_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  return fast_lock_release(self, nullptr);
}

PyObject* fast_rlock_acquire(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                             PyObject* kwnames) {
  auto* r = self_value<PyRLock>(self);
  if (nargs == 0 && kwnames == nullptr && r->lock.acquire(false)) {
    r->note_acquired();
    Py_RETURN_TRUE;
  }
  PyObject* a[2];
  if (!parse_two("acquire", "blocking", "timeout", args, nargs, kwnames, a)) return nullptr;
  try {
    return PyBool_FromLong(r->acquire(a[0] ? a[0] : Py_True, a[1] ? a[1] : minus_one()));
  } catch (...) {
    return raise_current();
  }
}
PyObject* fast_rlock_enter(PyObject* self, PyObject*) {
  return fast_rlock_acquire(self, nullptr, 0, nullptr);
}
PyObject* fast_rlock_release(PyObject* self, PyObject*) {
  try {
    self_value<PyRLock>(self)->release();
  } catch (...) {
    return raise_current();
  }
  Py_RETURN_NONE;
}
PyObject* fast_rlock_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  return fast_rlock_release(self, nullptr);
}

PyMethodDef g_lock_methods[] = {
    {"acquire", cfunc(fast_lock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool"},
    {"acquire_lock", cfunc(fast_lock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "An alias of acquire()."},
    {"__enter__", cfunc(fast_lock_enter), METH_NOARGS, "acquire()"},
    {"release", cfunc(fast_lock_release), METH_NOARGS, "Release the lock (any thread may)."},
    {"release_lock", cfunc(fast_lock_release), METH_NOARGS, "An alias of release()."},
    {"__exit__", cfunc(fast_lock_exit), METH_FASTCALL, "release()"},
};
PyMethodDef g_rlock_methods[] = {
    {"acquire", cfunc(fast_rlock_acquire), METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool"},
    {"__enter__", cfunc(fast_rlock_enter), METH_NOARGS, "acquire()"},
    {"release", cfunc(fast_rlock_release), METH_NOARGS, "Release one level (owner only)."},
    {"__exit__", cfunc(fast_rlock_exit), METH_FASTCALL, "release()"},
};
}  // namespace

void init_sync(py::module_& m) {
  // --- Lock ---------------------------------------------------------------
  py::class_<threading::Lock>(m, "Lock", py::is_final(),
                              "A primitive lock (CPython's _thread.lock); any thread may "
                              "release it.")
      .def(py::init<>())
      .def("acquire", &lock_acquire, "blocking"_a = true, "timeout"_a = -1)
      .def("acquire_lock", &lock_acquire, "blocking"_a = true, "timeout"_a = -1)
      .def("__enter__",
           [](threading::Lock& l) { return lock_acquire(l, py::bool_(true), py::int_(-1)); })
      .def("release", &threading::Lock::release)
      .def("release_lock", &threading::Lock::release)
      .def("__exit__", [](threading::Lock& l, py::args) { l.release(); })
      .def("locked", &threading::Lock::locked)
      .def("locked_lock", &threading::Lock::locked)
      .def("_at_fork_reinit",
           [](threading::Lock& l) {
             std::destroy_at(&l);
             std::construct_at(&l);
           })
      .def("__repr__", &lock_repr);

  // --- RLock --------------------------------------------------------------
  py::class_<PyRLock>(m, "RLock", py::is_final(),
                      "A re-entrant lock (CPython's _thread.RLock); only the owner may release "
                      "it.")
      .def(py::init([](py::args, py::kwargs) { return new PyRLock; }))
      .def("acquire", &PyRLock::acquire, "blocking"_a = true, "timeout"_a = -1)
      .def("__enter__", [](PyRLock& l) { return l.acquire(py::bool_(true), py::int_(-1)); })
      .def("release", &PyRLock::release)
      .def("__exit__", [](PyRLock& l, py::args) { l.release(); })
      .def("_is_owned", [](PyRLock& l) { return l.lock.is_owned(); })
      .def("_recursion_count", [](PyRLock& l) { return l.lock.recursion_count(); })
      .def("_release_save", &PyRLock::release_save)
      .def("_acquire_restore", &PyRLock::acquire_restore)
      .def("_at_fork_reinit",
           [](PyRLock& l) {
             std::destroy_at(&l.lock);
             std::construct_at(&l.lock);
             l.note_released_all();
           })
      .def("__repr__", [](py::handle self) { return self.cast<PyRLock&>().repr(self.ptr()); });

  // --- Condition ----------------------------------------------------------
  py::class_<PyCondition>(m, "Condition",
                          "A condition variable over a Lock, an RLock (the "
                          "default) or any object with acquire()/release().")
      .def(py::init<py::object>(), "lock"_a = py::none())
      .def("acquire", &PyCondition::acquire)
      .def("release", &PyCondition::release)
      .def("__enter__", &PyCondition::enter)
      .def("__exit__", [](PyCondition& c, py::args) { c.release(); })
      .def("wait", &PyCondition::wait, "timeout"_a = py::none())
      .def("wait_for", &PyCondition::wait_for, "predicate"_a, "timeout"_a = py::none())
      .def("notify", &PyCondition::notify, "n"_a = 1)
      .def("notify_all", &PyCondition::notify_all)
      .def("notifyAll",
           [](PyCondition& c) {
             if (PyErr_WarnEx(PyExc_DeprecationWarning,
                              "notifyAll() is deprecated, use notify_all() instead", 1) < 0) {
               throw py::error_already_set();
             }
             c.notify_all();
           })
      .def("_is_owned", &PyCondition::is_owned)
      .def("_release_save", &PyCondition::release_save)
      .def("_acquire_restore", &PyCondition::acquire_restore)
      .def("_recursion_count", &PyCondition::recursion_count)
      .def_property_readonly("_lock", &PyCondition::lock)
      .def("__repr__", &PyCondition::repr);

  // The hot methods, replaced by their METH_FASTCALL versions (same behaviour).
  install(m.attr("Lock"), g_lock_methods);
  install(m.attr("RLock"), g_rlock_methods);
}

}  // namespace pythreading_py
