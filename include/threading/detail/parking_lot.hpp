// The parking core: every blocking object in pythreading sleeps here.
//
// A global table of wait queues keyed by address (the design of WebKit's
// ParkingLot, Rust's parking_lot_core and CPython 3.13's parking_lot.c). An
// object keeps only a few bits of state in its own atomic word; when a thread
// must block, it parks on the word's address:
//
//   * park() locks the bucket for the key, runs `validate` (which re-reads the
//     object's state under that lock, so a concurrent unpark cannot be lost),
//     and if it returns true enqueues a waiter record that lives on the
//     parking thread's own stack, unlocks the bucket, runs `before_sleep`, and
//     sleeps until unparked or until the absolute monotonic deadline.
//   * unpark_one()/unpark_all()/unpark_requeue() dequeue waiters under the
//     bucket lock, let a callback update the object's state while the queue is
//     still locked, hand each woken thread a token, and wake it.
//   * A waiter whose deadline passes while an unparker is already taking it
//     off the queue waits for that unpark and reports it (never both, never
//     neither): a timed-out wait never swallows a wake-up meant for it.
//
// Callbacks run with a bucket lock held: they must not block or park.
#pragma once

#include <cstddef>
#include <cstdint>

#include "threading/detail/function_ref.hpp"
#include "threading/timeout.hpp"

namespace threading::detail::parking_lot {

using Token = std::uintptr_t;
inline constexpr Token kDefaultToken = 0;

enum class ParkStatus : std::uint8_t {
  kUnparked,  // woken by an unpark; `token` holds what the unparker handed over
  kInvalid,   // validate() returned false; the thread never slept
  kTimedOut,  // the deadline passed and nobody unparked this thread
};

struct ParkResult {
  ParkStatus status;
  Token token;
  bool unparked() const noexcept { return status == ParkStatus::kUnparked; }
};

struct UnparkResult {
  std::size_t unparked_threads = 0;  // how many were woken (or requeued, for requeue)
  std::size_t requeued_threads = 0;
  bool have_more_threads = false;  // waiters left on the key after this unpark
  // True about once a millisecond per bucket: the caller should hand the
  // resource straight to the woken thread (eventual fairness).
  bool be_fair = false;
};

// Whether park() watches its wake flag briefly (spin.hpp) before it sleeps,
// so that a wake-up that comes within a microsecond costs no futex call on
// either side. A caller that has already spun on its own state word
// (LockAlgorithm) passes kNoSpin: no waiter spins in two layers.
enum SpinFirst : bool { kNoSpin = false, kSpin = true };

// Parks the calling thread on `key`.
//   validate      runs under the bucket lock; false => return kInvalid at once.
//   before_sleep  runs after enqueueing, without the bucket lock (e.g. to
//                 release a user lock that a notifier will need).
//   timed_out     runs under the bucket lock when the wait times out:
//                 (key, was_last_waiter_on_key).
//   deadline      nullptr = no limit.
ParkResult park(const void* key, FunctionRef<bool()> validate, FunctionRef<void()> before_sleep,
                FunctionRef<void(const void*, bool)> timed_out, Token park_token,
                const Deadline* deadline, SpinFirst spin = kSpin);

// Simpler overload: no before_sleep/timed_out callbacks.
ParkResult park(const void* key, FunctionRef<bool()> validate, const Deadline* deadline);

// The watch park() makes with kSpin (spin.hpp's ParkSpin, adapted per
// thread), for a caller that watches its own state word first and then parks
// with kNoSpin, so that a wake-up coming meanwhile costs neither side the
// bucket lock. Returns true as soon as done() holds, false if it did not.
bool watch(FunctionRef<bool()> done);

// Wakes the oldest waiter on `key`, if any. `callback` runs under the bucket
// lock, even when nobody was woken (unparked_threads == 0), and returns the
// token given to the woken thread.
UnparkResult unpark_one(const void* key, FunctionRef<Token(UnparkResult)> callback);

// Wakes up to `n` oldest waiters on `key`, FIFO. `callback` runs under the
// bucket lock after they are dequeued and before any is woken; its token goes
// to every woken thread.
UnparkResult unpark_n(const void* key, std::size_t n, FunctionRef<Token(UnparkResult)> callback);

// Wakes every waiter on `key`, handing each `token`. Returns how many.
std::size_t unpark_all(const void* key, Token token = kDefaultToken);

enum class RequeueOp : std::uint8_t {
  kAbort,                 // do nothing
  kUnparkOneRequeueRest,  // wake the oldest, move the rest to `to`
  kRequeueAll,            // move all to `to` (they wake when `to` is unparked)
};

// Takes up to `max_count` of the oldest waiters on `from` and, as `validate`
// decides, wakes the first and/or moves the others to the tail of `to`'s
// queue without waking them (how Condition.notify avoids a thundering herd:
// notified threads wait on the lock, not on the condition). `validate` and
// `callback` run with both buckets locked; `callback`'s token goes to the
// woken thread. A requeued waiter keeps its deadline; when it expires, the
// `timed_out` callback it parked with is called with the new key. With
// from == to the requeued waiters keep their places in the queue (and are
// counted in requeued_threads): a move onto the same key changes nothing.
UnparkResult unpark_requeue(const void* from, const void* to, std::size_t max_count,
                            FunctionRef<RequeueOp()> validate,
                            FunctionRef<Token(RequeueOp, UnparkResult)> callback);

// Number of threads parked on `key` right now (a snapshot; for diagnostics and tests).
std::size_t waiter_count(const void* key);

// Called in the child after fork(): every other thread is gone, so every
// queue is emptied, every bucket lock reset and the OS sleep state of the
// parent's sleepers dropped. Allocates nothing. Registered automatically.
void reinit_after_fork() noexcept;

}  // namespace threading::detail::parking_lot
