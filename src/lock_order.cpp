// Debug mode (diagnostics.hpp): who holds each Lock/RLock (and last acquired
// each Semaphore), and the lock-order graph, with its cycle report.
//
// Everything sits behind one internal WordLock; debug mode may be slow. The
// hooks run inside the objects' acquire/release, so they must not acquire a
// pythreading lock themselves (a thread-local flag makes nested hooks return)
// nor ask the thread registry for names (the hook may run while its thread
// holds the registry's own lock): names are the OS's (15 bytes).
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fatal.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/diagnostics.hpp"
#include "threading/errors.hpp"
#include "word_lock.hpp"

namespace threading::detail {

constinit std::atomic<bool> g_debug_locks{false};

namespace {

struct Holder {
  std::uintptr_t ident;
  WaitKind kind;
};
struct EdgeInfo {
  std::uintptr_t ident;  // the thread that first acquired in this order
  std::string name;
};

struct DebugState {
  WordLock lock;
  std::unordered_map<const void*, Holder> holders;
  std::unordered_map<const void*, WaitKind> kinds;
  // Each thread's held Lock/RLocks in acquisition order (pruned lazily: a
  // Lock released by another thread leaves `holders` at once).
  std::unordered_map<std::uintptr_t, std::vector<const void*>> held;
  // A -> B -> who: B acquired while holding A.
  std::unordered_map<const void*, std::unordered_map<const void*, EdgeInfo>> edges;
  WordLock handler_lock;
  LockOrderHandler handler;
};

// Never destroyed: hooks may run while the process exits.
DebugState& state() {
  static DebugState* const s = new DebugState;
  return *s;
}

struct ForkReset {
  ForkReset() {
    // A fork child must not inherit the lock held by a vanished thread.
    int rc = pthread_atfork([] { state().lock.lock(); }, [] { state().lock.unlock(); },
                            [] { state().lock.reset(); });
    if (rc != 0) fatal_os_error("pthread_atfork", rc);
  }
};
ForkReset g_fork_reset;

constinit thread_local bool t_in_hook = false;

struct HookGuard {
  bool entered;
  HookGuard() noexcept : entered(!t_in_hook) { t_in_hook = true; }
  ~HookGuard() {
    if (entered) t_in_hook = false;
  }
};

std::string os_name() {
  if (getpid() == static_cast<pid_t>(get_native_id())) return "MainThread";
  char buf[32] = {0};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return "?";
  return buf;
}

const char* kind_str(WaitKind k) { return k == WaitKind::kRLock ? "RLock" : "Lock"; }

// A path from -> ... -> to in the graph (the nodes, both ends included), or empty.
std::vector<const void*> find_path(DebugState& s, const void* from, const void* to) {
  std::unordered_map<const void*, const void*> parent;
  std::vector<const void*> stack{from};
  parent[from] = nullptr;
  while (!stack.empty()) {
    const void* n = stack.back();
    stack.pop_back();
    if (n == to) {
      std::vector<const void*> path;
      for (const void* p = to; p != nullptr; p = parent[p]) path.push_back(p);
      std::reverse(path.begin(), path.end());
      return path;
    }
    auto it = s.edges.find(n);
    if (it == s.edges.end()) continue;
    for (auto& [next, info] : it->second) {
      if (parent.emplace(next, n).second) stack.push_back(next);
    }
  }
  return {};
}

LockOrderEdge make_edge(DebugState& s, const void* a, const void* b, const EdgeInfo& info) {
  LockOrderEdge e;
  e.held = a;
  e.held_kind = kind_str(s.kinds[a]);
  e.acquired = b;
  e.acquired_kind = kind_str(s.kinds[b]);
  e.thread = info.ident;
  e.thread_name = info.name;
  return e;
}

}  // namespace

std::uintptr_t debug_holder(const void* object) noexcept {
  if (!debug_locks_on()) return 0;
  DebugState& s = state();
  HookGuard guard;
  s.lock.lock();
  auto it = s.holders.find(object);
  std::uintptr_t id = it == s.holders.end() ? 0 : it->second.ident;
  s.lock.unlock();
  return id;
}

void debug_acquired(const void* object, WaitKind kind) noexcept {
  if (t_in_hook) return;
  HookGuard guard;
  DebugState& s = state();
  auto me = static_cast<std::uintptr_t>(pthread_self());
  std::optional<LockOrderReport> report;
  try {
    std::string name;  // looked up only when a new order appears
    s.lock.lock();
    struct Unlock {
      WordLock& l;
      ~Unlock() { l.unlock(); }
    } unlock{s.lock};
    if (kind == WaitKind::kSemaphore) {
      s.holders[object] = Holder{me, kind};
      return;
    }
    std::vector<const void*>& mine = s.held[me];
    std::erase_if(mine, [&](const void* p) {
      auto it = s.holders.find(p);
      return it == s.holders.end() || it->second.ident != me;
    });
    if (std::find(mine.begin(), mine.end(), object) != mine.end()) return;  // noted already
    s.holders[object] = Holder{me, kind};
    s.kinds[object] = kind;
    for (const void* h : mine) {
      auto& out = s.edges[h];
      if (out.count(object) != 0) continue;
      if (name.empty()) name = os_name();
      out.emplace(object, EdgeInfo{me, name});
      if (report) continue;
      // A new order h -> object: a cycle if object already leads back to h.
      std::vector<const void*> path = find_path(s, object, h);
      if (path.empty()) continue;
      report.emplace();
      report->edges.push_back(make_edge(s, h, object, out.at(object)));
      for (std::size_t i = 0; i + 1 < path.size(); ++i) {
        report->edges.push_back(
            make_edge(s, path[i], path[i + 1], s.edges.at(path[i]).at(path[i + 1])));
      }
    }
    mine.push_back(object);
  } catch (...) {
    return;  // out of memory: debug bookkeeping is best effort
  }
  if (!report) return;
  LockOrderHandler handler;
  s.handler_lock.lock();
  try {
    handler = s.handler;
  } catch (...) {
  }
  s.handler_lock.unlock();
  try {
    if (handler) {
      handler(*report);
    } else {
      std::string m = report->message();
      std::fwrite(m.data(), 1, m.size(), stderr);
      std::fflush(stderr);
    }
  } catch (...) {
  }
}

void debug_released(const void* object) noexcept {
  if (t_in_hook) return;
  HookGuard guard;
  DebugState& s = state();
  s.lock.lock();
  auto it = s.holders.find(object);
  if (it != s.holders.end() && it->second.kind != WaitKind::kSemaphore) {
    auto held = s.held.find(it->second.ident);
    if (held != s.held.end()) std::erase(held->second, object);
    s.holders.erase(it);
  }
  s.lock.unlock();
}

}  // namespace threading::detail

namespace threading {

void set_debug_locks(bool on) {
#if !PYTHREADING_DEBUG_LOCKS
  if (on) throw RuntimeError("pythreading was built with PYTHREADING_DEBUG_LOCKS=OFF");
#endif
  auto& s = detail::state();
  if (on && !detail::g_debug_locks.load(std::memory_order_relaxed)) {
    detail::HookGuard guard;
    s.lock.lock();
    s.holders.clear();
    s.kinds.clear();
    s.held.clear();
    s.edges.clear();
    s.lock.unlock();
  }
  detail::g_debug_locks.store(on, std::memory_order_relaxed);
}

bool debug_locks() noexcept { return detail::g_debug_locks.load(std::memory_order_relaxed); }

LockOrderHandler set_lock_order_handler(LockOrderHandler handler) {
  auto& s = detail::state();
  detail::HookGuard guard;
  s.handler_lock.lock();
  std::swap(s.handler, handler);
  s.handler_lock.unlock();
  return handler;  // the previous one, destroyed (if at all) outside the lock
}

std::string LockOrderReport::message() const {
  std::ostringstream o;
  o << "pythreading: lock-order inversion (potential deadlock), " << edges.size()
    << " locks in a cycle:\n";
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const LockOrderEdge& e = edges[i];
    o << "  thread \"" << e.thread_name << "\" (ident=" << e.thread << ") acquired "
      << e.acquired_kind << ' ' << e.acquired << " while holding " << e.held_kind << ' ' << e.held
      << (i == 0 ? "  <- now\n" : "  <- earlier\n");
  }
  return o.str();
}

}  // namespace threading
