"""pythreading.queue: every method, CPython's exceptions and messages,
subclass hooks, the GIL released while blocked, Ctrl-C in the main thread
(child processes), references (no leak, no loss) and timeouts never early.
CPython's own test_queue runs against the module in test_cpython_queue.py."""

import gc
import os
import queue as std_queue
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import weakref

import pythreading
import pythreading.queue as pq
from test_signals import CHILD_ENV, FUTEX_NR, run_interrupted

HAS_SHUTDOWN = sys.version_info >= (3, 13)
QUEUES = (pq.Queue, pq.LifoQueue, pq.PriorityQueue)


def start(fn, *args):
    """Runs fn(*args) in a thread; returns (thread, box) with box["r"]/["e"]."""
    box = {}

    def run():
        try:
            box["r"] = fn(*args)
        except BaseException as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, box


class ModuleTests(unittest.TestCase):
    def test_import_forms(self):
        from pythreading import queue as q1
        import pythreading.queue as q2
        self.assertIs(q1, q2)
        self.assertIs(sys.modules["pythreading.queue"], q1)
        self.assertIs(pythreading.queue, q1)

    def test_exceptions_are_the_standard_ones(self):
        self.assertIs(pq.Empty, std_queue.Empty)
        self.assertIs(pq.Full, std_queue.Full)
        if HAS_SHUTDOWN:
            self.assertIs(pq.ShutDown, std_queue.ShutDown)
        else:
            self.assertFalse(hasattr(pq, "ShutDown"))
            self.assertFalse(hasattr(pq.Queue, "shutdown"))

    def test_all(self):
        self.assertEqual(sorted(pq.__all__), sorted(std_queue.__all__))

    def test_classes(self):
        self.assertTrue(issubclass(pq.LifoQueue, pq.Queue))
        self.assertTrue(issubclass(pq.PriorityQueue, pq.Queue))
        self.assertEqual(pq.Queue.__module__, "pythreading.queue")
        self.assertEqual(pq.Queue[int].__origin__, pq.Queue)
        self.assertEqual(pq.SimpleQueue[int].__origin__, pq.SimpleQueue)


class OrderTests(unittest.TestCase):
    def fill(self, q, items):
        for i in items:
            q.put(i)
        return [q.get() for _ in items]

    def test_orders(self):
        items = [3, 1, 4, 1, 5, 9, 2, 6]
        self.assertEqual(self.fill(pq.Queue(), items), items)
        self.assertEqual(self.fill(pq.LifoQueue(), items), items[::-1])
        self.assertEqual(self.fill(pq.PriorityQueue(), items), sorted(items))
        self.assertEqual(self.fill(pq.SimpleQueue(), items), items)

    def test_tuple_items(self):
        # A tuple is one item, also where the hooks are called from C.
        for cls in QUEUES + (pq.SimpleQueue,):
            q = cls()
            q.put((2, "b"))
            q.put_nowait((1, "a"))
            self.assertEqual({q.get(), q.get()}, {(1, "a"), (2, "b")})

    def test_sizes(self):
        for cls in QUEUES:
            q = cls(2)
            self.assertTrue(q.empty())
            self.assertFalse(q.full())
            self.assertEqual(q.qsize(), 0)
            q.put(1)
            q.put_nowait(2)
            self.assertTrue(q.full())
            self.assertEqual(q.qsize(), 2)
            self.assertEqual(q.maxsize, 2)
            self.assertEqual(q.unfinished_tasks, 2)
            q.maxsize = 3
            self.assertFalse(q.full())
            q.maxsize = 0
            self.assertFalse(q.full())
            q.get()
            q.get_nowait()
            self.assertTrue(q.empty())
        s = pq.SimpleQueue()
        s.put(1, False, -5)  # block and timeout are ignored
        s.put_nowait(2)
        self.assertEqual((s.qsize(), s.empty()), (2, False))

    def test_unbounded(self):
        for maxsize in (0, -1):
            q = pq.Queue(maxsize)
            for i in range(1000):
                q.put(i, timeout=-1)  # an unbounded put never looks at it
            self.assertFalse(q.full())
            self.assertEqual(q.qsize(), 1000)


class ErrorTests(unittest.TestCase):
    def test_empty_and_full(self):
        for cls in QUEUES:
            q = cls(1)
            self.assertRaises(pq.Empty, q.get_nowait)
            self.assertRaises(pq.Empty, q.get, False)
            self.assertRaises(pq.Empty, q.get, timeout=0)
            q.put(1)
            self.assertRaises(pq.Full, q.put_nowait, 2)
            self.assertRaises(pq.Full, q.put, 2, False)
            self.assertRaises(pq.Full, q.put, 2, timeout=0)
            self.assertEqual(q.qsize(), 1)
        s = pq.SimpleQueue()
        self.assertRaises(pq.Empty, s.get_nowait)
        self.assertRaises(pq.Empty, s.get, timeout=0)

    def test_negative_timeout(self):
        msg = "'timeout' must be a non-negative number"
        for cls in QUEUES:
            q = cls(1)
            with self.assertRaisesRegex(ValueError, msg):
                q.put(1, timeout=-1)  # even with room (CPython)
            q.put(1)
            with self.assertRaisesRegex(ValueError, msg):
                q.get(timeout=-0.5)  # even with an item there
            self.assertEqual(q.get(False, -1), 1)  # not looked at when not blocking
        with self.assertRaisesRegex(ValueError, msg):
            pq.SimpleQueue().get(timeout=-1)

    def test_timeout_types(self):
        q = pq.Queue()
        with self.assertRaisesRegex(TypeError, "'<' not supported between instances of 'str'"):
            q.get(timeout="1")
        s = pq.SimpleQueue()
        with self.assertRaisesRegex(TypeError, "'str' object cannot be interpreted"):
            s.get(timeout="1")
        with self.assertRaisesRegex(ValueError, "Invalid value NaN"):
            s.get(timeout=float("nan"))
        with self.assertRaises(OverflowError):
            s.get(timeout=1e300)
        with self.assertRaises(OverflowError):
            q.get(timeout=1e300)  # only because it has to wait
        q.put(1)
        self.assertEqual(q.get(timeout=1e300), 1)

    def test_task_done_too_many(self):
        for cls in QUEUES:
            q = cls()
            with self.assertRaisesRegex(ValueError, r"^task_done\(\) called too many times$"):
                q.task_done()
            q.put(1)
            q.get()
            q.task_done()
            self.assertRaises(ValueError, q.task_done)
            q.join()

    def test_argument_errors(self):
        q = pq.Queue()
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'x'"):
            pq.Queue(x=1)
        with self.assertRaisesRegex(TypeError, "missing 1 required positional argument: 'item'"):
            q.put()
        with self.assertRaises(TypeError):
            q.get(1, 2, 3)
        with self.assertRaises(TypeError):
            pq.SimpleQueue(1)
        with self.assertRaisesRegex(TypeError, "get\\(\\) takes at most 2 arguments"):
            pq.SimpleQueue().get(1, 2, 3)


class TimeoutTests(unittest.TestCase):
    def assert_waited(self, fn, exc, t):
        start_time = time.monotonic()
        self.assertRaises(exc, fn)
        elapsed = time.monotonic() - start_time
        self.assertGreaterEqual(elapsed, t)
        self.assertLess(elapsed, t + 30)

    def test_never_early(self):
        for cls in QUEUES:
            q = cls(1)
            self.assert_waited(lambda: q.get(timeout=0.1), pq.Empty, 0.1)
            q.put(1)
            self.assert_waited(lambda: q.put(2, timeout=0.1), pq.Full, 0.1)
            self.assert_waited(lambda: q.put(2, True, 0.05), pq.Full, 0.05)
        s = pq.SimpleQueue()
        self.assert_waited(lambda: s.get(timeout=0.1), pq.Empty, 0.1)


class HandOffTests(unittest.TestCase):
    def test_blocked_get_gets_item(self):
        for cls in QUEUES + (pq.SimpleQueue,):
            q = cls()
            t, box = start(q.get)
            q.put("x")
            t.join()
            self.assertEqual(box, {"r": "x"})

    def test_blocked_put_goes_in(self):
        for cls in QUEUES:
            q = cls(1)
            q.put("a")
            t, box = start(q.put, "b")
            self.assertEqual(q.get(), "a")
            t.join()
            self.assertEqual(box, {"r": None})
            self.assertEqual(q.get_nowait(), "b")
            self.assertEqual(q.unfinished_tasks, 2)

    def test_join(self):
        for cls in QUEUES:
            q = cls()
            for i in range(3):
                q.put(i)
            done = []

            def worker():
                for _ in range(3):
                    q.get()
                    done.append(1)
                    q.task_done()

            t, _ = start(worker)
            q.join()
            self.assertEqual(len(done), 3)
            t.join()
            q.join()  # nothing pending: at once

    def test_gil_released_while_blocked(self):
        # The main thread blocks in get(); another thread has to run Python
        # code to produce the item. Without the GIL released it never could.
        for cls in QUEUES + (pq.SimpleQueue,):
            q = cls()

            def produce():
                total = sum(i * i for i in range(20000))
                q.put(total)

            t = threading.Thread(target=produce)
            t.start()
            self.assertEqual(q.get(timeout=60), sum(i * i for i in range(20000)))
            t.join()

    def test_many_producers_consumers(self):
        for cls in QUEUES + (pq.SimpleQueue,):
            q = cls(8) if cls is not pq.SimpleQueue else cls()
            n, per = 4, 500
            got = []

            def produce(base):
                for i in range(per):
                    q.put(base + i)

            def consume():
                for _ in range(per):
                    got.append(q.get())

            threads = [threading.Thread(target=produce, args=(k * per,)) for k in range(n)]
            threads += [threading.Thread(target=consume) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(got), list(range(n * per)))


class RefTests(unittest.TestCase):
    def test_references(self):
        for cls in QUEUES + (pq.SimpleQueue,):
            item = object()
            base = sys.getrefcount(item)
            q = cls()
            q.put(item)
            self.assertEqual(sys.getrefcount(item), base + 1)
            self.assertIs(q.get(), item)
            self.assertEqual(sys.getrefcount(item), base)

    def test_items_freed_with_queue(self):
        class Item:
            def __lt__(self, other):  # for PriorityQueue
                return id(self) < id(other)

        for cls in QUEUES + (pq.SimpleQueue,):
            items = [Item() for _ in range(3)]
            refs = [weakref.ref(i) for i in items]
            q = cls()
            for i in items:
                q.put(i)
            del items, i
            self.assertTrue(all(r() is not None for r in refs))
            del q
            self.assertTrue(all(r() is None for r in refs))

    def test_cycle_collected(self):
        for cls in QUEUES + (pq.SimpleQueue,):
            q = cls()
            q.put(q)
            r = weakref.ref(q)
            del q
            gc.collect()
            self.assertIsNone(r())

    def test_timed_get_racing_puts_loses_nothing(self):
        # Gets with tiny timeouts race the arrival of each item: every item
        # comes out exactly once, and no reference is leaked or lost.
        for cls in (pq.Queue, pq.SimpleQueue):
            q = cls()
            items = [object() for _ in range(3000)]
            base = [sys.getrefcount(i) for i in items]
            got = []
            go = threading.Event()

            def consume():
                go.set()
                while len(got) < len(items):
                    try:
                        got.append(q.get(timeout=1e-6))
                    except pq.Empty:
                        pass

            t = threading.Thread(target=consume)
            t.start()
            go.wait()
            for i in items:
                q.put(i)
            del i
            t.join()
            self.assertEqual([id(x) for x in got], [id(x) for x in items])
            del got
            self.assertEqual([sys.getrefcount(i) for i in items], base)

    def test_timed_put_racing_gets_loses_nothing(self):
        q = pq.Queue(1)
        items = [object() for _ in range(2000)]
        base = [sys.getrefcount(i) for i in items]
        got = []

        def consume():
            for _ in items:
                got.append(q.get())

        t = threading.Thread(target=consume)
        t.start()
        for i in items:
            while True:
                try:
                    q.put(i, timeout=1e-6)
                    break
                except pq.Full:
                    pass
        del i
        t.join()
        self.assertEqual([id(x) for x in got], [id(x) for x in items])
        del got
        self.assertEqual([sys.getrefcount(i) for i in items], base)

    def test_reentrant_put_from_del(self):
        # A __del__ run when an item is dropped may use the queue.
        q = pq.Queue()

        class Tricky:
            def __del__(self):
                q.put("from __del__")

        q.put(Tricky())
        q.get()  # the item is dropped as the result is discarded
        self.assertEqual(q.get_nowait(), "from __del__")


class PriorityTests(unittest.TestCase):
    def test_raising_comparison_leaves_queue_usable(self):
        q = pq.PriorityQueue()
        q.put(1)
        with self.assertRaises(TypeError):
            q.put("x")  # stays in the heap, as with CPython's heapq; not counted as a task
        self.assertEqual(q.unfinished_tasks, 1)
        self.assertEqual(q.qsize(), 2)

    def test_comparisons_releasing_the_gil(self):
        # __lt__ in Python lets other threads run midway through a heap
        # operation: the heap's own lock keeps it whole.
        class Slow:
            def __init__(self, v):
                self.v = v

            def __lt__(self, other):
                time.sleep(0)  # releases the GIL
                return self.v < other.v

        q = pq.PriorityQueue()
        n, per = 4, 200

        def produce(k):
            for i in range(per):
                q.put(Slow(k * per + i))

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = [q.get_nowait().v for _ in range(n * per)]
        self.assertEqual(got, list(range(n * per)))

    def test_bounded_blocked_putters(self):
        q = pq.PriorityQueue(2)
        q.put(5)
        q.put(6)
        t1, b1 = start(q.put, 1)
        self.assertEqual(q.get(), 5)  # a slot for the blocked putter
        t1.join()
        self.assertEqual(b1, {"r": None})
        self.assertEqual((q.get(), q.get(), q.unfinished_tasks), (1, 6, 3))


class HookTests(unittest.TestCase):
    def test_overridden_hooks_are_used(self):
        class SetQueue(pq.Queue):
            def _init(self, maxsize):
                self.queue = set()

            def _qsize(self):
                return len(self.queue)

            def _put(self, item):
                self.queue.add(item)

            def _get(self):
                return self.queue.pop()

        q = SetQueue(3)
        for i in (1, 1, 2):
            q.put(i)
        self.assertEqual(q.qsize(), 2)
        self.assertEqual(q.queue, {1, 2})
        self.assertEqual({q.get(), q.get()}, {1, 2})
        self.assertRaises(pq.Empty, q.get_nowait)
        # CPython's attributes exist on the hook path.
        self.assertIsInstance(q.mutex, type(pythreading.Lock()))
        self.assertIsInstance(q.not_empty, pythreading.Condition)
        for name in ("not_full", "all_tasks_done"):
            self.assertIsInstance(getattr(q, name), pythreading.Condition)
        t, box = start(q.get)
        q.put(5)
        t.join()
        self.assertEqual(box, {"r": 5})

    def test_super_hooks(self):
        log = []

        class Logging(pq.LifoQueue):
            def _put(self, item):
                log.append(item)
                super()._put(item)

        q = Logging()
        q.put(1)
        q.put(2)
        self.assertEqual((q.get(), q.get(), log), (2, 1, [1, 2]))
        self.assertEqual(q.queue, [])

    def test_failing_hook_leaves_queue_usable(self):
        class Failing(pq.Queue):
            fail = False

            def _put(self, item):
                if self.fail:
                    raise KeyError("put")
                super()._put(item)

        q = Failing(2)
        q.put(1)
        q.fail = True
        self.assertRaises(KeyError, q.put, 2)
        self.assertEqual((q.qsize(), q.unfinished_tasks), (1, 1))
        q.fail = False
        q.put(2)
        self.assertEqual((q.get(), q.get()), (1, 2))

    def test_overriding_put_keeps_native_path(self):
        calls = []

        class Counting(pq.Queue):
            def put(self, item, block=True, timeout=None):
                calls.append(block)
                super().put(item, block, timeout)

        q = Counting()
        q.put_nowait(1)  # goes through the override, as CPython's does
        self.assertEqual(calls, [False])
        self.assertEqual(q.get(), 1)

    def test_native_hooks_callable(self):
        q = pq.Queue()
        q._put(1)
        self.assertEqual((q._qsize(), q.qsize()), (1, 1))
        self.assertEqual(q._get(), 1)
        self.assertRaises(IndexError, q._get)


def wait_until_blocked(t):
    """Returns once thread t sleeps in a futex wait, seen twice in a row on the
    same word with the GIL released in between (so not a wait for the GIL)."""
    path = f"/proc/self/task/{t.native_id}/syscall"

    def waiting_on():
        with open(path) as f:
            fields = f.read().split()
        # futex(addr, op, ...): op & 127 is FUTEX_WAIT (0) or FUTEX_WAIT_BITSET (9).
        if fields[0] == str(FUTEX_NR) and int(fields[2], 16) & 127 in (0, 9):
            return fields[1]
        return None

    while True:
        word = waiting_on()
        if word is not None:
            time.sleep(0.001)
            if waiting_on() == word:
                return
        time.sleep(0.001)


class InternalsTests(unittest.TestCase):
    """CPython's internals (mutex, not_empty, not_full, all_tasks_done, queue):
    looking at them moves a native queue to CPython's algorithm, items, order
    and blocked callers included."""

    def test_clear_by_hand(self):
        for cls in QUEUES:
            q = cls()
            for i in range(5):
                q.put(i)
            with q.mutex:  # the idiom of CPython code that empties a queue
                q.queue.clear()
                q.all_tasks_done.notify_all()
                q.unfinished_tasks = 0
            self.assertEqual((q.qsize(), q.empty(), q.unfinished_tasks), (0, True, 0))
            q.join()  # at once
            q.put(9)
            self.assertEqual(q.get_nowait(), 9)
            self.assertRaises(pq.Empty, q.get_nowait)

    def test_items_and_order_kept(self):
        for cls, store, order in ((pq.Queue, "deque", [3, 1, 2]), (pq.LifoQueue, "list", [2, 1, 3]),
                                  (pq.PriorityQueue, "list", [1, 2, 3])):
            q = cls(5)
            for i in (3, 1, 2):
                q.put(i)
            self.assertEqual(type(q.queue).__name__, store)
            self.assertEqual(sorted(q.queue), [1, 2, 3])
            self.assertIsInstance(q.mutex, type(pythreading.Lock()))
            for name in ("not_empty", "not_full", "all_tasks_done"):
                cond = getattr(q, name)
                self.assertIsInstance(cond, pythreading.Condition)
                with cond:
                    self.assertTrue(q.mutex.locked())  # all three over mutex
            self.assertEqual((q.qsize(), q.full(), q.unfinished_tasks), (3, False, 3))
            self.assertEqual([q.get() for _ in range(3)], order)

    def test_same_objects_every_time(self):
        q = pq.Queue()
        self.assertIs(q.mutex, q.mutex)
        self.assertIs(q.queue, q.queue)
        q.queue.append("by hand")  # CPython's storage is the queue's storage
        self.assertEqual(q.get_nowait(), "by hand")

    def test_simple_queue_has_none(self):
        for name in ("mutex", "queue", "not_empty"):
            self.assertFalse(hasattr(pq.SimpleQueue(), name))
            self.assertFalse(hasattr(std_queue.SimpleQueue(), name))

    def test_unfinished_tasks_assignable(self):
        q = pq.Queue()
        q.put(1)
        q.unfinished_tasks = 0
        self.assertEqual(q.unfinished_tasks, 0)
        self.assertRaises(ValueError, q.task_done)
        self.assertRaises(TypeError, setattr, q, "unfinished_tasks", "x")
        self.assertRaises(AttributeError, delattr, q, "unfinished_tasks")

    @unittest.skipUnless(FUTEX_NR and os.path.exists("/proc/self/syscall"),
                         "needs Linux's /proc/<tid>/syscall on x86-64 or aarch64")
    def test_blocked_callers_move_along(self):
        for cls in QUEUES:
            with self.subTest(cls=cls.__name__):
                getter_q = cls()
                getter, got = start(getter_q.get)
                putter_q = cls(1)
                putter_q.put("a")
                putter, put = start(putter_q.put, "b")
                joiner_q = cls()
                joiner_q.put("task")
                joiner, joined = start(joiner_q.join)
                for t in (getter, putter, joiner):
                    wait_until_blocked(t)
                for q in (getter_q, putter_q, joiner_q):
                    q.mutex  # the move, with a thread blocked on the native path
                getter_q.put("x")
                getter.join()
                self.assertEqual(got, {"r": "x"})
                self.assertEqual(putter_q.get(), "a")
                putter.join()
                self.assertEqual((put, putter_q.get_nowait()), ({"r": None}, "b"))
                joiner_q.get()
                joiner_q.task_done()
                joiner.join()
                self.assertEqual(joined, {"r": None})

    @unittest.skipUnless(FUTEX_NR and os.path.exists("/proc/self/syscall"),
                         "needs Linux's /proc/<tid>/syscall on x86-64 or aarch64")
    def test_blocked_timeout_kept(self):
        q = pq.Queue()
        begin = time.monotonic()
        t, box = start(q.get, True, 0.5)
        wait_until_blocked(t)
        q.not_empty
        t.join()
        self.assertIsInstance(box["e"], pq.Empty)
        self.assertGreaterEqual(time.monotonic() - begin, 0.5)


@unittest.skipUnless(HAS_SHUTDOWN, "shutdown() is new in 3.13")
class ShutDownTests(unittest.TestCase):
    def test_shutdown(self):
        for cls in QUEUES:
            q = cls()
            q.put(1)
            q.shutdown()
            self.assertTrue(q.is_shutdown)
            self.assertRaises(pq.ShutDown, q.put, 2)
            self.assertEqual(q.get(), 1)
            self.assertRaises(pq.ShutDown, q.get)
            self.assertRaises(pq.ShutDown, q.get, timeout=-1)

    def test_immediate_drops_items_and_releases_join(self):
        for cls in QUEUES:
            q = cls()
            item = [1]  # comparable, for PriorityQueue
            base = sys.getrefcount(item)
            q.put(item)
            q.put(item)
            t, box = start(q.join)
            q.shutdown(immediate=True)
            t.join()
            self.assertEqual(box, {"r": None})
            self.assertEqual(sys.getrefcount(item), base)
            self.assertRaises(pq.ShutDown, q.get_nowait)
            self.assertEqual(q.unfinished_tasks, 0)

    def test_blocked_callers_wake(self):
        for cls in QUEUES:
            q = cls(1)
            t1, b1 = start(q.get)
            q2 = cls(1)
            q2.put(0)
            t2, b2 = start(q2.put, 1)
            q.shutdown()
            q2.shutdown()
            t1.join()
            t2.join()
            self.assertIsInstance(b1.get("e"), pq.ShutDown)
            self.assertIsInstance(b2.get("e"), pq.ShutDown)


def child(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=CHILD_ENV, timeout=300)


class ExitTests(unittest.TestCase):
    def test_items_left_at_exit(self):
        # Items left in a queue (and a daemon thread blocked in get) at exit.
        p = child("""
            import threading
            import pythreading.queue as pq
            class Noisy:
                def __del__(self):
                    print("freed", flush=True)
            q = pq.Queue()
            q.put(Noisy())
            s = pq.SimpleQueue()
            s.put(Noisy())
            idle = pq.Queue()
            threading.Thread(target=idle.get, daemon=True).start()
            """)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["freed", "freed"])


# Each child announces once the main thread sleeps in the call under test:
# a profile hook sees the call begin (a C call event), then the parent's
# SIGINT interrupts the wait.
CTRL_C = """
import sys
import pythreading.queue as pq
inside = []
def prof(frame, event, arg):
    if event == "c_call" and getattr(arg, "__name__", "") == {name!r}:
        inside.append(1)
{setup}
_announce_when_main_blocks(lambda: inside)
sys.setprofile(prof)
try:
    {call}
except KeyboardInterrupt:
    sys.setprofile(None)
    print("interrupted")
{after}
"""


@unittest.skipUnless(FUTEX_NR and os.path.exists("/proc/self/syscall"),
                     "needs Linux's /proc/<tid>/syscall on x86-64 or aarch64")
class CtrlCTests(unittest.TestCase):
    def check(self, name, setup, call, after="", expect="interrupted"):
        rc, out, err = run_interrupted(CTRL_C.format(name=name, setup=textwrap.dedent(setup),
                                                     call=call, after=textwrap.dedent(after)))
        self.assertEqual((rc, out.split()), (0, expect.split()), err)

    def test_get(self):
        for cls in ("Queue", "LifoQueue", "SimpleQueue"):
            self.check("get", f"q = pq.{cls}()", "q.get()",
                       "q.put(1); print(q.get(), q.qsize())", "interrupted 1 0")

    def test_get_with_timeout(self):
        self.check("get", "q = pq.Queue()", "q.get(timeout=600)")

    def test_put(self):
        self.check("put", "q = pq.Queue(1); q.put(0)", "q.put(1)",
                   "print(q.qsize(), q.unfinished_tasks, q.get())", "interrupted 1 1 0")

    def test_join(self):
        self.check("join", "q = pq.Queue(); q.put(0)", "q.join()")

    def test_priority_get(self):
        self.check("get", "q = pq.PriorityQueue()", "q.get()")

    def test_hook_path_get(self):
        # A subclass overriding a hook runs CPython's algorithm: our
        # Condition.wait is what Ctrl-C interrupts.
        self.check("get", """
            class Q(pq.Queue):
                def _get(self):
                    return super()._get()
            q = Q()
            """, "q.get()")


if __name__ == "__main__":
    unittest.main()
