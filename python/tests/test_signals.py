"""Ctrl-C (SIGINT) in the main thread, in child processes synchronised by the
child printing "ready" (never by sleeping), and idle waits that do not poll."""

import os
import platform
import resource
import signal
import subprocess
import sys
import textwrap
import unittest

import pythreading

CHILD_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(pythreading.__file__), os.environ.get("PYTHONPATH", "")]))


# Child-side helper: prints "ready" once the main thread sleeps in the kernel
# in a futex *wait* (not a wake), seen twice in a row on the same word, after
# the watcher's own start() has returned (start() itself waits on a futex) and
# once `extra()` says the main thread is inside the call under test -- so the
# parent's SIGINT interrupts that wait and not the code before it.
FUTEX_NR = {"x86_64": 202, "aarch64": 98}.get(platform.machine())
ANNOUNCE = f"""
import os, sys, threading as _std
def _announce_when_main_blocks(extra=lambda: True):
    main_past_start = []
    def waiting_on():
        with open(f"/proc/self/task/{{os.getpid()}}/syscall") as f:
            fields = f.read().split()
        # futex(addr, op, ...): op & 127 is FUTEX_WAIT (0) or FUTEX_WAIT_BITSET (9).
        if fields[0] == "{FUTEX_NR}" and int(fields[2], 16) & 127 in (0, 9):
            return fields[1]
        return None
    def watch():
        while not main_past_start:
            os.sched_yield()
        while True:
            word = waiting_on()
            if word is not None and extra():
                os.sched_yield()
                if waiting_on() == word:
                    # os.write, not print: this daemon thread must not hold
                    # sys.stdout's lock when the parent's SIGINT lets the main
                    # thread exit (CPython aborts if a daemon holds it then).
                    os.write(1, b"ready\\n")
                    return
            os.sched_yield()
    _std.Thread(target=watch, daemon=True).start()
    main_past_start.append(True)
"""


def run_interrupted(code):
    """Runs `code` in a child; sends SIGINT once it prints "ready"; returns
    (returncode, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-c", ANNOUNCE + textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=CHILD_ENV)
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"child did not get ready: {line!r} {out!r} {err!r}")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the first SIGINT did not end the child: {out!r} {err!r}")
    return proc.returncode, out, err


@unittest.skipUnless(FUTEX_NR and os.path.exists("/proc/self/syscall"),
                     "needs Linux's /proc/<tid>/syscall on x86-64 or aarch64")
class CtrlCTests(unittest.TestCase):
    def check_barrier(self, call):
        rc, out, err = run_interrupted(f"""
            import pythreading
            b = pythreading.Barrier(2)
            _announce_when_main_blocks(lambda: b.n_waiting == 1)
            try:
                {call}
            except KeyboardInterrupt:
                print("interrupted")
            """)
        self.assertEqual((rc, out.strip()), (0, "interrupted"), err)

    def test_barrier_wait_interruptible(self):
        self.check_barrier("b.wait()")

    def test_barrier_wait_with_timeout_interruptible(self):
        # CPython: KeyboardInterrupt at once, not BrokenBarrierError at the timeout.
        self.check_barrier("b.wait(600)")

    def test_exit_wait_ends_at_first_ctrl_c(self):
        # The interpreter waits at exit for a non-daemon thread that never
        # ends; the first Ctrl-C ends that wait (CPython's behaviour).
        rc, out, err = run_interrupted("""
            import threading
            import pythreading
            ev = pythreading.Event()
            pythreading.Thread(target=ev.wait).start()
            exiting = []
            inner = threading._shutdown
            def note_exit():
                exiting.append(1)
                return inner()
            threading._shutdown = note_exit
            _announce_when_main_blocks(lambda: exiting)
            """)
        self.assertIn("KeyboardInterrupt", err)


class IdleWaitTests(unittest.TestCase):
    def test_main_thread_wait_does_not_poll(self):
        # A blocked main thread sleeps until a signal comes: no periodic
        # wake-ups (the old design woke every 20 ms: ~25 switches here).
        ev = pythreading.Event()
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        self.assertFalse(ev.wait(0.5))
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
        self.assertLess(switches, 10)


if __name__ == "__main__":
    unittest.main()
