#!/usr/bin/env python3
"""The project's one Python benchmark driver.

    PYTHONPATH=build/python python3 python/pythreading_bench.py [--quick]
        pythreading vs threading, side by side: per operation, nanoseconds for
        threading and for pythreading (best of several runs) and the ratio
        threading/pythreading (above 1: pythreading is faster). --only REGEX
        keeps the cases whose name matches.

    python3.11 python/pythreading_bench.py --json OUT [--reps N]
        CPython's own threading on the cases the C++ suite (bench/) measures,
        named "group/case/cpython" so that scripts/plot_bench.py puts them in
        the C++ table (scripts/bench.sh runs this). Times include the
        interpreter's own overhead: the price a Python program pays.
"""

import argparse
import json
import platform
import re
import resource
import statistics
import sys
import threading
import time

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


def ping_pong(new, give, take):
    """Two threads pass a turn back and forth through two objects made by
    new(mod): give(obj) hands the turn over, take(obj) waits for it."""
    def make(mod):
        def run(n):
            ping, pong = new(mod), new(mod)

            def other():
                for _ in range(n):
                    take(ping)
                    give(pong)

            t = threading.Thread(target=other)
            t.start()
            for _ in range(n):
                give(ping)
                take(pong)
            t.join()
        return run
    return make


def event_take(ev):
    ev.wait()
    ev.clear()


event_handoff = ping_pong(lambda mod: mod.Event(), lambda ev: ev.set(), event_take)
semaphore_handoff = ping_pong(lambda mod: mod.Semaphore(0), lambda s: s.release(),
                              lambda s: s.acquire())


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


# ---- The C++ suite's cases on CPython's threading (--json) ----

ns = time.perf_counter_ns


def per_op(fn, n):
    t0 = ns()
    fn(n)
    return (ns() - t0) / n


def uncontended_cases():
    def lock_loop(factory):
        def run(n):
            lk = factory()
            acq, rel = lk.acquire, lk.release
            for _ in range(n):
                acq()
                rel()
        return run

    def nested(n):
        r = threading.RLock()
        r.acquire()
        acq, rel = r.acquire, r.release
        for _ in range(n):
            acq()
            rel()
        r.release()

    return {
        "uncontended/Lock": lock_loop(threading.Lock),
        "uncontended/TimedLock": lock_loop(threading.Lock),
        "uncontended/RLock": lock_loop(threading.RLock),
        "uncontended/RLock-nested": nested,
        "uncontended/Condition(Lock)": lock_loop(lambda: threading.Condition(threading.Lock())),
        "uncontended/Condition()": lock_loop(threading.Condition),
        "uncontended/Semaphore": lock_loop(threading.Semaphore),
        "uncontended/BoundedSemaphore": lock_loop(threading.BoundedSemaphore),
    }


def contended(nthreads, seconds=0.2):
    lock = threading.Lock()
    stop = False
    counter = [0]
    ops = [0] * nthreads
    gaps = [0] * nthreads
    start = threading.Barrier(nthreads + 1)

    def worker(i):
        start.wait()
        n = 0
        gap = 0
        last = ns()
        while not stop:
            with lock:
                counter[0] += 1
            n += 1
            now = ns()
            if now - last > gap:
                gap = now - last
            last = now
        ops[i] = n
        gaps[i] = gap

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = ns()
    time.sleep(seconds)
    stop = True
    t1 = ns()
    for t in ts:
        t.join()
    total = sum(ops)
    return {
        "ns": (t1 - t0) / total,
        "ops_per_s": total / ((t1 - t0) / 1e9),
        "max_wait_us": max(gaps) / 1e3,
        "fairness": min(ops) / max(ops) if max(ops) else 0.0,
    }


def pingpong(kind, n=2000):
    """Round trips main -> helper -> main; ns per round trip."""
    if kind == "Condition":
        cv = threading.Condition(threading.Lock())
        state = {"turn": 0, "stop": False}

        def serve():
            with cv:
                while True:
                    while state["turn"] != 1 and not state["stop"]:
                        cv.wait()
                    if state["stop"]:
                        return
                    state["turn"] = 0
                    cv.notify()

        def ping():
            with cv:
                state["turn"] = 1
                cv.notify()
                while state["turn"] != 0:
                    cv.wait()

        def finish():
            with cv:
                state["stop"] = True
                cv.notify()
    elif kind == "Event":
        to_helper, to_main = threading.Event(), threading.Event()
        flags = {"stop": False}

        def serve():
            while True:
                to_helper.wait()
                to_helper.clear()
                if flags["stop"]:
                    return
                to_main.set()

        def ping():
            to_helper.set()
            to_main.wait()
            to_main.clear()

        def finish():
            flags["stop"] = True
            to_helper.set()
    else:  # Semaphore
        to_helper, to_main = threading.Semaphore(0), threading.Semaphore(0)
        flags = {"stop": False}

        def serve():
            while True:
                to_helper.acquire()
                if flags["stop"]:
                    return
                to_main.release()

        def ping():
            to_helper.release()
            to_main.acquire()

        def finish():
            flags["stop"] = True
            to_helper.release()

    t = threading.Thread(target=serve)
    t.start()
    t0 = ns()
    for _ in range(n):
        ping()
    t1 = ns()
    finish()
    t.join()
    return (t1 - t0) / n


def notify_n(n, waiters=8):
    cv = threading.Condition(threading.Lock())
    state = {"waiting": 0, "woken": 0}

    def waiter():
        with cv:
            state["waiting"] += 1
            cv.wait()
            state["woken"] += 1

    ts = [threading.Thread(target=waiter) for _ in range(waiters)]
    for t in ts:
        t.start()
    while True:
        with cv:
            if state["waiting"] == waiters:
                break
        time.sleep(0.001)
    with cv:
        cv.notify(n)
    time.sleep(0.02)
    woken = state["woken"]
    with cv:
        cv.notify_all()
    for t in ts:
        t.join()
    return woken


def barrier(parties):
    gens = 2000 if parties <= 2 else 500
    b = threading.Barrier(parties)
    go = threading.Barrier(parties + 1)

    def worker():
        go.wait()
        for _ in range(gens):
            b.wait()

    ts = [threading.Thread(target=worker) for _ in range(parties)]
    for t in ts:
        t.start()
    go.wait()
    t0 = ns()
    for t in ts:
        t.join()
    return (ns() - t0) / gens


def suite_thread_start_join(n=300):
    t0 = ns()
    for _ in range(n):
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
    return (ns() - t0) / n


def timer_start_cancel(n=300):
    t0 = ns()
    for _ in range(n):
        t = threading.Timer(60.0, lambda: None)
        t.start()
        t.cancel()
        t.join()
    return (ns() - t0) / n


def local_get(n):
    loc = threading.local()
    loc.x = 0
    for _ in range(n):
        loc.x += 1


def suite_json(out_path, reps):
    """Times the C++ suite's cases on CPython's threading; writes the JSON scripts/plot_bench.py reads."""
    results = []

    def add(name, samples, unit="ns", **counters):
        # "group/case[/arg:v]" -> "group/case/cpython[/arg:v]", as the C++ suite names rows.
        parts = name.split("/")
        full = "/".join(parts[:2] + ["cpython"] + parts[2:])
        results.append({"name": full, "median_ns": statistics.median(samples),
                        "samples_ns": samples, "unit": unit, "counters": counters})
        print(f"{full:45s} {statistics.median(samples):12.1f} ns  {counters}", flush=True)

    for name, fn in uncontended_cases().items():
        add(name, [per_op(fn, 200_000) for _ in range(reps)])
    for n in (2, 4, 16):
        rs = [contended(n) for _ in range(reps)]
        add(f"contended/Lock/threads:{n}", [r["ns"] for r in rs],
            ops_per_s=statistics.median(r["ops_per_s"] for r in rs),
            max_wait_us=statistics.median(r["max_wait_us"] for r in rs),
            fairness=statistics.median(r["fairness"] for r in rs))
    for kind in ("Condition", "Event", "Semaphore"):
        add(f"handoff/{kind}", [pingpong(kind) for _ in range(reps)])
    for n in (1, 2, 4):
        w = [notify_n(n) for _ in range(reps)]
        add(f"notify_n/Condition/n:{n}", [0.0], woken=max(w), woken_min=min(w), asked=n)
    for p in (2, 8):
        add(f"barrier/Barrier/parties:{p}", [barrier(p) for _ in range(reps)])
    add("thread/start+join", [suite_thread_start_join() for _ in range(reps)])
    add("thread/Timer start+cancel", [timer_start_cancel() for _ in range(reps)])
    add("local/get", [per_op(local_get, 200_000) for _ in range(reps)])

    sizes = {
        "Lock": sys.getsizeof(threading.Lock()),
        "RLock": sys.getsizeof(threading.RLock()),
        "Condition": sys.getsizeof(threading.Condition()),
        "Semaphore": sys.getsizeof(threading.Semaphore()),
        "BoundedSemaphore": sys.getsizeof(threading.BoundedSemaphore()),
        "Event": sys.getsizeof(threading.Event()),
        "Barrier": sys.getsizeof(threading.Barrier(2)),
        "Thread": sys.getsizeof(threading.Thread()),
        "Timer": sys.getsizeof(threading.Timer(1, print)),
        "local<long>": sys.getsizeof(threading.local()),
    }
    out = {
        "context": {"python": sys.version, "implementation": platform.python_implementation(),
                    "machine": platform.machine(), "reps": reps,
                    "note": "sizes are sys.getsizeof (shallow: excludes __dict__ and inner locks)"},
        "benchmarks": results,
        "sizes": sizes,
    }
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)



# ---- pythreading vs threading, side by side (default) ----

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    ap.add_argument("--json", metavar="OUT", help="time the C++ suite's cases on threading only")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per case (--json)")
    ap.add_argument("--only", metavar="REGEX", help="side by side: only the cases whose name matches")
    args = ap.parse_args()
    if args.json:
        suite_json(args.json, args.reps)
        return
    global pythreading
    import pythreading
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
        ("Semaphore hand-off (round trip)", semaphore_handoff, 20_000 // k),
        ("Barrier(2) cycle", barrier_cycles, 20_000 // k),
        ("Thread start+join", thread_start_join, 5_000 // k),
    ]
    print(f"Python {sys.version.split()[0]}; ns per operation, best of {REPEAT}")
    print(f"{'operation':<38}{'threading':>12}{'pythreading':>13}{'ratio':>8}")
    for name, make, n in cases + queue_cases(k):
        if args.only and not re.search(args.only, name):
            continue
        ref = best(make(threading), n)
        ours = best(make(pythreading), n)
        print(f"{name:<38}{ref:>12.0f}{ours:>13.0f}{ref / ours:>8.2f}")
    if SWITCHES:
        (tv, ti), (pv, pi) = SWITCHES["threading"], SWITCHES["pythreading"]
        print("bounded buffer, context switches per item (voluntary + involuntary, last run): "
              f"threading {tv:.3f} + {ti:.3f}, pythreading {pv:.3f} + {pi:.3f}")


if __name__ == "__main__":
    main()
