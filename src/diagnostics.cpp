// The wait records, the thread dump, deadlock cycles and the signal dump
// (diagnostics.hpp). The lock-order graph of debug mode is in lock_order.cpp.
//
// The record table is a constant-initialised array that is never freed, so
// any thread, and a signal handler, may read any record at any time. Each
// record's fields are atomics; a small spin lock ("pin") makes a description
// consistent and, more importantly, keeps the waiter inside its wait (its
// WaitScope destructor takes the pin) while a reader follows the object
// pointer (an RLock's owner, a Barrier's count, a joined Thread's ident): an
// object is never destroyed while a thread waits on it, so it is alive as
// long as the pin is held. A signal handler only ever try-pins.
#include "threading/diagnostics.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "fatal.hpp"
#include "os/futex.hpp"
#include "os/os_thread.hpp"
#include "threading/barrier.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading::detail {

// lock_order.cpp: the thread that holds `object` (Lock, RLock) or last
// acquired it (Semaphore) in debug mode; 0 if unknown.
std::uintptr_t debug_holder(const void* object) noexcept;

namespace {

struct alignas(64) Record {
  std::atomic<std::uint32_t> used{0};  // 1: claimed by a live thread
  std::atomic<std::uint32_t> pin{0};
  std::atomic<std::uintptr_t> ident{0};
  std::atomic<std::int64_t> native_id{0};
  std::atomic<WaitKind> kind{WaitKind::kNone};
  std::atomic<WaitKind> lock_kind{WaitKind::kNone};
  std::atomic<const void*> object{nullptr};
  std::atomic<const std::atomic<std::uintptr_t>*> owner{nullptr};
  std::atomic<const void*> lock{nullptr};
  std::atomic<const void*> lock_key{nullptr};
  std::atomic<const void*> parked_on{nullptr};
  std::atomic<std::int64_t> since_ns{0};
  std::atomic<std::int64_t> deadline_ns{Deadline::kNever};
};

// More threads than this blocked at once simply go unrecorded.
constexpr std::size_t kRecords = 4096;
constinit Record g_records[kRecords];
constinit std::atomic<std::size_t> g_claim_hint{0};

void pin(Record& r) noexcept {
  for (int i = 0;; ++i) {
    std::uint32_t expected = 0;
    // Acquire/release: pairs with unpin(), so a reader sees the whole description.
    if (r.pin.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return;
    }
    if (i < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}
bool try_pin(Record& r, int attempts) noexcept {
  for (int i = 0; i < attempts; ++i) {
    std::uint32_t expected = 0;
    if (r.pin.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return true;
    }
    cpu_relax();
  }
  return false;
}
void unpin(Record& r) noexcept { r.pin.store(0, std::memory_order_release); }

void release_record(Record* r) noexcept {
  pin(*r);
  r->kind.store(WaitKind::kNone, std::memory_order_relaxed);
  r->ident.store(0, std::memory_order_relaxed);
  r->native_id.store(0, std::memory_order_relaxed);
  r->used.store(0, std::memory_order_release);
  unpin(*r);
}

// The calling thread's record, claimed on its first wait and given back when
// the thread exits, by a pthread key's destructor. Not a C++ thread_local
// destructor: a first wait can come after those have run (in a pthread key
// destructor, e.g. a local<T> value's), and glibc never runs nor frees a
// thread_local destructor registered then (the record stayed claimed for
// good; LeakSanitizer saw the 32-byte registration). A key set in that phase
// gets another destructor round.
constinit thread_local Record* t_record = nullptr;
// Set once the record was given back: waits after that (other key
// destructors) go unrecorded.
constinit thread_local bool t_record_gone = false;
constinit thread_local Record* t_active = nullptr;  // while a WaitScope is open
constinit thread_local const WaitContext* t_context = nullptr;

// Made at the first claim (a wait may come before this file's globals exist).
pthread_key_t record_key() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    int rc = pthread_key_create(&k, [](void* r) {
      t_record_gone = true;
      t_record = nullptr;
      release_record(static_cast<Record*>(r));
    });
    if (rc != 0) fatal_os_error("pthread_key_create", rc);
    return k;
  }();
  return key;
}

Record* my_record() noexcept {
  if (t_record_gone) return nullptr;
  if (t_record != nullptr) return t_record;
  std::size_t start = g_claim_hint.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRecords; ++i) {
    Record& r = g_records[(start + i) % kRecords];
    std::uint32_t expected = 0;
    if (r.used.load(std::memory_order_relaxed) == 0 &&
        r.used.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
      pin(r);
      r.ident.store(static_cast<std::uintptr_t>(pthread_self()), std::memory_order_relaxed);
      r.native_id.store(get_native_id(), std::memory_order_relaxed);
      r.kind.store(WaitKind::kNone, std::memory_order_relaxed);
      unpin(r);
      g_claim_hint.store((start + i + 1) % kRecords, std::memory_order_relaxed);
      if (pthread_setspecific(record_key(), &r) != 0) {  // ENOMEM: cannot give it back
        release_record(&r);
        return nullptr;
      }
      t_record = &r;
      return &r;
    }
  }
  return nullptr;
}

// In a fork child only the forking thread is left: the others' records go.
struct ForkReset {
  ForkReset() {
    int rc = pthread_atfork(nullptr, nullptr, [] {
      auto me = static_cast<std::uintptr_t>(pthread_self());
      for (Record& r : g_records) {
        r.pin.store(0, std::memory_order_relaxed);
        if (r.used.load(std::memory_order_relaxed) != 0 &&
            r.ident.load(std::memory_order_relaxed) != me) {
          r.kind.store(WaitKind::kNone, std::memory_order_relaxed);
          r.ident.store(0, std::memory_order_relaxed);
          r.used.store(0, std::memory_order_relaxed);
        } else if (r.used.load(std::memory_order_relaxed) != 0) {
          r.native_id.store(static_cast<std::int64_t>(os::current_kernel_id()),
                            std::memory_order_relaxed);
        }
      }
    });
    if (rc != 0) fatal_os_error("pthread_atfork", rc);
  }
};
ForkReset g_fork_reset;

}  // namespace

WaitContextScope::WaitContextScope(const WaitContext& context) noexcept : saved_(t_context) {
  t_context = &context;
}
WaitContextScope::~WaitContextScope() { t_context = saved_; }

WaitScope::WaitScope(const WaitContext& context, const Deadline* deadline) noexcept {
  open(context, deadline != nullptr ? deadline->ns : Deadline::kNever);
}

WaitScope::WaitScope(WaitKind kind, const void* object, const Timeout& timeout) noexcept {
  std::int64_t deadline = Deadline::kNever;
  if (!timeout.is_none() && timeout.seconds() == timeout.seconds()) {  // not NaN
    deadline = Deadline::after(timeout.seconds() > 0 ? timeout.seconds() : 0).ns;
  }
  open(WaitContext{kind, object}, deadline);
}

void WaitScope::open(const WaitContext& context, std::int64_t deadline_ns) noexcept {
  if (t_active != nullptr) return;  // nested: the outer scope describes the wait
  Record* r = my_record();
  if (r == nullptr) return;
  const WaitContext& c = t_context != nullptr ? *t_context : context;
  std::int64_t now = Deadline::now_ns();
  pin(*r);
  r->object.store(c.object, std::memory_order_relaxed);
  r->owner.store(c.owner, std::memory_order_relaxed);
  r->lock.store(c.lock, std::memory_order_relaxed);
  r->lock_kind.store(c.lock_kind, std::memory_order_relaxed);
  r->lock_key.store(c.lock_key, std::memory_order_relaxed);
  r->parked_on.store(nullptr, std::memory_order_relaxed);
  r->since_ns.store(now, std::memory_order_relaxed);
  r->deadline_ns.store(deadline_ns, std::memory_order_relaxed);
  r->kind.store(c.kind, std::memory_order_relaxed);
  unpin(*r);
  t_active = r;
  record_ = r;
}

WaitScope::~WaitScope() {
  if (record_ == nullptr) return;
  auto* r = static_cast<Record*>(record_);
  t_active = nullptr;
  // Waits for a reader that follows this record's pointers to finish.
  pin(*r);
  r->kind.store(WaitKind::kNone, std::memory_order_relaxed);
  r->object.store(nullptr, std::memory_order_relaxed);
  unpin(*r);
}

std::atomic<const void*>* parked_key_slot() noexcept {
  Record* r = t_active;
  return r != nullptr ? &r->parked_on : nullptr;
}

namespace {

const char* kind_name(WaitKind k) noexcept {
  switch (k) {
    case WaitKind::kNone:
      return "nothing";
    case WaitKind::kLock:
      return "Lock";
    case WaitKind::kRLock:
      return "RLock";
    case WaitKind::kSemaphore:
      return "Semaphore";
    case WaitKind::kCondition:
      return "Condition";
    case WaitKind::kEvent:
      return "Event";
    case WaitKind::kBarrier:
      return "Barrier";
    case WaitKind::kJoin:
      return "Thread";
    case WaitKind::kQueueGet:
    case WaitKind::kQueuePut:
    case WaitKind::kQueueJoin:
      return "Queue";
  }
  return "?";
}

// One blocked thread, as read from its record.
struct Snap {
  std::uintptr_t ident = 0;
  std::int64_t native_id = 0;
  WaitKind kind = WaitKind::kNone;
  const void* object = nullptr;
  WaitKind lock_kind = WaitKind::kNone;
  const void* lock = nullptr;
  bool notified = false;  // Condition: woken, re-acquiring its lock
  std::int64_t since_ns = 0;
  std::int64_t deadline_ns = Deadline::kNever;
  std::uintptr_t holder = 0;             // the thread it waits for, 0 if none is known
  bool holder_is_last = false;           // holder is a debug-mode "last acquirer"
  std::size_t arrived = 0, parties = 0;  // Barrier
  bool same_wait(const Snap& o) const noexcept {
    return ident == o.ident && kind == o.kind && object == o.object && since_ns == o.since_ns &&
           holder == o.holder && notified == o.notified;
  }
};

// Reads a record; false if it is not a blocked thread. `blocking`: may wait
// for the pin (else try briefly, as a signal handler must).
bool read_record(Record& r, Snap& s, bool blocking) noexcept {
  if (r.used.load(std::memory_order_acquire) == 0) return false;
  if (r.kind.load(std::memory_order_relaxed) == WaitKind::kNone) return false;
  if (blocking) {
    pin(r);
  } else if (!try_pin(r, 1000)) {
    return false;
  }
  s = Snap{};
  s.kind = r.kind.load(std::memory_order_relaxed);
  if (r.used.load(std::memory_order_relaxed) == 0 || s.kind == WaitKind::kNone) {
    unpin(r);
    return false;
  }
  s.ident = r.ident.load(std::memory_order_relaxed);
  s.native_id = r.native_id.load(std::memory_order_relaxed);
  s.object = r.object.load(std::memory_order_relaxed);
  s.lock = r.lock.load(std::memory_order_relaxed);
  s.lock_kind = r.lock_kind.load(std::memory_order_relaxed);
  const void* key = r.lock_key.load(std::memory_order_relaxed);
  s.notified = key != nullptr && r.parked_on.load(std::memory_order_relaxed) == key;
  s.since_ns = r.since_ns.load(std::memory_order_relaxed);
  s.deadline_ns = r.deadline_ns.load(std::memory_order_relaxed);
  // Pinned: the waiter is still inside its wait, so the objects are alive.
  if (const std::atomic<std::uintptr_t>* owner = r.owner.load(std::memory_order_relaxed)) {
    if (s.kind == WaitKind::kRLock || s.notified) s.holder = owner->load(std::memory_order_relaxed);
  }
  if (s.kind == WaitKind::kJoin) {
    s.holder = static_cast<const Thread*>(s.object)->ident().value_or(0);
  } else if (s.kind == WaitKind::kBarrier) {
    auto* b = static_cast<const Barrier*>(s.object);
    s.arrived = b->n_waiting();
    s.parties = b->parties();
  }
  unpin(r);
  if (s.holder == s.ident) s.holder = 0;
  return true;
}

// Every blocked thread; in debug mode the Lock/Semaphore holders too.
std::vector<Snap> snapshot() {
  std::vector<Snap> out;
  for (Record& r : g_records) {
    Snap s;
    if (!read_record(r, s, true)) continue;
    if (s.holder == 0) {
      const void* key = s.kind == WaitKind::kLock || s.kind == WaitKind::kSemaphore ? s.object
                        : s.notified && s.lock_kind == WaitKind::kLock              ? s.lock
                                                                                    : nullptr;
      if (key != nullptr) {
        s.holder = debug_holder(key);
        s.holder_is_last = s.holder != 0;
        if (s.holder == s.ident) s.holder = 0;
      }
    }
    out.push_back(s);
  }
  return out;
}

// Cycles of the wait-for graph (each thread has at most one out-edge).
std::vector<std::vector<std::uintptr_t>> cycles_of(const std::vector<Snap>& snaps) {
  std::unordered_map<std::uintptr_t, const Snap*> by_ident;
  for (const Snap& s : snaps) by_ident[s.ident] = &s;
  std::unordered_map<std::uintptr_t, int> state;  // 1: on the current path, 2: done
  std::vector<std::vector<std::uintptr_t>> cycles;
  for (const Snap& start : snaps) {
    std::vector<std::uintptr_t> path;
    std::uintptr_t cur = start.ident;
    while (state[cur] == 0) {
      state[cur] = 1;
      path.push_back(cur);
      auto it = by_ident.find(cur);
      if (it == by_ident.end() || it->second->holder == 0) break;
      cur = it->second->holder;
    }
    if (state[cur] == 1 && !path.empty()) {
      auto pos = std::find(path.begin(), path.end(), cur);
      if (pos != path.end() && by_ident.count(cur) && by_ident[cur]->holder != 0 &&
          by_ident.count(path.back()) && by_ident[path.back()]->holder == cur) {
        cycles.emplace_back(pos, path.end());
      }
    }
    for (std::uintptr_t id : path) state[id] = 2;
  }
  return cycles;
}

// Cycles present, unchanged, in two snapshots taken one after the other.
std::vector<std::vector<std::uintptr_t>> stable_cycles(const std::vector<Snap>& first) {
  std::vector<std::vector<std::uintptr_t>> cycles = cycles_of(first);
  if (cycles.empty()) return cycles;
  std::vector<Snap> second = snapshot();
  std::vector<std::vector<std::uintptr_t>> out;
  for (auto& c : cycles) {
    bool same = true;
    for (std::uintptr_t id : c) {
      auto a =
          std::find_if(first.begin(), first.end(), [&](const Snap& s) { return s.ident == id; });
      auto b =
          std::find_if(second.begin(), second.end(), [&](const Snap& s) { return s.ident == id; });
      same = same && a != first.end() && b != second.end() && a->same_wait(*b);
    }
    if (same) out.push_back(c);
  }
  return out;
}

struct Known {
  std::vector<std::shared_ptr<Thread>> threads;  // enumerate() order
  std::unordered_map<std::uintptr_t, std::size_t> index;
  Known() : threads(enumerate()) {
    for (std::size_t i = 0; i < threads.size(); ++i) {
      if (auto id = threads[i]->ident()) index.emplace(*id, i);
    }
  }
  std::shared_ptr<Thread> find(std::uintptr_t id) const {
    auto it = index.find(id);
    return it == index.end() ? nullptr : threads[it->second];
  }
  std::size_t rank(std::uintptr_t id) const {
    auto it = index.find(id);
    return it == index.end() ? threads.size() : it->second;
  }
  std::string who(std::uintptr_t id) const {
    std::ostringstream o;
    if (auto t = find(id)) {
      o << '"' << t->name() << "\" (ident=" << id << ')';
    } else {
      o << "thread ident=" << id;
    }
    return o.str();
  }
};

void rotate_to_first(std::vector<std::uintptr_t>& cycle, const Known& known) {
  auto first = std::min_element(
      cycle.begin(), cycle.end(),
      [&](std::uintptr_t a, std::uintptr_t b) { return known.rank(a) < known.rank(b); });
  std::rotate(cycle.begin(), first, cycle.end());
}

std::string seconds(std::int64_t ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string describe(const Snap& s, const Known& known, std::int64_t now) {
  std::ostringstream o;
  o << "waiting ";
  switch (s.kind) {
    case WaitKind::kLock:
    case WaitKind::kRLock:
    case WaitKind::kSemaphore:
      o << "to acquire " << kind_name(s.kind) << ' ' << s.object;
      break;
    case WaitKind::kCondition:
      if (s.notified) {
        o << "on Condition " << s.object << ", notified, re-acquiring its "
          << kind_name(s.lock_kind) << ' ' << s.lock;
      } else {
        o << "on Condition " << s.object << " (lock: " << kind_name(s.lock_kind) << ' ' << s.lock
          << ')';
      }
      break;
    case WaitKind::kEvent:
      o << "on Event " << s.object;
      break;
    case WaitKind::kBarrier:
      o << "on Barrier " << s.object << " (" << s.arrived << " of " << s.parties << " arrived)";
      break;
    case WaitKind::kJoin:
      o << "to join " << known.who(s.holder);
      break;
    case WaitKind::kQueueGet:
      o << "in Queue.get on " << s.object;
      break;
    case WaitKind::kQueuePut:
      o << "in Queue.put on " << s.object;
      break;
    case WaitKind::kQueueJoin:
      o << "in Queue.join on " << s.object;
      break;
    case WaitKind::kNone:
      break;
  }
  if (s.holder != 0 && s.kind != WaitKind::kJoin) {
    o << (s.holder_is_last ? (s.kind == WaitKind::kSemaphore ? " last acquired by " : " held by ")
                           : " held by ")
      << known.who(s.holder);
  }
  o << " for " << seconds(now - s.since_ns);
  if (s.deadline_ns != Deadline::kNever) {
    std::int64_t left = s.deadline_ns - now;
    o << ", timeout in " << seconds(left > 0 ? left : 0);
  }
  return o.str();
}

}  // namespace
}  // namespace threading::detail

namespace threading {

namespace d = detail;

std::string dump_threads_string() {
  std::vector<d::Snap> snaps = d::snapshot();
  d::Known known;
  std::int64_t now = d::Deadline::now_ns();
  std::shared_ptr<Thread> main = main_thread();
  std::ostringstream o;
  auto line = [&](const Thread* t, std::uintptr_t id, std::int64_t nid) {
    const d::Snap* s = nullptr;
    for (const d::Snap& x : snaps) {
      if (x.ident == id) s = &x;
    }
    if (t != nullptr) {
      o << '"' << t->name() << "\" ident=" << id;
      if (auto n = t->native_id()) nid = *n;
    } else {
      o << "(no Thread object) ident=" << id;
    }
    o << " native_id=" << nid;
    if (t == main.get()) o << " main";
    if (t != nullptr && t->daemon()) o << " daemon";
    o << "\n    " << (s != nullptr ? d::describe(*s, known, now) : std::string("running")) << '\n';
  };
  std::size_t extra = 0;
  for (const d::Snap& s : snaps) extra += known.find(s.ident) ? 0 : 1;
  o << "Thread dump (pythreading), " << known.threads.size() + extra << " threads:\n";
  for (auto& t : known.threads) line(t.get(), t->ident().value_or(0), 0);
  for (const d::Snap& s : snaps) {
    if (!known.find(s.ident)) line(nullptr, s.ident, s.native_id);
  }
  auto cycles = d::stable_cycles(snaps);
  for (auto& c : cycles) {
    d::rotate_to_first(c, known);
    o << "Found a deadlock (" << c.size() << " threads):\n";
    for (std::size_t i = 0; i < c.size(); ++i) {
      auto it = std::find_if(snaps.begin(), snaps.end(),
                             [&](const d::Snap& s) { return s.ident == c[i]; });
      o << "  " << known.who(c[i]) << ' ' << d::describe(*it, known, now) << '\n';
    }
  }
  return o.str();
}

void dump_threads(std::ostream& out) {
  out << dump_threads_string();
  out.flush();
}

std::vector<std::vector<std::shared_ptr<Thread>>> find_deadlocks() {
  auto cycles = d::stable_cycles(d::snapshot());
  d::Known known;
  std::vector<std::vector<std::shared_ptr<Thread>>> out;
  for (auto& c : cycles) {
    d::rotate_to_first(c, known);
    std::vector<std::shared_ptr<Thread>> threads;
    for (std::uintptr_t id : c) threads.push_back(known.find(id));
    out.push_back(std::move(threads));
  }
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    auto ra = a.front() ? known.rank(a.front()->ident().value_or(0)) : known.threads.size();
    auto rb = b.front() ? known.rank(b.front()->ident().value_or(0)) : known.threads.size();
    return ra < rb;
  });
  return out;
}

// --- the signal dump: async-signal-safe only ---------------------------------

namespace {

// A fixed buffer flushed to stderr with write(2).
struct SignalWriter {
  char buf[4096] = {};
  std::size_t len = 0;
  void flush() noexcept {
    std::size_t off = 0;
    while (off < len) {
      ssize_t n = ::write(2, buf + off, len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    len = 0;
  }
  void put(char c) noexcept {
    if (len == sizeof buf) flush();
    buf[len++] = c;
  }
  void str(const char* s) noexcept {
    while (*s != 0) put(*s++);
  }
  void num(std::uint64_t v) noexcept {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(tmp[--n]);
  }
  void hex(std::uintptr_t v) noexcept {
    str("0x");
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v != 0);
    while (n > 0) put(tmp[--n]);
  }
  void secs(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    num(static_cast<std::uint64_t>(ns / 1000000000));
    put('.');
    auto ms = static_cast<std::uint64_t>((ns % 1000000000) / 1000000);
    put(static_cast<char>('0' + ms / 100));
    put(static_cast<char>('0' + ms / 10 % 10));
    put(static_cast<char>('0' + ms % 10));
    str(" s");
  }
};

constinit SignalWriter g_sig_out;
constinit std::atomic<bool> g_sig_busy{false};

std::int64_t sig_now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The OS name of thread `tid` (from the OS wall: async-signal-safe).
void sig_name(SignalWriter& w, std::int64_t tid) noexcept {
  char name[32];
  d::os::kernel_thread_name(static_cast<native_id_t>(tid), name, sizeof name);
  w.str(name);
}

d::Record* sig_find(std::int64_t tid, std::uintptr_t ident) noexcept {
  for (d::Record& r : d::g_records) {
    if (r.used.load(std::memory_order_acquire) == 0) continue;
    if ((tid != 0 && r.native_id.load(std::memory_order_relaxed) == tid) ||
        (ident != 0 && r.ident.load(std::memory_order_relaxed) == ident)) {
      return &r;
    }
  }
  return nullptr;
}

void sig_thread(SignalWriter& w, std::int64_t tid, std::int64_t now) noexcept {
  w.put('"');
  sig_name(w, tid);
  w.str("\" native_id=");
  w.num(static_cast<std::uint64_t>(tid));
  d::Record* r = sig_find(tid, 0);
  d::Snap s;
  if (r != nullptr) {
    w.str(" ident=");
    w.num(r->ident.load(std::memory_order_relaxed));
  }
  if (r == nullptr || !d::read_record(*r, s, false)) {
    w.str("\n    running\n");
    return;
  }
  w.str("\n    waiting on ");
  w.str(d::kind_name(s.kind));
  if (s.kind == d::WaitKind::kQueueGet) w.str(".get");
  if (s.kind == d::WaitKind::kQueuePut) w.str(".put");
  if (s.kind == d::WaitKind::kQueueJoin) w.str(".join");
  w.put(' ');
  w.hex(reinterpret_cast<std::uintptr_t>(s.object));
  if (s.kind == d::WaitKind::kCondition) {
    w.str(s.notified ? " (notified, re-acquiring " : " (lock ");
    w.str(d::kind_name(s.lock_kind));
    w.put(' ');
    w.hex(reinterpret_cast<std::uintptr_t>(s.lock));
    w.put(')');
  }
  if (s.kind == d::WaitKind::kBarrier) {
    w.str(" (");
    w.num(s.arrived);
    w.str(" of ");
    w.num(s.parties);
    w.str(" arrived)");
  }
  if (s.holder != 0) {
    w.str(s.kind == d::WaitKind::kJoin ? " (thread ident=" : " held by ident=");
    w.num(s.holder);
    if (d::Record* h = sig_find(0, s.holder)) {
      std::int64_t htid = h->native_id.load(std::memory_order_relaxed);
      w.str(" \"");
      sig_name(w, htid);
      w.put('"');
    }
    if (s.kind == d::WaitKind::kJoin) w.put(')');
  }
  w.str(" for ");
  w.secs(now - s.since_ns);
  if (s.deadline_ns != d::Deadline::kNever) {
    w.str(", timeout in ");
    w.secs(s.deadline_ns - now);
  }
  w.put('\n');
}

void on_dump_signal(int) {
  int saved_errno = errno;
  if (g_sig_busy.exchange(true, std::memory_order_acquire)) return;  // one dump at a time
  SignalWriter& w = g_sig_out;
  std::int64_t now = sig_now_ns();
  w.str("Thread dump (pythreading, on a signal):\n");
  struct Visit {
    SignalWriter* w;
    std::int64_t now;
  } visit{&w, now};
  bool listed = d::os::for_each_kernel_thread(
      [](native_id_t tid, void* context) {
        auto* v = static_cast<Visit*>(context);
        sig_thread(*v->w, static_cast<std::int64_t>(tid), v->now);
      },
      &visit);
  if (!listed) {  // no /proc: the threads that have a record
    for (d::Record& r : d::g_records) {
      if (r.used.load(std::memory_order_acquire) != 0) {
        sig_thread(w, r.native_id.load(std::memory_order_relaxed), now);
      }
    }
  }
  w.flush();
  g_sig_busy.store(false, std::memory_order_release);
  errno = saved_errno;
}

}  // namespace

void dump_threads_on_signal(int signo) {
  if (signo < 1 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
    throw ValueError("signal number out of range");
  }
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = &on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  if (sigaction(signo, &sa, nullptr) != 0) {
    throw std::system_error(errno, std::generic_category(), "sigaction");
  }
}

}  // namespace threading
