"""CPython's own Lib/test/test_queue.py (from the running interpreter's `test`
package) against pythreading.queue. Its test classes take the module under
test from a `queue` class attribute, so each is subclassed here with ours.

Not run: PySimpleQueueTest, which tests `queue._PySimpleQueue` (CPython's
private pure-Python SimpleQueue); its tests all run on our SimpleQueue through
CSimpleQueueTest. The Py*/C* classes of the original run CPython's queue and
are not collected (only the module object `original` is bound here)."""

import unittest

import test.test_queue as original

import pythreading.queue as ours


class QueueTest(original.QueueTest, unittest.TestCase):
    queue = ours


class LifoQueueTest(original.LifoQueueTest, unittest.TestCase):
    queue = ours


class PriorityQueueTest(original.PriorityQueueTest, unittest.TestCase):
    queue = ours


class FailingQueueTest(original.FailingQueueTest, unittest.TestCase):
    queue = ours


class SimpleQueueTest(original.CSimpleQueueTest):
    queue = ours


if __name__ == "__main__":
    unittest.main()
