#!/usr/bin/env bash
# What a Python user does: `pip install .` into a fresh virtual environment,
# offline (--no-index: the build backend is in the tree, nothing is fetched),
# then use the module from outside the source tree.
#
#   tests/package/pip_install.sh PYTHON     PYTHON: the interpreter to install for
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
python=${1:?usage: pip_install.sh PYTHON}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --no-index --no-cache-dir --disable-pip-version-check \
  --quiet "$src"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import sys
import pythreading as threading
assert threading.__file__.startswith(sys.prefix), threading.__file__
lock, done, seen = threading.Lock(), threading.Event(), []
t = threading.Thread(target=lambda: (done.wait(5.0), seen.append(threading.current_thread().name)),
                     name="worker")
t.start()
with lock:
    done.set()
t.join(5.0)
assert seen == ["worker"] and not lock.locked(), seen
import pythreading.queue
from pythreading import queue
assert queue is pythreading.queue and queue.Empty is __import__("queue").Empty
q = queue.Queue(1)
q.put("item")
assert q.get() == "item"
print("pip install: ok,", threading.__file__)
PY
