"""Runs the running CPython's own test_threading.py against pythreading (see
cpython_test_threading.py) and checks that every test that fails is one that
needs a CPython-private name or feature, listed here with what it needs."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# test id suffix -> what it needs (CPython-private names or features).
NEEDS_PRIVATE = {
    "AtexitTests.test_atexit_after_shutdown": "threading._register_atexit",
    "AtexitTests.test_atexit_called_once": "threading._register_atexit",
    "AtexitTests.test_atexit_output": "threading._register_atexit",
    "EventTests.test_at_fork_reinit": "Event._cond",
    "MiscTestCase.test__all__": "threading's private module-level names",
    "ThreadTests.test_disallow_instantiation": "_thread private types",
    "ThreadTests.test_foreign_thread": "threading._active",
    "ThreadTests.test_ident_of_no_threading_threads": "threading._active",
    "ThreadTests.test_import_from_another_thread": "threading._active (import lock)",
    "ThreadTests.test_limbo_cleanup": "threading._start_new_thread, threading._limbo",
    "ThreadTests.test_name": "threading._counter",
    "ThreadTests.test_shutdown_locks": "threading._shutdown_locks",
    "ThreadTests.test_tstate_lock": "Thread._tstate_lock",
    "ThreadTests.test_finalization_shutdown": "Thread._tstate_lock",
    "ThreadTests.test_repr_stopped": "Thread._tstate_lock",
    "ThreadJoinOnShutdown.test_4_daemon_threads": "threading._shutdown_locks",
}
# SubinterpThreadingTests is not run (cpython_test_threading.SKIP_CLASSES says why).


class CPythonTestThreading(unittest.TestCase):
    def test_cpython_test_threading(self):
        proc = subprocess.run([sys.executable, os.path.join(HERE, "cpython_test_threading.py")],
                              capture_output=True, text=True, timeout=1200)
        lines = proc.stdout.splitlines()
        summary = [line for line in lines if line.startswith("SUMMARY")]
        self.assertTrue(summary, proc.stdout + proc.stderr[-4000:])
        print("\n" + summary[0], file=sys.stderr)
        failed = [line.split()[1] for line in lines if line.startswith("FAILED ")]
        unexpected = [name for name in failed
                      if not any(name.split(" ")[0].endswith(k) for k in NEEDS_PRIVATE)]
        self.assertEqual(unexpected, [], proc.stderr[-8000:])


if __name__ == "__main__":
    unittest.main()
