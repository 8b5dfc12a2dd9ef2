// block(): how the module waits with the GIL released and still runs Python
// signal handlers in the main thread (included by pyutil.hpp).
//
// CPython runs signal handlers in the main thread only. A signal delivered
// to the main thread interrupts its sleep (EINTR); the library then calls the
// thread's threading::InterruptHook (include/threading/interrupt.hpp) while
// the thread is still queued. Our hook takes the GIL back, runs the Python
// handlers (PyErr_CheckSignals) and, unless one raised, lets the wait go on
// in place. So an idle wait costs nothing until a signal really comes, and a
// Condition waiter keeps its FIFO position. Only timed waits are
// interruptible, so the main thread's "forever" is a long timeout, renewed.
#pragma once

#include <threading/interrupt.hpp>

namespace pythreading_py {

// The chunk a "forever" wait of the main thread is cut into (seconds).
inline constexpr double kForeverChunk = 86400.0;

class PythonSignalHook final : public threading::InterruptHook {
 public:
  explicit PythonSignalHook(PyThreadState* ts) noexcept
      : ts_(ts), prev_(threading::set_interrupt_hook(this)) {}
  ~PythonSignalHook() { threading::set_interrupt_hook(prev_); }
  PythonSignalHook(const PythonSignalHook&) = delete;
  PythonSignalHook& operator=(const PythonSignalHook&) = delete;

  bool keep_waiting() noexcept override {
    if (raised_) return false;
    PyEval_RestoreThread(ts_);
    raised_ = PyErr_CheckSignals() != 0;
    ts_ = PyEval_SaveThread();
    return !raised_;
  }
  bool raised() const noexcept { return raised_; }

 private:
  PyThreadState* ts_;
  threading::InterruptHook* prev_;
  bool raised_ = false;
};

struct NoUndo {
  void operator()() const noexcept {}
};

// `undo` reverses a success that raced with a handler's exception (the
// exception wins: e.g. a Lock taken at that moment is released again).
template <class Op, class Undo = NoUndo>
int block(Op&& op, Deadline deadline, Undo&& undo = NoUndo{}) {
  if (!in_main_thread()) {
    bool ok = false;
    CaughtError err;
    Py_BEGIN_ALLOW_THREADS try { ok = op(deadline.left()); } catch (...) {
      err.e = std::current_exception();
    }
    Py_END_ALLOW_THREADS if (err.e) {
      err.raise();
      return -1;
    }
    return ok ? 1 : 0;
  }
  // A signal that came just before the wait (between bytecodes, or while
  // nothing was sleeping to be interrupted) is handled now.
  if (PyErr_CheckSignals() != 0) return -1;
  for (;;) {
    bool ok = false, raised;
    CaughtError err;
    PyThreadState* ts = PyEval_SaveThread();
    {
      PythonSignalHook hook(ts);
      try {
        ok = op(deadline.at ? deadline.left() : threading::Timeout(kForeverChunk));
      } catch (...) {
        err.e = std::current_exception();
      }
      raised = hook.raised();
    }
    PyEval_RestoreThread(ts);
    if (raised) {  // the handler's exception is set; it wins over the outcome
      if (ok) undo();
      return -1;
    }
    if (err.e) {
      err.raise();
      return -1;
    }
    if (ok) return 1;
    if (deadline.at && deadline.expired()) return 0;
  }
}

}  // namespace pythreading_py
