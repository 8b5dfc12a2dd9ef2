"""CPython 3.11's Lib/test/test_threading_local.py cases, run against
pythreading.local (with pythreading threads as well as threading's)."""

import unittest

from test import test_threading_local

import pythreading


class LocalTest(unittest.TestCase, test_threading_local.BaseLocalTest):
    _local = pythreading.local

    def test_threading_local_clear_race(self):
        # Uses _testcapi's temporary C thread then threading.local(): nothing of ours.
        self.skipTest("exercises CPython's threading.local/_testcapi, not pythreading.local")


class PythreadingThreadsLocalTest(unittest.TestCase):
    """The same object seen from pythreading.Thread threads."""

    def test_values_per_thread(self):
        data = pythreading.local()
        data.x = "main"
        seen = []

        def f(i):
            seen.append(hasattr(data, "x"))
            data.x = i
            seen.append(data.x == i)

        threads = [pythreading.Thread(target=f, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(seen.count(False), 8)
        self.assertEqual(seen.count(True), 8)
        self.assertEqual(data.x, "main")

    def test_subclass_init_per_thread(self):
        class Counter(pythreading.local):
            inits = []

            def __init__(self, start, *, step=1):
                self.value = start
                self.step = step
                Counter.inits.append(pythreading.get_ident())

        c = Counter(10, step=2)
        out = []

        def f():
            c.value += c.step
            out.append(c.value)

        t = pythreading.Thread(target=f)
        t.start()
        t.join()
        self.assertEqual(out, [12])
        self.assertEqual(c.value, 10)
        self.assertEqual(len(Counter.inits), 2)


if __name__ == "__main__":
    unittest.main()


class NestedLocalExitTest(unittest.TestCase):
    """A thread's local attribute holding another local it also used: the
    thread's exit frees both (CPython exits cleanly). In a child process, so
    a crash is a failure rather than the end of the test run."""

    def test_local_holding_a_local_at_thread_exit(self):
        import os
        import subprocess
        import sys
        code = (
            "import pythreading as threading\n"
            "tl = threading.local()\n"
            "def f():\n"
            "    tl.inner = threading.local(); tl.inner.x = 1\n"
            "def g():\n"
            "    a = threading.local(); b = threading.local(); a.b = b; b.x = 2; b.a = a\n"
            "for target in (f, g) * 20:\n"
            "    t = threading.Thread(target=target); t.start(); t.join()\n"
            "print('done')\n")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.dirname(pythreading.__file__), os.environ.get("PYTHONPATH", "")]))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "done"), r.stderr)
