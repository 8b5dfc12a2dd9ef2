#!/usr/bin/env python3
"""Times CPython's own `threading` on the operations bench/ measures in C++.

Run with CPython 3.11 (scripts/bench.sh does): `python3.11 bench/cpython_bench.py
--out build-bench/results/cpython.json [--reps 5]`. Each case is repeated and
the median kept. Names follow the C++ suite, "group/case/cpython", so
scripts/plot_bench.py can put them in the same table. Times are per
operation in nanoseconds and include the interpreter's own overhead (a
method call costs tens of ns), which is the price a Python program pays.
"""
import argparse
import json
import platform
import statistics
import sys
import threading
import time

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


def thread_start_join(n=300):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    reps = args.reps
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
    add("thread/start+join", [thread_start_join() for _ in range(reps)])
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
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
