// The `pythreading` Python module: pythreading's C++ objects with the API of
// Python's `threading` module.
#include <threading/errors.hpp>
#include <threading/timeout.hpp>

#include "common.hpp"
#include "fastcall.hpp"

namespace pythreading_py {

unsigned long g_main_ident = 0;
PyObject* g_broken_barrier_error = nullptr;

}  // namespace pythreading_py

PYBIND11_MODULE(pythreading, m) {
  namespace py = pybind11;
  using namespace pythreading_py;

  m.doc() =
      "Python's threading API implemented by pythreading, a native C++20 library.\n\n"
      "A drop-in for the threading module: Lock, RLock, Condition, Semaphore, "
      "BoundedSemaphore, Event, Barrier, Thread, Timer, local and the module functions.";

  py::module_ threading_mod = py::module_::import("threading");
  g_main_ident = threading_mod.attr("main_thread")().attr("ident").cast<unsigned long>();

  // BrokenBarrierError subclasses threading.BrokenBarrierError, so code that
  // catches the standard one catches ours too.
  py::object base = threading_mod.attr("BrokenBarrierError");
  py::dict ns;
  ns["__module__"] = "pythreading";
  ns["__doc__"] = "Raised by Barrier.wait() when the barrier is broken or reset.";
  py::object bbe = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyType_Type))(
      "BrokenBarrierError", py::make_tuple(base), ns);
  g_broken_barrier_error = bbe.release().ptr();  // kept for the process's lifetime
  m.attr("BrokenBarrierError") = py::handle(g_broken_barrier_error);
  m.attr("ThreadError") = py::handle(PyExc_RuntimeError);
  m.attr("TIMEOUT_MAX") = threading::TIMEOUT_MAX;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::exception& e) {
      if (!set_library_error(e)) throw;  // not ours: pybind11's own translation
    }
  });

  init_sync(m);
  init_sync_objects(m);
  init_thread(m);  // after init_sync: Timer uses Event
  init_local(m);
}
