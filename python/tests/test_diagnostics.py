"""pythreading.dump_threads / find_deadlocks / set_debug_locks (diagnostics)."""
import io
import os
import re
import subprocess
import sys
import textwrap
import threading as std_threading
import unittest

import pythreading


def run_script(code):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=300)


class DumpTest(unittest.TestCase):
    def test_dump_to_file_names_python_threads(self):
        r = pythreading.RLock()
        taken, go = pythreading.Event(), pythreading.Event()

        def hold():
            with r:
                taken.set()
                go.wait()

        def want():
            with r:
                pass

        holder = pythreading.Thread(target=hold, name="py-holder")
        holder.start()
        taken.wait()
        waiter = pythreading.Thread(target=want, name="py-waiter")
        waiter.start()
        try:
            while True:  # until the waiter is recorded as blocked
                out = io.StringIO()
                pythreading.dump_threads(out)
                text = out.getvalue()
                if "waiting to acquire RLock" in text:
                    break
            self.assertRegex(text, r'"MainThread" ident=\d+ native_id=\d+ main\n    running')
            self.assertRegex(text, r'"py-waiter" ident=\d+ native_id=\d+\n    waiting to acquire '
                                   r'RLock 0x[0-9a-f]+ held by "py-holder" \(ident=\d+\)')
        finally:
            go.set()
            holder.join()
            waiter.join()

    def test_default_is_stderr_and_std_threads_keep_their_names(self):
        ev = pythreading.Event()
        t = std_threading.Thread(target=ev.wait, name="std-named")
        t.start()
        try:
            while True:
                err = io.StringIO()
                saved, sys.stderr = sys.stderr, err
                try:
                    pythreading.dump_threads()
                finally:
                    sys.stderr = saved
                if "waiting on Event" in err.getvalue():
                    break
            self.assertRegex(err.getvalue(), r'"std-named" ident=\d+ native_id=\d+( daemon)?\n'
                                             r'    waiting on Event')
        finally:
            ev.set()
            t.join()

    def test_find_deadlocks_none(self):
        self.assertEqual(pythreading.find_deadlocks(), [])

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            pythreading.dump_threads(io.StringIO(), 1)
        with self.assertRaises(ValueError):
            pythreading.dump_threads_on_signal(0)
        self.assertFalse(pythreading.debug_locks())


class ChildProcessTest(unittest.TestCase):
    def test_find_deadlocks_returns_thread_objects(self):
        r = run_script("""
            import pythreading, os, sys
            a, b = pythreading.RLock(), pythreading.RLock()
            both = pythreading.Barrier(2)
            def left():
                with a:
                    both.wait()
                    b.acquire()
            def right():
                with b:
                    both.wait()
                    a.acquire()
            t1 = pythreading.Thread(target=left, name="left", daemon=True)
            t2 = pythreading.Thread(target=right, name="right", daemon=True)
            t1.start(); t2.start()
            while True:
                cycles = pythreading.find_deadlocks()
                if cycles:
                    break
            print(sorted(t.name for t in cycles[0]), all(isinstance(t, pythreading.Thread) for t in cycles[0]))
            print(cycles[0][0] is t1 or cycles[0][0] is t2)
            pythreading.dump_threads(sys.stdout)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("['left', 'right'] True\nTrue\n", r.stdout)
        self.assertRegex(r.stdout, r'Found a deadlock \(2 threads\):')

    def test_debug_mode_reports_inversion(self):
        r = run_script("""
            import pythreading
            pythreading.set_debug_locks(True)
            a, b = pythreading.Lock(), pythreading.RLock()
            def ab():
                with a:
                    with b:
                        pass
            def ba():
                with b:
                    with a:
                        pass
            for name, f in (("first", ab), ("second", ba)):
                t = pythreading.Thread(target=f, name=name)
                t.start(); t.join()
            print("debug", pythreading.debug_locks())
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "debug True\n")
        self.assertRegex(r.stderr, r'lock-order inversion \(potential deadlock\), 2 locks in a cycle:\n'
                                   r'  thread "second" .* acquired Lock 0x[0-9a-f]+ while holding RLock')
        self.assertRegex(r.stderr, r'thread "first" .* acquired RLock 0x[0-9a-f]+ while holding Lock')

    def test_signal_dump(self):
        r = run_script("""
            import pythreading, signal, os
            pythreading.dump_threads_on_signal(signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR1)
            print("after")
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "after\n")
        self.assertRegex(r.stderr, r'Thread dump \(pythreading, on a signal\):\n"MainThread" native_id=\d+')


if __name__ == "__main__":
    unittest.main()
