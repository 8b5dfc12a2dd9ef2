"""pythreading.Thread, Timer and the module functions, checked against
CPython 3.11's documented behaviour (SPEC §1, §10, §12, §13)."""

import signal
import sys
import threading
import time
import unittest

import pythreading


class ThreadTests(unittest.TestCase):
    def test_target_args_kwargs(self):
        out = []
        t = pythreading.Thread(target=lambda *a, **k: out.append((a, k)), args=[1, 2],
                               kwargs={"x": 3})
        # 3.10+ adds the target's name (as threading does on each version).
        suffix = r" \(<lambda>\)" if sys.version_info >= (3, 10) else ""
        self.assertRegex(t.name, rf"^Thread-\d+{suffix}$")
        self.assertIsNone(t.ident)
        self.assertIsNone(t.native_id)
        self.assertFalse(t.is_alive())
        self.assertRegex(repr(t), rf"^<Thread\(Thread-\d+{suffix}, initial\)>$")
        t.start()
        self.assertIsNotNone(t.ident)
        t.join()
        self.assertEqual(out, [((1, 2), {"x": 3})])
        self.assertFalse(t.is_alive())
        self.assertRegex(repr(t), rf"^<Thread\(Thread-\d+{suffix}, stopped {t.ident}\)>$")
        with self.assertRaisesRegex(RuntimeError, "threads can only be started once"):
            t.start()

    def test_subclass(self):
        class Worker(pythreading.Thread):
            def __init__(self, n):
                super().__init__(name="worker", daemon=True)
                self.n = n
                self.result = None

            def run(self):
                self.result = (self.n * 2, pythreading.current_thread() is self,
                               pythreading.current_thread().name)

        w = Worker(21)
        self.assertTrue(w.daemon)
        self.assertRegex(repr(w), r"^<Worker\(worker, initial daemon\)>$")
        w.start()
        w.join()
        self.assertEqual(w.result, (42, True, "worker"))
        self.assertIsInstance(w, pythreading.Thread)

    def test_python_object_kept_alive_while_running(self):
        ev = pythreading.Event()
        out = []

        class T(pythreading.Thread):
            def run(self):
                ev.wait(10)
                out.append(self.payload)

        t = T()
        t.payload = "still here"
        t.start()
        del t
        ev.set()
        for _ in range(200):
            if out:
                break
            time.sleep(0.01)
        self.assertEqual(out, ["still here"])

    def test_errors(self):
        t = pythreading.Thread()
        with self.assertRaisesRegex(RuntimeError, "cannot join thread before it is started"):
            t.join()
        with self.assertRaisesRegex(RuntimeError, "cannot join current thread"):
            pythreading.current_thread().join()
        with self.assertRaises(AssertionError):
            pythreading.Thread(group=1)
        with self.assertRaises(TypeError):
            pythreading.Thread(None, None, None, (), None, False)  # daemon is keyword-only
        t = pythreading.Thread(target=time.sleep, args=(0.2,))
        t.start()
        with self.assertRaisesRegex(RuntimeError, "cannot set daemon status of active thread"):
            t.daemon = True
        with self.assertRaises(ValueError):
            t.join(float("nan"))
        with self.assertRaises(OverflowError):
            t.join(1e100)
        with self.assertRaises(TypeError):
            t.join("x")
        t.join(-1)  # a poll
        t.join()
        t.join(float("nan"))  # finished: any numeric timeout returns

    def test_names(self):
        self.assertEqual(pythreading.Thread(name=123).name, "123")
        self.assertRegex(pythreading.Thread(name="").name, r"^Thread-\d+$")
        t = pythreading.Thread(name="a")
        t.name = None
        self.assertEqual(t.name, "None")
        self.assertFalse(t.daemon)

    def test_run_directly_and_twice(self):
        out = []
        t = pythreading.Thread(target=out.append, args=(1,))
        t.run()
        self.assertEqual(out, [1])
        self.assertFalse(t.is_alive())
        with self.assertRaises(AttributeError):
            t.run()

    def test_excepthook(self):
        seen = []
        old = pythreading.excepthook
        pythreading.excepthook = lambda args: seen.append(
            (args.exc_type, str(args.exc_value), args.thread.name))
        try:
            def boom():
                raise ValueError("bad")

            t = pythreading.Thread(target=boom, name="boomer")
            t.start()
            t.join()
        finally:
            pythreading.excepthook = old
        self.assertEqual(seen, [(ValueError, "bad", "boomer")])
        # threading.__excepthook__ exists from 3.10 on.
        self.assertIs(pythreading.__excepthook__,
                      getattr(threading, "__excepthook__", pythreading.excepthook))

    def test_module_functions(self):
        main = pythreading.main_thread()
        self.assertIs(pythreading.current_thread(), main)
        self.assertEqual(main.name, "MainThread")
        self.assertEqual(main.ident, pythreading.get_ident())
        self.assertEqual(main.ident, threading.get_ident())
        self.assertEqual(pythreading.get_native_id(), threading.get_native_id())
        self.assertEqual(pythreading.active_count(), len(pythreading.enumerate()))
        ev = pythreading.Event()
        t = pythreading.Thread(target=ev.wait, args=(10,))
        t.start()
        self.assertIn(t, pythreading.enumerate())
        ev.set()
        t.join()
        self.assertNotIn(t, pythreading.enumerate())
        with self.assertWarns(DeprecationWarning):
            pythreading.currentThread()
        with self.assertWarns(DeprecationWarning):
            pythreading.activeCount()

    def test_dummy_thread(self):
        out = []
        th = threading.Thread(target=lambda: out.append(
            (pythreading.current_thread(), pythreading.current_thread(),
             repr(pythreading.current_thread()))))
        th.start()
        th.join()
        d1, d2, r = out[0]
        self.assertIs(d1, d2)
        self.assertRegex(d1.name, r"^Dummy-\d+$")
        self.assertTrue(d1.daemon)
        self.assertRegex(r, r"^<_DummyThread\(Dummy-\d+, started daemon \d+\)>$")

    def test_stack_size(self):
        self.assertEqual(pythreading.stack_size(), 0)
        self.assertEqual(pythreading.stack_size(1 << 20), 0)
        self.assertEqual(pythreading.stack_size(), 1 << 20)  # returns and resets
        self.assertEqual(pythreading.stack_size(), 0)
        with self.assertRaisesRegex(ValueError, "size not valid: 100 bytes"):
            pythreading.stack_size(100)
        with self.assertRaisesRegex(ValueError, "size must be 0 or a positive value"):
            pythreading.stack_size(-1)
        with self.assertRaises(TypeError):
            pythreading.stack_size(1.5)
        with self.assertRaises(TypeError):
            pythreading.stack_size(None)

    def test_settrace_setprofile(self):
        events = []

        def tracer(frame, event, arg):
            events.append((event, frame.f_code.co_name))
            return None

        self.assertIsNone(pythreading.gettrace())
        pythreading.settrace(tracer)
        try:
            self.assertIs(pythreading.gettrace(), tracer)
            t = pythreading.Thread(target=lambda: None)
            t.start()
            t.join()
        finally:
            pythreading.settrace(None)
        # CPython's first event is the call of its pure-Python run(); ours is
        # native, so the first Python frame is the target's.
        self.assertEqual(events[0], ("call", "<lambda>"))
        self.assertIsNone(pythreading.getprofile())

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_join_interruptible(self):
        ev = pythreading.Event()
        t = pythreading.Thread(target=ev.wait, args=(30,))
        t.start()

        class Interrupted(Exception):
            pass

        def handler(signum, frame):
            raise Interrupted

        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with self.assertRaises(Interrupted):
                t.join()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            ev.set()
            t.join()


class TimerTests(unittest.TestCase):
    def test_fires_and_cancel(self):
        out = []
        t = pythreading.Timer(0.01, out.append, args=[1])
        self.assertIsInstance(t, pythreading.Thread)
        t.start()
        t.join()
        self.assertEqual(out, [1])
        self.assertTrue(t.finished.is_set())
        t2 = pythreading.Timer(30, out.append, args=[2])
        t2.start()
        t2.cancel()
        t2.join(5)
        self.assertFalse(t2.is_alive())
        self.assertEqual(out, [1])

    def test_defaults_not_shared(self):
        a = pythreading.Timer(1, print)
        b = pythreading.Timer(1, print)
        self.assertEqual(a.args, [])
        self.assertIsNot(a.args, b.args)
        self.assertIsNot(a.kwargs, b.kwargs)


class ExitTests(unittest.TestCase):
    def test_exit_waits_for_non_daemon_threads(self):
        import subprocess
        code = ("import pythreading, time\n"
                "def f():\n"
                "    time.sleep(0.2)\n"
                "    print('done', flush=True)\n"
                "pythreading.Thread(target=f).start()\n"
                "d = pythreading.Thread(target=time.sleep, args=(60,), daemon=True)\n"
                "d.start()\n")
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "done\n")
        self.assertLess(time.monotonic() - t0, 20)


if __name__ == "__main__":
    unittest.main()
