"""CPython 3.11's own synchronisation tests (Lib/test/lock_tests.py), run
against pythreading's objects exactly as CPython's test_threading.py runs them
against threading's."""

import unittest

from test import lock_tests

import pythreading


class LockTests(lock_tests.LockTests):
    locktype = staticmethod(pythreading.Lock)


class RLockTests(lock_tests.RLockTests):
    locktype = staticmethod(pythreading.RLock)


class ConditionAsRLockTests(lock_tests.RLockTests):
    # Condition uses an RLock by default and exports its API (ours also
    # forwards _recursion_count(), so CPython's skip of it is not needed).
    locktype = staticmethod(pythreading.Condition)


class ConditionTests(lock_tests.ConditionTests):
    condtype = staticmethod(pythreading.Condition)


class EventTests(lock_tests.EventTests):
    eventtype = staticmethod(pythreading.Event)

    def test_at_fork_reinit(self):
        self.skipTest("pythreading.Event is one atomic word: it has no internal "
                      "_cond Condition for this test to inspect, nor _at_fork_reinit()")


class SemaphoreTests(lock_tests.SemaphoreTests):
    semtype = staticmethod(pythreading.Semaphore)


class BoundedSemaphoreTests(lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(pythreading.BoundedSemaphore)


class BarrierTests(lock_tests.BarrierTests):
    barriertype = staticmethod(pythreading.Barrier)


if __name__ == "__main__":
    unittest.main()
