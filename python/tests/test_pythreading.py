"""pythreading-specific checks: CPython 3.11's argument handling (the SPEC §2
timeout matrix), exception types and messages, reprs, Condition over foreign
locks, GIL release and signal interruption of blocking calls."""

import math
import signal
import sys
import threading
import time
import unittest
import weakref

import pythreading

BIG = 1e100


def in_thread(fn, *args):
    """Runs fn(*args) in a threading.Thread, returns its result (or raises)."""
    out = {}

    def run():
        try:
            out["r"] = fn(*args)
        except BaseException as e:  # noqa: BLE001
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["r"]


class ModuleTests(unittest.TestCase):
    def test_constants_and_errors(self):
        self.assertEqual(pythreading.TIMEOUT_MAX, threading.TIMEOUT_MAX)
        self.assertIs(pythreading.ThreadError, RuntimeError)
        self.assertTrue(issubclass(pythreading.BrokenBarrierError,
                                   threading.BrokenBarrierError))
        self.assertTrue(issubclass(pythreading.BrokenBarrierError, RuntimeError))
        self.assertEqual(repr(pythreading.BrokenBarrierError()), "BrokenBarrierError()")


class LockArgTests(unittest.TestCase):
    types = [pythreading.Lock, pythreading.RLock]

    def test_timeout_matrix(self):
        for lt in self.types:
            with self.subTest(lock=lt.__name__):
                lock = lt()
                with self.assertRaisesRegex(TypeError, "NoneType"):
                    lock.acquire(timeout=None)
                with self.assertRaises(TypeError):
                    lock.acquire(timeout="1")
                with self.assertRaisesRegex(ValueError, "timeout value must be positive"):
                    lock.acquire(timeout=-2)
                with self.assertRaisesRegex(ValueError, "timeout value must be positive"):
                    lock.acquire(timeout=-0.5)
                with self.assertRaisesRegex(ValueError, "NaN"):
                    lock.acquire(timeout=math.nan)
                with self.assertRaisesRegex(ValueError, "non-blocking"):
                    lock.acquire(False, 0)
                with self.assertRaisesRegex(ValueError, "non-blocking"):
                    lock.acquire(blocking=False, timeout=-1.5)
                with self.assertRaises(OverflowError):
                    lock.acquire(timeout=BIG)
                with self.assertRaises(OverflowError):
                    lock.acquire(timeout=math.inf)
                with self.assertRaises(OverflowError):
                    lock.acquire(timeout=10**20)
                with self.assertRaises(TypeError):
                    lock.acquire(None)
                with self.assertRaises(TypeError):
                    lock.acquire(1.5)
                with self.assertRaises(TypeError):
                    lock.acquire(True, -1, 3)
                self.assertIs(lock.acquire(False, -1), True)
                lock.release()
                self.assertIs(lock.acquire(True, 0), True)
                lock.release()
                self.assertIs(lock.acquire(timeout=1e-12), True)
                lock.release()
                self.assertIs(lock.acquire(timeout=pythreading.TIMEOUT_MAX), True)
                lock.release()
                self.assertIs(lock.acquire(1), True)
                lock.release()

    def test_lock_basics(self):
        lock = pythreading.Lock()
        with self.assertRaisesRegex(RuntimeError, "release unlocked lock"):
            lock.release()
        self.assertFalse(lock.locked())
        self.assertIs(lock.acquire(), True)
        self.assertTrue(lock.locked())
        self.assertFalse(lock.acquire(False))
        t0 = time.monotonic()
        self.assertFalse(lock.acquire(timeout=0.05))
        self.assertGreaterEqual(time.monotonic() - t0, 0.045)
        in_thread(lock.release)  # any thread may release
        self.assertFalse(lock.locked())
        with self.assertRaises(TypeError):
            pythreading.Lock(1)
        with self.assertRaises(TypeError):
            class Sub(pythreading.Lock):
                pass
        self.assertTrue(lock.acquire_lock())
        self.assertTrue(lock.locked_lock())
        lock.release_lock()
        lock.acquire()
        lock._at_fork_reinit()
        self.assertFalse(lock.locked())
        self.assertIsNotNone(weakref.ref(lock)())

    def test_lock_repr(self):
        lock = pythreading.Lock()
        self.assertRegex(repr(lock), r"^<unlocked pythreading\.Lock object at 0x[0-9a-f]+>$")
        lock.acquire()
        self.assertRegex(repr(lock), r"^<locked pythreading\.Lock object at 0x[0-9a-f]+>$")

    def test_rlock(self):
        r = pythreading.RLock(1, 2, x=3)  # extra arguments are ignored (RL-02)
        with self.assertRaisesRegex(RuntimeError, "cannot release un-acquired lock"):
            r.release()
        self.assertRegex(repr(r), r"^<unlocked pythreading\.RLock object owner=0 count=0 at 0x")
        self.assertTrue(r.acquire())
        self.assertTrue(r.acquire())
        ident = threading.get_ident()
        self.assertRegex(repr(r), rf"^<locked pythreading\.RLock object owner={ident} count=2 ")
        # seen from another thread too
        self.assertRegex(in_thread(repr, r), rf"owner={ident} count=2")
        self.assertFalse(in_thread(r.acquire, False))
        with self.assertRaises(RuntimeError):
            in_thread(r.release)
        # validates even on re-entry (RL-06)
        with self.assertRaises(ValueError):
            r.acquire(False, 1)
        self.assertEqual(r._recursion_count(), 2)
        state = r._release_save()
        self.assertEqual(state, (2, ident))
        self.assertFalse(r._is_owned())
        r._acquire_restore(state)
        self.assertEqual(r._recursion_count(), 2)
        r.release()
        r.release()
        self.assertFalse(hasattr(r, "locked"))
        with r:
            with r:
                self.assertEqual(r._recursion_count(), 2)
        self.assertEqual(r._recursion_count(), 0)


class ConditionTests(unittest.TestCase):
    def test_unacquired(self):
        for lock in (None, pythreading.Lock(), pythreading.RLock(), threading.Lock(),
                     threading.RLock()):
            c = pythreading.Condition(lock)
            with self.assertRaisesRegex(RuntimeError, "cannot wait on un-acquired lock"):
                c.wait()
            with self.assertRaisesRegex(RuntimeError, "cannot notify on un-acquired lock"):
                c.notify()
            with self.assertRaisesRegex(RuntimeError, "cannot notify on un-acquired lock"):
                c.notify_all()

    def test_no_acquire(self):
        with self.assertRaises(AttributeError):
            pythreading.Condition(object())

    def test_poll_waits(self):
        for lock in (None, pythreading.Lock(), threading.Lock(), threading.RLock()):
            c = pythreading.Condition(lock)
            with c:
                for t in (0, -1, -5, math.nan):
                    self.assertIs(c.wait(t), False)
                with self.assertRaises(OverflowError):
                    c.wait(BIG)
                with self.assertRaises(TypeError):
                    c.wait("x")
                self.assertTrue(c._is_owned())  # still held
                calls = []
                self.assertEqual(c.wait_for(lambda: calls.append(1), -1), None)
                self.assertEqual(len(calls), 2)
                self.assertEqual(c.wait_for(lambda: 42), 42)
                self.assertEqual(c.wait_for(lambda: [], 0.01), [])
                c.notify(0)
                c.notify(-3)
                c.notify(1.5)
                c.notifyAll()

    def _ping_pong(self, cond):
        state = []

        def worker():
            with cond:
                state.append("ready")
                cond.notify()
                ok = cond.wait_for(lambda: "go" in state, timeout=10)
                state.append(("worker", bool(ok)))
                cond.notify()

        t = threading.Thread(target=worker)
        with cond:
            t.start()
            self.assertTrue(cond.wait_for(lambda: "ready" in state, timeout=10))
            state.append("go")
            cond.notify()
            self.assertTrue(cond.wait_for(lambda: ("worker", True) in state, timeout=10))
        t.join()

    def test_native_and_foreign_locks(self):
        for lock in (None, pythreading.Lock(), pythreading.RLock(), threading.Lock(),
                     threading.RLock(), threading.Semaphore()):
            with self.subTest(lock=repr(lock)):
                self._ping_pong(pythreading.Condition(lock))

    def test_foreign_notify_counts(self):
        lock = threading.Lock()
        c = pythreading.Condition(lock)
        woke = []
        n = 4

        def waiter():
            with c:
                woke.append(c.wait(10))

        threads = [threading.Thread(target=waiter) for _ in range(n)]
        for t in threads:
            t.start()
        while not repr(c).endswith(f", {n})>"):
            time.sleep(0.005)
        with c:
            c.notify(2)
        time.sleep(0.1)
        self.assertEqual(len(woke), 2)
        with c:
            c.notify_all()
        for t in threads:
            t.join()
        self.assertEqual(woke, [True] * n)

    # A waiter first watches its wake-up without sleeping (python/README.md,
    # "Short waits"); these check that the queue discipline is unchanged.
    LOCKS = (None, pythreading.Lock(), pythreading.RLock(), threading.Lock())

    def _queue_waiters(self, c, n, woke, done):
        """Starts n threads, each queued on c before the next starts."""
        threads = []
        for i in range(n):
            ready = threading.Semaphore(0)

            def waiter(i=i, ready=ready):
                with c:
                    ready.release()
                    c.wait()  # queued before it releases the lock
                    woke.append(i)
                done.release()

            t = threading.Thread(target=waiter)
            t.start()
            threads.append(t)
            ready.acquire()
            with c:  # waiter i has released c: it is in the queue
                pass
        return threads

    def test_notify_wakes_waiters_in_arrival_order(self):
        for lock in self.LOCKS:
            with self.subTest(lock=repr(lock)):
                c = pythreading.Condition(lock)
                woke, done = [], threading.Semaphore(0)
                threads = self._queue_waiters(c, 5, woke, done)
                for i in range(5):
                    with c:
                        c.notify()
                    done.acquire()
                    self.assertEqual(woke, list(range(i + 1)))
                for t in threads:
                    t.join()

    def test_notify_n_wakes_exactly_n(self):
        for lock in self.LOCKS:
            with self.subTest(lock=repr(lock)):
                c = pythreading.Condition(lock)
                woke, done = [], threading.Semaphore(0)
                threads = self._queue_waiters(c, 4, woke, done)
                with c:
                    c.notify(2)
                    self.assertTrue(repr(c).endswith(", 2)>"), repr(c))
                done.acquire()
                done.acquire()
                self.assertEqual(sorted(woke), [0, 1])
                with c:
                    self.assertTrue(repr(c).endswith(", 2)>"), repr(c))
                    c.notify_all()
                for t in threads:
                    t.join()
                self.assertEqual(sorted(woke), [0, 1, 2, 3])

    def test_bounded_buffer_hand_off(self):
        # queue.Queue's design, both sides waiting often: every item arrives,
        # in order, whichever way each wait ends (watched, slept, timed).
        for lock, timeout in ((pythreading.Lock(), None), (pythreading.RLock(), 30),
                              (threading.Lock(), None)):
            with self.subTest(lock=repr(lock), timeout=timeout):
                import collections
                items, size, n = collections.deque(), 4, 20000
                not_empty = pythreading.Condition(lock)
                not_full = pythreading.Condition(lock)

                def producer():
                    for i in range(n):
                        with not_full:
                            while len(items) >= size:
                                self.assertTrue(not_full.wait(timeout))
                            items.append(i)
                            not_empty.notify()

                t = threading.Thread(target=producer)
                t.start()
                got = []
                for _ in range(n):
                    with not_empty:
                        while not items:
                            self.assertTrue(not_empty.wait(timeout))
                        got.append(items.popleft())
                        not_full.notify()
                t.join()
                self.assertEqual(got, list(range(n)))

    def test_repr(self):
        c = pythreading.Condition()
        self.assertRegex(repr(c), r"^<Condition\(<unlocked pythreading\.RLock object .*>, 0\)>$")
        lock = threading.Lock()
        self.assertEqual(repr(pythreading.Condition(lock)), f"<Condition({lock!r}, 0)>")

    def test_acquire_passthrough(self):
        c = pythreading.Condition(pythreading.Lock())
        self.assertIs(c.acquire(), True)
        self.assertIs(c.acquire(False), False)
        self.assertIs(c.acquire(blocking=True, timeout=0.01), False)
        with self.assertRaises(ValueError):
            c.acquire(False, 1)
        with self.assertRaises(TypeError):
            c.acquire(bogus=1)
        c.release()
        s = threading.Semaphore(2)
        c = pythreading.Condition(s)
        self.assertIs(c.acquire(timeout=1), True)
        c.release()


class SemaphoreTests(unittest.TestCase):
    def test_args(self):
        for st in (pythreading.Semaphore, pythreading.BoundedSemaphore):
            with self.subTest(sem=st.__name__):
                with self.assertRaisesRegex(ValueError, "semaphore initial value must be >= 0"):
                    st(-1)
                with self.assertRaisesRegex(ValueError, "semaphore initial value must be >= 0"):
                    st(-sys.maxsize)
                s = st(1)
                with self.assertRaisesRegex(ValueError,
                                            "can't specify timeout for non-blocking acquire"):
                    s.acquire(False, 0)
                self.assertIs(s.acquire(timeout="x"), True)  # not looked at: no wait
                self.assertIs(s.acquire(False), False)
                self.assertIs(s.acquire(timeout=0), False)
                self.assertIs(s.acquire(timeout=-1), False)
                with self.assertRaises(OverflowError):
                    s.acquire(timeout=BIG)
                with self.assertRaises(TypeError):
                    s.acquire(timeout="x")
                with self.assertRaisesRegex(ValueError, "n must be one or more"):
                    s.release(0)
                with self.assertRaisesRegex(ValueError, "n must be one or more"):
                    s.release(-1)
                with self.assertRaises(TypeError):
                    s.release(1.5)
                s.release()
                with s:
                    self.assertFalse(s.acquire(blocking=0))
                self.assertTrue(s.acquire(blocking=1))
                s.release()

    def test_nan_timeout_never_expires(self):
        s = pythreading.Semaphore(0)
        threading.Timer(0.05, s.release).start()
        self.assertTrue(s.acquire(timeout=math.nan))

    def test_bounded(self):
        b = pythreading.BoundedSemaphore(2)
        with self.assertRaisesRegex(ValueError, "Semaphore released too many times"):
            b.release()
        b.acquire()
        with self.assertRaisesRegex(ValueError, "Semaphore released too many times"):
            b.release(2)
        self.assertRegex(repr(b), r"^<pythreading\.BoundedSemaphore at 0x[0-9a-f]+: value=1/2>$")
        b.release()
        self.assertIsInstance(b, pythreading.Semaphore)
        with self.assertRaises(ValueError):
            pythreading.BoundedSemaphore(0).release()

    def test_unbounded_and_subclass(self):
        class MySem(pythreading.Semaphore):
            pass

        s = MySem(0)
        s.release(3)
        self.assertRegex(repr(s), r"^<test_pythreading\.SemaphoreTests\..*MySem at 0x.*: value=3>$")


class EventTests(unittest.TestCase):
    def test_args(self):
        e = pythreading.Event()
        with self.assertRaises(TypeError):
            pythreading.Event(1)
        self.assertIs(e.is_set(), False)
        for t in (0, -1, math.nan):
            self.assertIs(e.wait(t), False)
        with self.assertRaises(OverflowError):
            e.wait(BIG)
        with self.assertRaises(TypeError):
            e.wait("x")
        e.set()
        self.assertIs(e.wait(BIG), True)
        self.assertIs(e.wait("x"), True)
        self.assertIs(e.isSet(), True)
        self.assertRegex(repr(e), r"^<pythreading\.Event at 0x[0-9a-f]+: set>$")
        e.clear()
        self.assertFalse(e.is_set())
        self.assertFalse(hasattr(e, "__enter__"))

    def test_set_then_clear_wakes_waiter(self):  # EV-07 / gh-57711
        e = pythreading.Event()
        res = []
        t = threading.Thread(target=lambda: res.append(e.wait(10)))
        t.start()
        time.sleep(0.05)
        e.set()
        e.clear()
        t.join()
        self.assertEqual(res, [True])

    def test_pulse_while_waiter_watches(self):
        # The pulse lands at once, mostly while the waiter still watches the
        # flag before it sleeps: it must count there too (it was lost, and
        # the waiter slept out its timeout).
        for _ in range(50):
            e, about = pythreading.Event(), threading.Event()
            res = []

            def waiter():
                about.set()
                res.append(e.wait(10))

            t = threading.Thread(target=waiter)
            t.start()
            about.wait()
            e.set()
            e.clear()
            t.join()
            self.assertEqual(res, [True])


class CamelCaseAliasTests(unittest.TestCase):
    # ALIAS-06/07: the Python 2 names work and warn, as in CPython 3.10+.
    def test_notifyAll_warns_and_notifies(self):
        cond = pythreading.Condition()
        with cond:
            with self.assertWarnsRegex(DeprecationWarning, "notifyAll"):
                cond.notifyAll()

    def test_isSet_warns_and_reports(self):
        event = pythreading.Event()
        with self.assertWarnsRegex(DeprecationWarning, "isSet"):
            self.assertFalse(event.isSet())
        event.set()
        with self.assertWarns(DeprecationWarning):
            self.assertTrue(event.isSet())


class GilAndSignalTests(unittest.TestCase):
    def test_gil_released_while_blocked(self):
        lock = pythreading.Lock()
        lock.acquire()
        counter = [0]
        stop = []

        def spin():
            while not stop:
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        try:
            self.assertFalse(lock.acquire(timeout=0.2))
            self.assertGreater(counter[0], 1000)
        finally:
            stop.append(1)
            t.join()

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_blocking_calls_interruptible(self):
        lock = pythreading.Lock()
        lock.acquire()
        rlock = pythreading.RLock()
        in_thread(rlock.acquire)
        sem = pythreading.Semaphore(0)
        ev = pythreading.Event()
        cond = pythreading.Condition()
        fcond = pythreading.Condition(threading.Lock())

        def cond_wait(c, timeout):
            with c:
                c.wait(timeout)

        calls = {
            "Lock.acquire": lambda: lock.acquire(),
            "Lock.acquire(timeout)": lambda: lock.acquire(timeout=30),
            "RLock.acquire": lambda: rlock.acquire(),
            "Semaphore.acquire": lambda: sem.acquire(),
            "Semaphore.acquire(timeout)": lambda: sem.acquire(timeout=30),
            "Event.wait": lambda: ev.wait(),
            "Event.wait(timeout)": lambda: ev.wait(30),
            "Condition.wait": lambda: cond_wait(cond, None),
            "Condition.wait(timeout)": lambda: cond_wait(cond, 30),
            "Condition(threading.Lock).wait": lambda: cond_wait(fcond, None),
            "Barrier.wait": lambda: pythreading.Barrier(2).wait(),
            "Barrier.wait(timeout)": lambda: pythreading.Barrier(2).wait(30),
            "Barrier(timeout=).wait": lambda: pythreading.Barrier(2, timeout=30).wait(),
        }

        class Interrupted(Exception):
            pass

        def handler(signum, frame):
            raise Interrupted

        old = signal.signal(signal.SIGALRM, handler)
        try:
            for name, call in calls.items():
                with self.subTest(call=name):
                    t0 = time.monotonic()
                    signal.setitimer(signal.ITIMER_REAL, 0.1)
                    with self.assertRaises(Interrupted):
                        call()
                    self.assertLess(time.monotonic() - t0, 5)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        # the Condition's lock is held again after the interruption (CD-12)
        self.assertFalse(cond._is_owned())
        self.assertTrue(cond.acquire(False))
        cond.release()


if __name__ == "__main__":
    unittest.main()
