// pythreading.queue: Queue, LifoQueue, PriorityQueue and SimpleQueue with
// the API and exceptions of Python's `queue` module (see python/README.md).
//
// Two paths, chosen per instance in __init__:
//   * native (Queue, LifoQueue and PriorityQueue whose _init/_qsize/_put/_get
//     are ours, and every SimpleQueue): the items are a C++ deque of owned
//     references (PriorityQueue: a list kept a heap by heapq, whose Python
//     comparisons may release the GIL, so it also holds its heap_lock) and
//     the counters are plain fields, all guarded by the GIL (nothing else in
//     a critical section runs Python code, so it is never released midway).
//     A blocked thread waits on a Lock of its own, queued FIFO, with the GIL
//     released; an arriving item or a freed slot is *granted* to the oldest
//     waiter (handed over, or stored for a putter) before it is woken, so
//     exactly one thread wakes per item and nobody can barge in.
//   * hooks (a subclass overriding a hook): CPython's documented algorithm,
//     a `mutex` and three Conditions over it (ours), calling the hooks.
// A native queue whose CPython internals (`mutex`, `not_empty`, `not_full`,
// `all_tasks_done`, `queue`) are looked at moves to the hook path for good,
// its items into a real deque/list/heap (to_hooks, in queue_hooks.cpp): code
// written for CPython's Queue (`with q.mutex: q.queue.clear()`) works
// unchanged, and a queue nobody looks into keeps the native speed.
//
// The files: queue_object.hpp (the object, the shared helpers and globals,
// the declarations), queue_native.cpp (the native path), queue_hooks.cpp (the
// hook path and the move), queue_methods.cpp (the Python methods and
// attributes), and this one (object life, type specs, SimpleQueue's type,
// init_queue).
#include <climits>

#include "queue_object.hpp"

namespace pythreading_py {
namespace queue_impl {

PyObject* g_empty = nullptr;      // queue.Empty
PyObject* g_full = nullptr;       // queue.Full
PyObject* g_shut_down = nullptr;  // queue.ShutDown (3.13+), else nullptr
PyObject* g_deque = nullptr;      // collections.deque
PyObject* g_heappush = nullptr;   // heapq.heappush / heappop
PyObject* g_heappop = nullptr;
PyObject* g_condition = nullptr;  // pythreading.Condition
PyTypeObject* g_queue_type = nullptr;
PyTypeObject* g_lifo_type = nullptr;
PyTypeObject* g_priority_type = nullptr;

namespace {

#define METH_CAST(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f))

// --- object life --------------------------------------------------------------

PyObject* queue_new(PyTypeObject* type, PyObject*, PyObject*) {
  auto* q = reinterpret_cast<QueueObject*>(type->tp_alloc(type, 0));
  if (q == nullptr) return nullptr;
  try {
    q->items = new std::deque<PyObject*>();
    q->getters = new std::deque<Waiter*>();
    q->putters = new std::deque<Waiter*>();
    q->joiners = new std::deque<Waiter*>();
    q->heap_lock = new threading::Lock();
  } catch (...) {
    Py_DECREF(q);
    return raise_current();
  }
  q->kind = PyType_IsSubtype(type, g_lifo_type)                               ? Kind::kLifo
            : g_queue_type != nullptr && PyType_IsSubtype(type, g_queue_type) ? Kind::kFifo
                                                                              : Kind::kSimple;
  if (g_priority_type != nullptr && PyType_IsSubtype(type, g_priority_type)) {
    q->kind = Kind::kPriority;
    q->heap = PyList_New(0);
    if (q->heap == nullptr) {
      Py_DECREF(q);
      return nullptr;
    }
  }
  return reinterpret_cast<PyObject*>(q);
}

void drop_items(QueueObject* q) {
  if (q->heap != nullptr) {
    Ref old(q->heap);
    q->heap = PyList_New(0);  // nullptr (no memory) is tolerated: size reads check it
    if (q->heap == nullptr) PyErr_Clear();
  }
  if (q->items == nullptr) return;
  std::deque<PyObject*> dropped;
  dropped.swap(*q->items);
  for (PyObject* item : dropped) Py_DECREF(item);
}

int queue_traverse(PyObject* o, visitproc visit, void* arg) {
  QueueObject* q = qcast(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(q->dict);
  Py_VISIT(q->heap);
  for (PyObject* v : q->internals) Py_VISIT(v);
  if (q->items != nullptr) {
    for (PyObject* item : *q->items) Py_VISIT(item);
  }
  return 0;
}

int queue_clear(PyObject* o) {
  QueueObject* q = qcast(o);
  Py_CLEAR(q->dict);
  for (PyObject*& v : q->internals) Py_CLEAR(v);
  drop_items(q);
  return 0;
}

void queue_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  QueueObject* q = qcast(o);
  if (q->weakrefs != nullptr) PyObject_ClearWeakRefs(o);
  queue_clear(o);
  Py_CLEAR(q->heap);
  delete q->heap_lock;
  delete q->items;
  delete q->getters;
  delete q->putters;
  delete q->joiners;
  type->tp_free(o);
  Py_DECREF(type);
}

// True when `type` resolves each hook to what `base` has: the native path.
int same_hooks(PyTypeObject* type, PyTypeObject* base) {
  static const char* const hooks[] = {"_init", "_qsize", "_put", "_get"};
  for (const char* name : hooks) {
    Ref mine(PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), name));
    Ref theirs(PyObject_GetAttrString(reinterpret_cast<PyObject*>(base), name));
    if (!mine || !theirs) return -1;
    if (mine.get() != theirs.get()) return 0;
  }
  return 1;
}

int queue_init(PyObject* o, PyObject* args, PyObject* kwargs) {
  static const char* const names[] = {"maxsize"};
  PyObject* maxsize_obj;
  if (!parse_tuple_args("Queue.__init__", names, 1, 1, args, kwargs, &maxsize_obj)) return -1;
  QueueObject* q = qcast(o);
  long long maxsize = 0;
  if (maxsize_obj != nullptr) {
    int overflow;
    if (!index_arg(maxsize_obj, &maxsize, &overflow)) return -1;
    if (overflow) maxsize = overflow > 0 ? LLONG_MAX : -1;
  }
  if (!q->getters->empty() || !q->putters->empty() || !q->joiners->empty()) {
    PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise a queue that has waiting threads");
    return -1;
  }
  drop_items(q);
  for (PyObject*& v : q->internals) Py_CLEAR(v);
  q->maxsize = maxsize;
  q->unfinished = 0;
  q->shutdown = false;
  PyTypeObject* type = Py_TYPE(o);
  q->reserved = 0;
  PyTypeObject* base = q->kind == Kind::kLifo       ? g_lifo_type
                       : q->kind == Kind::kPriority ? g_priority_type
                                                    : g_queue_type;
  int native = same_hooks(type, base);
  if (native < 0) return -1;
  q->hooks = !native;
  if (!q->hooks) return 0;
  // The hook path: CPython's attributes, then the subclass's _init.
  Ref mutex(PyObject_CallNoArgs(reinterpret_cast<PyObject*>(g_lock_type)));
  if (!mutex || PyObject_SetAttrString(o, "mutex", mutex.get()) < 0) return -1;
  for (const char* name : {"not_empty", "not_full", "all_tasks_done"}) {
    Ref cond(PyObject_CallOneArg(g_condition, mutex.get()));
    if (!cond || PyObject_SetAttrString(o, name, cond.get()) < 0) return -1;
  }
  Ref r(PyObject_CallMethod(o, "_init", "L", maxsize));
  return r ? 0 : -1;
}

PyMethodDef queue_methods[] = {
    {"put", METH_CAST(queue_put), METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, item, block=True, timeout=None)\n--\n\nPut an item into the queue; on a "
     "full bounded queue wait for room (at most `timeout` seconds), or raise Full."},
    {"put_nowait", METH_CAST(queue_put_nowait), METH_FASTCALL | METH_KEYWORDS,
     "put_nowait($self, /, item)\n--\n\nput(item, False)."},
    {"get", METH_CAST(queue_get), METH_FASTCALL | METH_KEYWORDS,
     "get($self, /, block=True, timeout=None)\n--\n\nRemove and return an item; wait for one "
     "(at most `timeout` seconds), or raise Empty."},
    {"get_nowait", queue_get_nowait, METH_NOARGS, "get_nowait($self, /)\n--\n\nget(False)."},
    {"qsize", queue_qsize, METH_NOARGS, "qsize($self, /)\n--\n\nThe number of items (a snapshot)."},
    {"empty", queue_empty, METH_NOARGS, "empty($self, /)\n--\n\nTrue if no item is queued now."},
    {"full", queue_full, METH_NOARGS, "full($self, /)\n--\n\nTrue if a bounded queue is full now."},
    {"task_done", queue_task_done, METH_NOARGS,
     "task_done($self, /)\n--\n\nMark one gotten item as processed (for join())."},
    {"join", queue_join, METH_NOARGS,
     "join($self, /)\n--\n\nWait until every item put has been marked by task_done()."},
#if PY_VERSION_HEX >= 0x030D0000
    {"shutdown", METH_CAST(queue_shutdown), METH_FASTCALL | METH_KEYWORDS,
     "shutdown($self, /, immediate=False)\n--\n\nRefuse further puts (ShutDown); gets drain "
     "what is left, or fail at once if `immediate`; blocked callers wake."},
#endif
    {"_init", deque_init_hook, METH_O, "Hook: set up the storage."},
    {"_qsize", hook_qsize_m, METH_NOARGS, "Hook: the number of items."},
    {"_put", fifo_put_hook, METH_O, "Hook: store one item."},
    {"_get", fifo_get_hook, METH_NOARGS, "Hook: remove and return the next item."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585."},
    {nullptr, nullptr, 0, nullptr}};

PyMethodDef lifo_methods[] = {
    {"_init", list_init_hook, METH_O, "Hook: set up the storage."},
    {"_get", lifo_get_hook, METH_NOARGS, "Hook: remove and return the newest item."},
    {nullptr, nullptr, 0, nullptr}};

PyMethodDef priority_methods[] = {
    {"_init", list_init_hook, METH_O, "Hook: set up the heap."},
    {"_put", heap_put_hook, METH_O, "Hook: push one item on the heap."},
    {"_get", heap_get_hook, METH_NOARGS, "Hook: pop the lowest item."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef queue_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"maxsize", get_maxsize, set_maxsize, "The bound (<= 0: unbounded).", nullptr},
    {"unfinished_tasks", get_unfinished, set_unfinished, "Items put and not yet task_done().",
     nullptr},
    {"mutex", get_internal, set_internal,
     "CPython's Queue.mutex (our Lock); looking moves the queue to CPython's algorithm.",
     reinterpret_cast<void*>(kMutex)},
    {"not_empty", get_internal, set_internal, "CPython's Queue.not_empty (a Condition over mutex).",
     reinterpret_cast<void*>(kNotEmpty)},
    {"not_full", get_internal, set_internal, "CPython's Queue.not_full (a Condition over mutex).",
     reinterpret_cast<void*>(kNotFull)},
    {"all_tasks_done", get_internal, set_internal,
     "CPython's Queue.all_tasks_done (a Condition over mutex).",
     reinterpret_cast<void*>(kAllTasksDone)},
    {"queue", get_internal, set_internal,
     "CPython's Queue.queue: the items (a deque; a list for LifoQueue, a heap for PriorityQueue).",
     reinterpret_cast<void*>(kStore)},
#if PY_VERSION_HEX >= 0x030D0000
    {"is_shutdown", get_is_shutdown, nullptr, "True once shutdown() was called.", nullptr},
#endif
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef queue_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(QueueObject, dict), READONLY, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(QueueObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot queue_slots[] = {
    {Py_tp_doc, const_cast<char*>("Queue(maxsize=0)\n--\n\nA FIFO queue for threads; maxsize <= 0 "
                                  "is unbounded.")},
    {Py_tp_new, reinterpret_cast<void*>(queue_new)},
    {Py_tp_init, reinterpret_cast<void*>(queue_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(queue_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {Py_tp_methods, queue_methods},
    {Py_tp_getset, queue_getset},
    {Py_tp_members, queue_members},
    {0, nullptr}};

PyType_Spec queue_spec = {"pythreading.queue.Queue", sizeof(QueueObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                          queue_slots};

PyType_Slot lifo_slots[] = {
    {Py_tp_doc, const_cast<char*>("LifoQueue(maxsize=0)\n--\n\nA LIFO queue (a stack) for "
                                  "threads.")},
    {Py_tp_methods, lifo_methods},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {0, nullptr}};

PyType_Spec lifo_spec = {"pythreading.queue.LifoQueue", sizeof(QueueObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, lifo_slots};

PyType_Slot priority_slots[] = {
    {Py_tp_doc, const_cast<char*>("PriorityQueue(maxsize=0)\n--\n\nA queue that returns the "
                                  "lowest item first (heapq order).")},
    {Py_tp_methods, priority_methods},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {0, nullptr}};

PyType_Spec priority_spec = {"pythreading.queue.PriorityQueue", sizeof(QueueObject), 0,
                             Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                             priority_slots};

// --- SimpleQueue ----------------------------------------------------------------

PyTypeObject* g_simple_type = nullptr;

PyObject* simple_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  // CPython's SimpleQueue() takes no arguments (its subclasses may).
  if (type == g_simple_type &&
      !parse_tuple_args("SimpleQueue", nullptr, 0, 0, args, kwargs, nullptr)) {
    return nullptr;
  }
  return queue_new(type, args, kwargs);
}

PyMethodDef simple_methods[] = {
    {"put", METH_CAST(simple_put), METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, item, block=True, timeout=None)\n--\n\nPut an item (never waits: the "
     "arguments block and timeout are accepted and ignored)."},
    {"put_nowait", METH_CAST(simple_put_nowait), METH_FASTCALL | METH_KEYWORDS,
     "put_nowait($self, /, item)\n--\n\nput(item)."},
    {"get", METH_CAST(simple_get), METH_FASTCALL | METH_KEYWORDS,
     "get($self, /, block=True, timeout=None)\n--\n\nRemove and return the oldest item; wait for "
     "one (at most `timeout` seconds), or raise Empty."},
    {"get_nowait", simple_get_nowait, METH_NOARGS, "get_nowait($self, /)\n--\n\nget(False)."},
    {"qsize", queue_qsize, METH_NOARGS, "qsize($self, /)\n--\n\nThe number of items (a snapshot)."},
    {"empty", queue_empty, METH_NOARGS, "empty($self, /)\n--\n\nTrue if no item is queued now."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef simple_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot simple_slots[] = {
    {Py_tp_doc, const_cast<char*>("SimpleQueue()\n--\n\nAn unbounded FIFO queue without task "
                                  "tracking.")},
    {Py_tp_new, reinterpret_cast<void*>(simple_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(queue_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(queue_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(queue_clear)},
    {Py_tp_methods, simple_methods},
    {Py_tp_getset, simple_getset},
    {Py_tp_members, queue_members},
    {0, nullptr}};

PyType_Spec simple_spec = {"pythreading.queue.SimpleQueue", sizeof(QueueObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                           simple_slots};

bool import_attr(const char* module, const char* name, PyObject** out) {
  Ref m(PyImport_ImportModule(module));
  if (!m) return false;
  *out = PyObject_GetAttrString(m.get(), name);  // kept for the process
  return *out != nullptr;
}

}  // namespace
}  // namespace queue_impl

// pythreading.queue: a submodule object, also registered in sys.modules so
// that `import pythreading.queue` finds it once pythreading is imported.
bool init_queue(PyObject* m) {
  using namespace queue_impl;
  if (!import_attr("queue", "Empty", &g_empty) || !import_attr("queue", "Full", &g_full) ||
      !import_attr("collections", "deque", &g_deque) ||
      !import_attr("heapq", "heappush", &g_heappush) ||
      !import_attr("heapq", "heappop", &g_heappop)) {
    return false;
  }
#if PY_VERSION_HEX >= 0x030D0000
  if (!import_attr("queue", "ShutDown", &g_shut_down)) return false;
#endif
  g_condition = PyObject_GetAttrString(m, "Condition");
  if (g_condition == nullptr) return false;
  Ref sub(PyModule_New("pythreading.queue"));
  if (!sub) return false;
  if (PyModule_AddStringConstant(sub.get(), "__doc__",
                                 "Python's queue module implemented by pythreading: Queue, "
                                 "LifoQueue, PriorityQueue, SimpleQueue.") < 0) {
    return false;
  }
  PyObject* qt = PyType_FromSpec(&queue_spec);
  if (qt == nullptr) return false;
  g_queue_type = reinterpret_cast<PyTypeObject*>(qt);
  Ref bases(PyTuple_Pack(1, qt));
  if (!add_type(sub.get(), "Queue", Py_NewRef(qt)) || !bases) return false;
  PyObject* lt = PyType_FromSpecWithBases(&lifo_spec, bases.get());
  if (lt == nullptr) return false;
  g_lifo_type = reinterpret_cast<PyTypeObject*>(lt);
  if (!add_type(sub.get(), "LifoQueue", Py_NewRef(lt))) return false;
  PyObject* pt = PyType_FromSpecWithBases(&priority_spec, bases.get());
  if (pt == nullptr) return false;
  g_priority_type = reinterpret_cast<PyTypeObject*>(pt);
  if (!add_type(sub.get(), "PriorityQueue", Py_NewRef(pt))) return false;
  PyObject* st = PyType_FromSpec(&simple_spec);
  if (st == nullptr) return false;
  g_simple_type = reinterpret_cast<PyTypeObject*>(st);
  if (!add_type(sub.get(), "SimpleQueue", Py_NewRef(st))) return false;
  if (PyModule_AddObject(sub.get(), "Empty", Py_NewRef(g_empty)) < 0 ||
      PyModule_AddObject(sub.get(), "Full", Py_NewRef(g_full)) < 0) {
    return false;
  }
  if (g_shut_down != nullptr &&
      PyModule_AddObject(sub.get(), "ShutDown", Py_NewRef(g_shut_down)) < 0) {
    return false;
  }
  Ref all(g_shut_down != nullptr ? Py_BuildValue("[sssssss]", "Empty", "Full", "ShutDown", "Queue",
                                                 "PriorityQueue", "LifoQueue", "SimpleQueue")
                                 : Py_BuildValue("[ssssss]", "Empty", "Full", "Queue",
                                                 "PriorityQueue", "LifoQueue", "SimpleQueue"));
  if (!all || PyModule_AddObject(sub.get(), "__all__", all.release()) < 0) return false;
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyDict_SetItemString(modules, "pythreading.queue", sub.get()) < 0) return false;
  return PyModule_AddObject(m, "queue", sub.release()) == 0;
}

}  // namespace pythreading_py
