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

#include <algorithm>
#include <threading/interrupt.hpp>
#include <type_traits>

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

// --- short waits: spinning with the GIL released ------------------------------
//
// Two Python threads handing work to each other (a queue.Queue-like buffer,
// Condition ping-pong) lose most of their time in sleeps and wake-ups: the
// waiter sleeps on its wait, is woken by a notifier that still holds the GIL,
// and then sleeps again in CPython's GIL wait until the notifier blocks. So a
// wait that is likely to end soon first watches its object without sleeping
// (no system call, no sched_yield: a yield hands the core to any other process
// on a loaded machine, for a whole time slice), for a time that adapts per
// thread: it doubles while watching succeeds and halves while it fails, so a
// thread whose waits are long (or which shares one core with the thread it
// waits for) soon stops spending CPU on it. The same goes, once woken, for
// the GIL: a notifier marks its wake-up with the count of GIL releases made
// by this module's waits (g_gil_releases), and the woken thread watches that
// count until the notifier itself goes to wait, then takes a free GIL.

// Bumped, with the GIL held, by every wait of this module just before it
// releases the GIL: a change tells a spinning thread the GIL is (about to be)
// free. Relaxed: a hint only; the GIL itself orders everything else.
extern std::atomic<std::uint64_t> g_gil_releases;

// A waker, with the GIL held, leaves the mark for the thread it wakes.
inline void mark_gil_handoff(std::atomic<std::uint64_t>& mark) noexcept {
  mark.store(g_gil_releases.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

inline PyThreadState* release_gil() noexcept {
  g_gil_releases.fetch_add(1, std::memory_order_relaxed);
  return PyEval_SaveThread();
}

inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// How long a thread watches before it sleeps, adapted per thread and use.
struct SpinTime {
  static constexpr std::int64_t kMaxNs = 50000;  // a bounded buffer's batch, with margin
  static constexpr std::int64_t kMinNs = 1000;   // below: no spinning (but see active())
  std::int64_t ns = kMaxNs;
  unsigned skipped = 0;

  // Whether to watch this time: while the time left is below kMinNs, one
  // call in 16 still does, as a probe, so a thread whose waits became short
  // finds out.
  bool active() noexcept { return ns >= kMinNs || ++skipped % 16 == 0; }

  // Watches until done() or the time is spent; returns done(). A probe
  // watches the whole kMaxNs, and its failure leaves the time as it was: a
  // probe of kMinNs missed waits of tens of microseconds (a wake-up through
  // the GIL on a VM), so a thread whose watches had once failed slept on
  // every wait after (a bounded Queue 3x slower on a thread that had run an
  // unbounded one). The cost: at most kMaxNs every 16 long waits.
  template <class Done>
  bool spin(Done&& done) noexcept {
    const bool probe = ns < kMinNs;
    const std::int64_t budget = probe ? kMaxNs : ns;
    std::int64_t start = monotonic_ns();
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (done()) {
          ns = std::min(kMaxNs, budget * 2);
          return true;
        }
        cpu_pause();
      }
      if (monotonic_ns() - start >= budget) break;
    }
    if (!probe) ns = budget / 2;
    return false;
  }
};

inline thread_local SpinTime t_wait_spin;  // watching the object waited on
inline thread_local SpinTime t_gil_spin;   // watching for the GIL, once woken

// Once woken by a thread that held the GIL when GIL releases were counted at
// `mark`, waits briefly for that thread to release it.
// Relaxed: the mark is a hint (a stale one only shortens or lengthens the
// watch); the GIL orders everything that matters.
inline void await_gil_handoff(const std::atomic<std::uint64_t>* mark) noexcept {
  if (mark == nullptr || !t_gil_spin.active()) return;
  std::uint64_t m = mark->load(std::memory_order_relaxed);
  t_gil_spin.spin([&] { return g_gil_releases.load(std::memory_order_relaxed) != m; });
}

struct NoProbe {
  bool operator()() const noexcept { return false; }
};

// `undo` reverses a success that raced with a handler's exception (the
// exception wins: e.g. a Lock taken at that moment is released again).
// `probe`, if given, completes the wait without blocking when it can (e.g. a
// try-lock): it is watched first, with the GIL released (above). `handoff`,
// if given, points at the GIL-release mark left by whoever ends the wait
// (read only after the wait succeeded): see await_gil_handoff.
template <class Op, class Undo = NoUndo, class Probe = NoProbe>
int block(Op&& op, Deadline deadline, Undo&& undo = NoUndo{}, Probe&& probe = NoProbe{},
          const std::atomic<std::uint64_t>* handoff = nullptr) {
  constexpr bool spins = !std::is_same_v<std::decay_t<Probe>, NoProbe>;
  if (!in_main_thread()) {
    bool ok = false;
    CaughtError err;
    PyThreadState* ts = release_gil();
    if constexpr (spins) ok = t_wait_spin.active() && t_wait_spin.spin(probe);
    if (!ok) {
      try {
        ok = op(deadline.left());
      } catch (...) {
        err.e = std::current_exception();
      }
    }
    if (ok) await_gil_handoff(handoff);
    PyEval_RestoreThread(ts);
    if (err.e) {
      err.raise();
      return -1;
    }
    return ok ? 1 : 0;
  }
  // A signal that came just before the wait (between bytecodes, or while
  // nothing was sleeping to be interrupted) is handled now.
  if (PyErr_CheckSignals() != 0) return -1;
  if constexpr (spins) {
    // (When watching is off for now, not even a GIL round trip.)
    if (t_wait_spin.active()) {
      PyThreadState* ts = release_gil();
      bool ok = t_wait_spin.spin(probe);
      if (ok) await_gil_handoff(handoff);
      PyEval_RestoreThread(ts);
      if (ok) return 1;
      // A signal that came while watching interrupted no sleep: look now.
      if (PyErr_CheckSignals() != 0) return -1;
    }
  }
  for (;;) {
    bool ok = false, raised;
    CaughtError err;
    PyThreadState* ts = release_gil();
    {
      PythonSignalHook hook(ts);
      try {
        ok = op(deadline.at ? deadline.left() : threading::Timeout(kForeverChunk));
      } catch (...) {
        err.e = std::current_exception();
      }
      raised = hook.raised();
    }
    if (ok && !raised) await_gil_handoff(handoff);
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
