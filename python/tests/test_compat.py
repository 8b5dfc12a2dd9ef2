"""Smaller behaviours, each checked against the running CPython's threading."""

import collections
import copy
import inspect
import io
import os
import subprocess
import sys
import textwrap
import threading
import types
import unittest

import pythreading

MODULES = (threading, pythreading)
CHILD_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(pythreading.__file__), os.environ.get("PYTHONPATH", "")]))


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - comparing whatever is raised
        return type(e), str(e)
    return None


class CompatTests(unittest.TestCase):
    def same(self, fn):
        """fn(module) gives the same result for threading and pythreading."""
        results = [fn(m) for m in MODULES]
        self.assertEqual(results[0], results[1])
        return results[0]

    def run_target(self, module, **kw):
        out = []
        t = module.Thread(target=lambda *a, **k: out.append((a, k)), **kw)
        t.start()
        t.join()
        return out

    def test_kwargs_any_mapping(self):
        for mapping in (collections.UserDict(b=2), types.MappingProxyType({"b": 2})):
            with self.subTest(mapping=type(mapping).__name__):
                got = self.same(lambda m: self.run_target(m, args=(1,), kwargs=mapping))
                self.assertEqual(got, [((1,), {"b": 2})])

    def test_subclass_without_init_fails_at_start(self):
        def check(m):
            class T(m.Thread):
                def __init__(self):
                    pass
            t = T()
            return error_of(t.start)
        self.assertEqual(self.same(check), (RuntimeError, "thread.__init__() not called"))

    def test_constructor_type_errors(self):
        calls = [lambda m: m.Thread(foo=1), lambda m: m.Thread(None, None, None, (), {}, 1),
                 lambda m: m.Barrier(), lambda m: m.Condition(None, 1),
                 lambda m: m.Semaphore(1, 2), lambda m: m.Event(1), lambda m: m.Timer(1),
                 lambda m: m.Timer(), lambda m: m.Condition().wait(1, 2)]
        for call in calls:
            self.same(lambda m: error_of(lambda: call(m)))

    def test_daemon_value_kept(self):
        self.assertEqual(self.same(lambda m: m.Thread(daemon="yes").daemon), "yes")

    def test_semaphore_float_value(self):
        def check(m):
            s = m.Semaphore(2.5)
            return [s.acquire(False) for _ in range(3)]
        self.assertEqual(self.same(check), [True, True, True])

    def test_copy(self):
        def check(m):
            ev = m.Event()
            ev.set()
            sem = m.BoundedSemaphore(3)
            sem.acquire()
            cond = m.Condition()
            bar = m.Barrier(3, timeout=5)
            t = m.Thread(name="x", daemon=True)
            timer = m.Timer(7, print)
            return (copy.copy(ev).is_set(), copy.copy(sem).acquire(False),
                    copy.copy(cond)._lock is cond._lock, copy.copy(bar).parties,
                    copy.copy(t).name, copy.copy(t).daemon, copy.copy(timer).interval)
        self.same(check)

    def test_all(self):
        self.assertLessEqual(set(pythreading.__all__), set(threading.__all__))
        for name in pythreading.__all__:
            self.assertTrue(hasattr(pythreading, name), name)

    @unittest.skipIf(sys.version_info < (3, 10),
                     "3.9's inspect reads no __text_signature__ of a C class")
    def test_signatures(self):
        for name in ("Thread", "Timer", "Semaphore", "BoundedSemaphore", "Condition", "Barrier",
                     "Event"):
            with self.subTest(name=name):
                self.same(lambda m: str(inspect.signature(getattr(m, name))))

    def test_return_value_idiom(self):
        # The popular "thread with a return value" recipe reads _target etc.
        def check(m):
            class Returning(m.Thread):
                def run(self):
                    self.result = self._target(*self._args, **self._kwargs)
            t = Returning(target=lambda a, b: a + b, args=(1,), kwargs={"b": 2})
            t.start()
            t.join()
            return t.result, hasattr(t, "_target")
        self.assertEqual(self.same(check), (3, True))

    def test_traceback_when_sys_stderr_is_none(self):
        for module in ("threading", "pythreading"):
            with self.subTest(module=module):
                proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
                    import sys, threading, pythreading
                    t = {module}.Thread(target=lambda: 1 / 0)
                    sys.stderr = None
                    t.start()
                    t.join()
                    """)], capture_output=True, text=True, env=CHILD_ENV, timeout=300)
                self.assertIn("ZeroDivisionError", proc.stderr)


if __name__ == "__main__":
    unittest.main()
