// Diagnostics beyond Python: what every thread waits on, deadlock cycles,
// lock-order inversions, and a dump on a signal (as the JVM's `kill -3`).
//
//   threading::dump_threads();                 // to std::cerr
//   std::string s = threading::dump_threads_string();
//   for (auto& cycle : threading::find_deadlocks()) ...   // each a list of threads
//   threading::dump_threads_on_signal(SIGQUIT);          // opt-in
//   threading::set_debug_locks(true);                    // lock-order checks
//
// What is recorded: a thread that blocks in an RLock, Lock, Semaphore,
// Condition, Event, Barrier, Thread::join or a queue records, just before it
// parks, what it waits on, since when and until when; the record is cleared
// when the wait ends. Uncontended operations never touch it.
//
// dump_threads() lists every thread enumerate() knows (main, started,
// dummies), plus any other thread that is blocked in the library, as
//
//   "worker-1" ident=140... native_id=4242 daemon
//       waiting to acquire RLock 0x5581... held by "worker-2" (ident=...) for 1.203 s
//
// and ends with the deadlocks find_deadlocks() finds. Each line is a snapshot
// taken without stopping anyone: a thread may have moved on meanwhile.
//
// find_deadlocks() returns each cycle of the wait-for graph (a thread -> the
// thread holding what it waits for) seen twice, unchanged, in two snapshots.
// The edges: an RLock's owner; the target of Thread::join; a Condition waiter
// that was notified and waits for its lock's holder; in debug mode also the
// holder of a Lock and the last acquirer of a Semaphore (neither has an owner
// by Python's rules). Each cycle starts at its member listed first by
// enumerate(); a blocked thread that has no Thread object is a nullptr.
//
// Debug mode (CMake option PYTHREADING_DEBUG_LOCKS, ON by default, compiles
// the hooks in; set_debug_locks(true) turns them on at run time; off they cost
// one relaxed load per acquire and release, and nothing with the CMake option
// OFF). On, every Lock and RLock acquisition records "B acquired while holding
// A"; the first time an acquisition closes a cycle in that graph (a potential
// deadlock, even if the timing never makes it real) the lock-order handler is
// called once for that cycle. The default handler prints both (all) orders
// with the threads' names on stderr. Locks are told apart by address: a lock
// destroyed and another one built at the same address share a node.
#pragma once

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "threading/thread.hpp"

namespace threading {

// Writes the thread dump (see above) to `out`.
void dump_threads(std::ostream& out = std::cerr);
// The same dump as a string.
std::string dump_threads_string();

// The deadlock cycles right now (empty: none found).
std::vector<std::vector<std::shared_ptr<Thread>>> find_deadlocks();

// From now on, signal `signo` writes a dump to stderr from the signal handler,
// using only async-signal-safe calls (no allocation, no locks: write(2) from
// preallocated buffers). Per OS thread: its kernel id and OS name (the first
// 15 bytes of the Thread's name; the main thread says MainThread) and what it
// waits on, read from the record table. ValueError for a signal that cannot
// be caught (SIGKILL, SIGSTOP, out of range); std::system_error if sigaction fails.
void dump_threads_on_signal(int signo);

// The lock-order debug switch. set_debug_locks(true) forgets what earlier
// debug sessions recorded; RuntimeError if the library was built with
// PYTHREADING_DEBUG_LOCKS=OFF.
void set_debug_locks(bool on);
bool debug_locks() noexcept;

// One "acquired `acquired` while holding `held`" of a lock-order cycle.
struct LockOrderEdge {
  const void* held = nullptr;
  std::string held_kind;  // "Lock" or "RLock"
  const void* acquired = nullptr;
  std::string acquired_kind;
  ident_t thread = 0;       // who first acquired in this order
  std::string thread_name;  // its name then (as the OS knows it: 15 bytes at most)
};
struct LockOrderReport {
  // The acquisition that closed the cycle first, then the earlier orders
  // around the cycle (edges[i].acquired == edges[i+1].held, cyclically).
  std::vector<LockOrderEdge> edges;
  std::string message() const;  // what the default handler prints
};
using LockOrderHandler = std::function<void(const LockOrderReport&)>;
// Installs `handler` (empty: the default, message() to stderr) and returns the
// previous one. The handler runs on the acquiring thread, after the lock was
// acquired; it must not acquire locks in an order that closes another cycle.
LockOrderHandler set_lock_order_handler(LockOrderHandler handler);

}  // namespace threading
