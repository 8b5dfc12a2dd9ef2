"""The standard library sees pythreading's threads as real threads: the
identity threading.current_thread() reports, hooks set through threading,
and the exit order (CPython's behaviour is the reference in each test)."""

import _threading_local
import io
import logging
import os
import subprocess
import sys
import textwrap
import threading
import unittest

import pythreading

CHILD_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(pythreading.__file__), os.environ.get("PYTHONPATH", "")]))


def run_in(module, fn):
    """fn() in a new thread of `module` (threading or pythreading)."""
    out = []
    t = module.Thread(target=lambda: out.append(fn()), name="worker-1")
    t.start()
    t.join()
    return out[0]


class IdentityTests(unittest.TestCase):
    def test_current_thread_same_name_and_ident(self):
        for module in (threading, pythreading):
            with self.subTest(module=module.__name__):
                name, ident, mine = run_in(module, lambda: (
                    threading.current_thread().name, threading.current_thread().ident,
                    module.current_thread()))
                self.assertEqual(name, "worker-1")
                self.assertEqual(ident, mine.ident)

    def test_logging_thread_name(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(threadName)s"))
        log = logging.getLogger("pythreading.test_std_seams")
        log.addHandler(handler)
        log.propagate = False
        try:
            for module in (threading, pythreading):
                run_in(module, lambda: log.warning("x"))
        finally:
            log.removeHandler(handler)
        self.assertEqual(stream.getvalue().split(), ["worker-1", "worker-1"])

    def test_pure_python_local_does_not_leak_between_threads(self):
        # _threading_local keys its data by threading.current_thread(): a
        # stale dummy for a reused ident handed values to the next thread.
        for module in (threading, pythreading):
            with self.subTest(module=module.__name__):
                data = _threading_local.local()
                run_in(module, lambda: setattr(data, "x", 1))
                seen = [run_in(module, lambda: getattr(data, "x", None)) for _ in range(5)]
                self.assertEqual(seen, [None] * 5)

    def test_not_listed_after_the_end(self):
        t = pythreading.Thread(target=lambda: None)
        t.start()
        t.join()
        self.assertNotIn(t, threading.enumerate())


class HookTests(unittest.TestCase):
    def test_threading_excepthook_reaches_our_threads(self):
        seen = []
        old = threading.excepthook
        threading.excepthook = lambda args: seen.append((args.exc_type, args.thread.name))
        try:
            for module in (threading, pythreading):
                t = module.Thread(target=lambda: 1 / 0, name="boom")
                t.start()
                t.join()
        finally:
            threading.excepthook = old
        self.assertEqual(seen, [(ZeroDivisionError, "boom")] * 2)

    def test_pythreading_excepthook_wins_when_set(self):
        seen = []
        old = pythreading.excepthook
        pythreading.excepthook = lambda args: seen.append(args.exc_type)
        try:
            t = pythreading.Thread(target=lambda: 1 / 0)
            t.start()
            t.join()
        finally:
            pythreading.excepthook = old
        self.assertEqual(seen, [ZeroDivisionError])

    def check_hook(self, setter):
        calls = []

        def hook(frame, event, arg):
            if frame.f_code.co_name == "target":
                calls.append(event)
            return hook

        def target():
            return None

        setter(hook)
        try:
            for module in (threading, pythreading):
                t = module.Thread(target=target)
                t.start()
                t.join()
        finally:
            setter(None)
        self.assertEqual(calls.count("call"), 2, calls)

    def test_threading_settrace_reaches_our_threads(self):
        self.check_hook(threading.settrace)

    def test_threading_setprofile_reaches_our_threads(self):
        self.check_hook(threading.setprofile)


def run_child(code):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=CHILD_ENV, timeout=300)
    return proc.returncode, proc.stdout.split(), proc.stderr


class ExitOrderTests(unittest.TestCase):
    def test_atexit_runs_after_non_daemon_threads_are_joined(self):
        for module in ("threading", "pythreading"):
            with self.subTest(module=module):
                rc, out, err = run_child(f"""
                    import atexit, threading
                    import pythreading
                    mod = {module}
                    exiting = pythreading.Event()
                    inner = threading._shutdown
                    def note_exit():
                        exiting.set()
                        return inner()
                    threading._shutdown = note_exit
                    def worker():
                        exiting.wait()
                        print("worker-done", flush=True)
                    mod.Thread(target=worker).start()
                    atexit.register(lambda: print("atexit", flush=True))
                    """)
                self.assertEqual((rc, out), (0, ["worker-done", "atexit"]), err)

    def test_enumerate_during_finalization_lists_main_thread(self):
        # Handlers registered before the import run after pythreading's own exit handler, and
        # __del__ of a module global runs later still: both must still see the main thread.
        rc, out, err = run_child("""
            import atexit, threading
            def show(std=threading):
                import pythreading
                print(len(std.enumerate()), std.active_count(),
                      len(pythreading.enumerate()), pythreading.active_count(),
                      pythreading.enumerate()[0].name, flush=True)
            atexit.register(show)
            import pythreading
            atexit.register(show)
            class AtTeardown:
                def __del__(self, std=threading, ours=pythreading, out=print):
                    out(len(std.enumerate()), std.active_count(), len(ours.enumerate()),
                        ours.active_count(), ours.enumerate()[0].name, flush=True)
            import builtins
            builtins.pythreading_test_keep = AtTeardown()  # freed late in finalization
            """)
        self.assertEqual((rc, out), (0, ["1", "1", "1", "1", "MainThread"] * 3), err)


if __name__ == "__main__":
    unittest.main()
