// What a blocked thread is waiting for, for threading::dump_threads() and
// threading::find_deadlocks() (see diagnostics.hpp).
//
// Each OS thread that ever blocks gets one record in a fixed, never-freed
// table (so a signal handler can read it). A WaitScope fills the record just
// before the thread parks and clears it when the wait ends: the fast paths of
// the objects never touch it. Nested scopes keep the outermost description
// (RLock over its inner Lock, Condition over the lock it re-acquires); a
// WaitContext lets an object name itself cheaply before a slow path that may
// or may not park (RLock's, which parks inside Lock::lock_slow).
//
// The lock-order debug hooks (PYTHREADING_DEBUG_LOCKS) are declared here too:
// when the CMake option is OFF they compile to nothing; when ON and the
// runtime switch is off they cost one relaxed load on acquire and release.
#pragma once

#include <atomic>
#include <cstdint>

#include "threading/timeout.hpp"

#ifndef PYTHREADING_DEBUG_LOCKS
#define PYTHREADING_DEBUG_LOCKS 1
#endif

namespace threading::detail {

enum class WaitKind : std::uint8_t {
  kNone,
  kLock,
  kRLock,
  kSemaphore,
  kCondition,
  kEvent,
  kBarrier,
  kJoin,
  kQueueGet,
  kQueuePut,
  kQueueJoin,
};

// An object's description of itself for the record (see WaitScope).
struct WaitContext {
  WaitKind kind;
  const void* object;
  // RLock: its owner word (the owning thread's ident, 0 when free).
  const std::atomic<std::uintptr_t>* owner = nullptr;
  // Condition: its lock, that lock's kind and the address a notified waiter
  // parks on (the raw Lock's state word).
  const void* lock = nullptr;
  WaitKind lock_kind = WaitKind::kNone;
  const void* lock_key = nullptr;
};

// Names the calling thread's next wait (RAII; a thread-local pointer, no
// record is touched): a WaitScope opened meanwhile describes this instead.
class WaitContextScope {
 public:
  explicit WaitContextScope(const WaitContext& context) noexcept;
  ~WaitContextScope();
  WaitContextScope(const WaitContextScope&) = delete;
  WaitContextScope& operator=(const WaitContextScope&) = delete;

 private:
  const WaitContext* saved_;
};

// Marks the calling thread as waiting (from construction to destruction).
// Construct it on the slow path only, just before parking.
class WaitScope {
 public:
  WaitScope(const WaitContext& context, const Deadline* deadline) noexcept;
  WaitScope(WaitKind kind, const void* object, const Deadline* deadline = nullptr) noexcept
      : WaitScope(WaitContext{kind, object}, deadline) {}
  // Python-style timeout (join): None or NaN = no limit.
  WaitScope(WaitKind kind, const void* object, const Timeout& timeout) noexcept;
  ~WaitScope();
  WaitScope(const WaitScope&) = delete;
  WaitScope& operator=(const WaitScope&) = delete;

 private:
  void open(const WaitContext& context, std::int64_t deadline_ns) noexcept;
  void* record_ = nullptr;  // null: inactive (nested, or the table is full)
};

// For the parking core: the calling thread's "parked on" slot if it is inside
// a WaitScope, else null. park() stores its key there, unpark_requeue() the
// new key (how a notified Condition waiter is seen re-acquiring its lock).
std::atomic<const void*>* parked_key_slot() noexcept;

// --- lock-order debug mode --------------------------------------------------

extern std::atomic<bool> g_debug_locks;  // the runtime switch (set_debug_locks)
void debug_acquired(const void* object, WaitKind kind) noexcept;
void debug_released(const void* object) noexcept;

inline bool debug_locks_on() noexcept {
#if PYTHREADING_DEBUG_LOCKS
  return g_debug_locks.load(std::memory_order_relaxed);
#else
  return false;
#endif
}
// Called after every acquisition attempt with its result; returns it.
inline bool note_acquired(bool ok, const void* object, WaitKind kind) noexcept {
  if (ok && debug_locks_on()) [[unlikely]]
    debug_acquired(object, kind);
  return ok;
}
// Called just before a lock is released (before anyone else can take it).
inline void note_released(const void* object) noexcept {
  if (debug_locks_on()) [[unlikely]]
    debug_released(object);
}

}  // namespace threading::detail
