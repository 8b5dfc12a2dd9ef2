#!/usr/bin/env python3
"""pythreading vs threading, from Python: the same loops over each module.

    PYTHONPATH=build/python python3 python/pythreading_bench.py [--quick]

Prints, per operation, nanoseconds per operation for threading and for
pythreading (best of several runs) and the ratio threading/pythreading
(above 1: pythreading is faster)."""

import resource
import sys
import threading
import time

import pythreading

QUICK = "--quick" in sys.argv
REPEAT = 3 if QUICK else 5


def best(fn, n):
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1e9


def lock_pair(mod, kind):
    lock = getattr(mod, kind)()

    def run(n):
        acquire, release = lock.acquire, lock.release
        for _ in range(n):
            acquire()
            release()
    return run


def with_lock(mod):
    lock = mod.Lock()

    def run(n):
        for _ in range(n):
            with lock:
                pass
    return run


def sem_pair(mod):
    sem = mod.Semaphore(1)

    def run(n):
        acquire, release = sem.acquire, sem.release
        for _ in range(n):
            acquire()
            release()
    return run


def cond_ping_pong(mod):
    def run(n):
        cond = mod.Condition()
        state = [0]  # even: main's turn, odd: the other thread's

        def other():
            with cond:
                for i in range(n):
                    while state[0] != 2 * i + 1:
                        cond.wait()
                    state[0] += 1
                    cond.notify()

        t = threading.Thread(target=other)
        t.start()
        with cond:
            for i in range(n):
                while state[0] != 2 * i:
                    cond.wait()
                state[0] += 1
                cond.notify()
        t.join()
    return run


def event_handoff(mod):
    def run(n):
        ping, pong = mod.Event(), mod.Event()

        def other():
            for _ in range(n):
                ping.wait()
                ping.clear()
                pong.set()

        t = threading.Thread(target=other)
        t.start()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        t.join()
    return run


def barrier_cycles(mod, parties=2):
    def run(n):
        b = mod.Barrier(parties)

        def other():
            for _ in range(n):
                b.wait()

        ts = [threading.Thread(target=other) for _ in range(parties - 1)]
        for t in ts:
            t.start()
        for _ in range(n):
            b.wait()
        for t in ts:
            t.join()
    return run


def notify_no_waiter(mod):
    cond = mod.Condition(mod.Lock())

    def run(n):
        for _ in range(n):
            with cond:
                cond.notify()
    return run


class BoundedBuffer:
    """queue.Queue's design: one Lock, two Conditions over it, a deque."""

    def __init__(self, mod, size):
        import collections
        self.items = collections.deque()
        self.size = size
        self.mutex = mod.Lock()
        self.not_empty = mod.Condition(self.mutex)
        self.not_full = mod.Condition(self.mutex)

    def put(self, item):
        with self.not_full:
            while len(self.items) >= self.size:
                self.not_full.wait()
            self.items.append(item)
            self.not_empty.notify()

    def get(self):
        with self.not_empty:
            while not self.items:
                self.not_empty.wait()
            item = self.items.popleft()
            self.not_full.notify()
            return item


SWITCHES = {}


def bounded_buffer(mod):
    def run(n):
        q = BoundedBuffer(mod, 16)

        def producer():
            for i in range(n):
                q.put(i)

        t = threading.Thread(target=producer)
        before = resource.getrusage(resource.RUSAGE_SELF)
        t.start()
        for _ in range(n):
            q.get()
        t.join()
        after = resource.getrusage(resource.RUSAGE_SELF)
        # Voluntary: a thread went to sleep; involuntary: it was preempted or
        # its sched_yield() let another thread run.
        SWITCHES[mod.__name__] = ((after.ru_nvcsw - before.ru_nvcsw) / n,
                                  (after.ru_nivcsw - before.ru_nivcsw) / n)
    return run


def thread_start_join(mod):
    def noop():
        pass

    def run(n):
        for _ in range(n):
            t = mod.Thread(target=noop)
            t.start()
            t.join()
    return run


# --- pythreading.queue against the standard queue module ---------------------
# One producer thread, the main thread consuming; ns per item. "threading"
# is the standard library's queue module there (queue.Queue is pure Python,
# queue.SimpleQueue is C), "pythreading" is pythreading.queue.

def queue_transfer(cls, maxsize=None):
    def make(mod):
        import queue as std_queue
        import pythreading.queue as our_queue
        qmod = our_queue if mod is pythreading else std_queue

        def run(n):
            q = getattr(qmod, cls)() if maxsize is None else getattr(qmod, cls)(maxsize)

            def producer():
                put = q.put
                for i in range(n):
                    put(i)

            t = threading.Thread(target=producer)
            t.start()
            get = q.get
            for _ in range(n):
                get()
            t.join()
        return run
    return make


def queue_cases(k):
    return [
        ("queue.Queue 1->1, unbounded", queue_transfer("Queue"), 200_000 // k),
        ("queue.Queue 1->1, maxsize 64", queue_transfer("Queue", 64), 200_000 // k),
        ("queue.Queue 1->1, maxsize 1", queue_transfer("Queue", 1), 20_000 // k),
        ("queue.LifoQueue 1->1, maxsize 64", queue_transfer("LifoQueue", 64), 200_000 // k),
        ("queue.PriorityQueue 1->1, unbounded", queue_transfer("PriorityQueue"), 200_000 // k),
        ("queue.SimpleQueue 1->1", queue_transfer("SimpleQueue"), 200_000 // k),
    ]


def main():
    k = 10 if QUICK else 1
    cases = [
        ("Lock acquire+release", lambda m: lock_pair(m, "Lock"), 1_000_000 // k),
        ("with Lock", with_lock, 1_000_000 // k),
        ("RLock acquire+release", lambda m: lock_pair(m, "RLock"), 1_000_000 // k),
        ("Semaphore acquire+release", sem_pair, 1_000_000 // k),
        ("with Condition: notify() (no waiter)", notify_no_waiter, 1_000_000 // k),
        ("Condition ping-pong (round trip)", cond_ping_pong, 20_000 // k),
        ("bounded buffer (queue.Queue-like)", bounded_buffer, 200_000 // k),
        ("Event hand-off (round trip)", event_handoff, 20_000 // k),
        ("Barrier(2) cycle", barrier_cycles, 20_000 // k),
        ("Thread start+join", thread_start_join, 5_000 // k),
    ]
    print(f"Python {sys.version.split()[0]}; ns per operation, best of {REPEAT}")
    print(f"{'operation':<38}{'threading':>12}{'pythreading':>13}{'ratio':>8}")
    for name, make, n in cases + queue_cases(k):
        ref = best(make(threading), n)
        ours = best(make(pythreading), n)
        print(f"{name:<38}{ref:>12.0f}{ours:>13.0f}{ref / ours:>8.2f}")
    if SWITCHES:
        (tv, ti), (pv, pi) = SWITCHES["threading"], SWITCHES["pythreading"]
        print("bounded buffer, context switches per item (voluntary + involuntary, last run): "
              f"threading {tv:.3f} + {ti:.3f}, pythreading {pv:.3f} + {pi:.3f}")


if __name__ == "__main__":
    main()
