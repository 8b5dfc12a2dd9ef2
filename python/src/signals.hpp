// block(): how the module waits with the GIL released and still lets Python
// signal handlers run in the main thread. Included by pyutil.hpp.
#pragma once

namespace pythreading_py {

// How long the main thread blocks between two looks for pending signals.
inline constexpr double kSignalSlice = 0.02;

template <class Op>
int block(Op&& op, Deadline deadline) {
  if (!in_main_thread()) {
    bool ok = false;
    CaughtError err;
    Py_BEGIN_ALLOW_THREADS try {
      ok = op(deadline.left());
    } catch (...) {
      err.e = std::current_exception();
    }
    Py_END_ALLOW_THREADS if (err.e) {
      err.raise();
      return -1;
    }
    return ok ? 1 : 0;
  }
  for (;;) {
    double slice = kSignalSlice;
    bool last = false;
    if (deadline.at) {
      double left = *deadline.at - monotonic();
      if (left <= slice) {
        slice = left > 0 ? left : 0;
        last = true;
      }
    }
    bool ok = false;
    CaughtError err;
    Py_BEGIN_ALLOW_THREADS try {
      ok = op(threading::Timeout(slice));
    } catch (...) {
      err.e = std::current_exception();
    }
    Py_END_ALLOW_THREADS if (err.e) {
      err.raise();
      return -1;
    }
    if (ok) return 1;
    if (PyErr_CheckSignals() != 0) return -1;
    if (last) return 0;
  }
}

}  // namespace pythreading_py
