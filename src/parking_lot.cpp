#include "threading/detail/parking_lot.hpp"

#include <pthread.h>

#include <atomic>

#include "fatal.hpp"
#include "spin.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/interrupt.hpp"
#include "word_lock.hpp"

namespace threading::detail::parking_lot {
namespace {

// A waiter record. It lives on the parked thread's stack for exactly the
// duration of park(): the thread cannot leave park() before `wake` reads 1,
// and an unparker touches the record only until it stores that 1.
// Orderings: `key` is read relaxed wherever a bucket lock is held (the lock
// orders it: it changes only under both bucket locks); only the waiter reads
// it without a lock (lock_waiter_bucket). `wake` carries the hand-over from
// unparker to waiter: wake()'s release exchange pairs with the waiter's
// acquire reads of it, publishing unpark_token and whatever the unparker's
// callback wrote.
struct Waiter {
  std::atomic<const void*> key;  // changes only under both bucket locks (requeue)
  Waiter* next = nullptr;        // guarded by the bucket lock
  bool queued = false;           // guarded by the bucket lock
  Token park_token = 0;
  Token unpark_token = 0;  // written before `wake` is released
  // kAwake -> kSleeping (the waiter, just before it sleeps) -> kUnparked
  // (the unparker); only a sleeping waiter costs the unparker a futex wake.
  std::atomic<std::uint32_t> wake{0};
  // The parked thread's wait record slot (wait_record.hpp), or null.
  std::atomic<const void*>* diag = nullptr;
};

struct alignas(64) Bucket {
  WordLock lock;
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  std::int64_t fair_at_ns = 0;  // next time an unpark should be fair
  std::uint32_t seed = 0;       // xorshift state for jittering fair_at_ns

  void enqueue(Waiter* w) {
    w->next = nullptr;
    w->queued = true;
    if (tail != nullptr) {
      tail->next = w;
    } else {
      head = w;
    }
    tail = w;
  }
  // Unlinks `w` given its predecessor (nullptr if it is the head).
  void unlink(Waiter* prev, Waiter* w) {
    if (prev != nullptr) {
      prev->next = w->next;
    } else {
      head = w->next;
    }
    if (tail == w) tail = prev;
    w->next = nullptr;
    w->queued = false;
  }
  bool has_key(const void* key) const {
    for (Waiter* w = head; w != nullptr; w = w->next) {
      if (w->key.load(std::memory_order_relaxed) == key) return true;  // bucket lock held
    }
    return false;
  }
  // Once a millisecond or so (jittered so unparkers do not fall into step),
  // tell the unparker to hand off directly.
  bool time_to_be_fair() {
    std::int64_t now = Deadline::now_ns();
    if (now < fair_at_ns) return false;
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    if (seed == 0) seed = 0x9E3779B9u;
    fair_at_ns = now + 500000 + (seed % 500000);
    return true;
  }
};

// 512 buckets of one cache line each. Constant-initialised and trivially
// destructible: the table is never torn down, so daemon threads that are
// still parking while the process exits never touch freed memory.
constexpr int kBucketBits = 9;
Bucket g_buckets[1 << kBucketBits];

Bucket& bucket_for(const void* key) {
  auto h = reinterpret_cast<std::uintptr_t>(key) * 0x9E3779B97F4A7C15ull;
  return g_buckets[h >> (64 - kBucketBits)];
}

Bucket& lock_bucket(const void* key) {
  Bucket& b = bucket_for(key);
  b.lock.lock();
  return b;
}

// Locks the bucket of the waiter's current key, which requeue may change.
Bucket& lock_waiter_bucket(Waiter& w) {
  for (;;) {
    // Acquire: pairs with unpark_requeue's release store of the new key. Only
    // a guess: the relaxed re-read under the bucket lock (which orders it)
    // decides.
    const void* key = w.key.load(std::memory_order_acquire);
    Bucket& b = lock_bucket(key);
    if (w.key.load(std::memory_order_relaxed) == key) return b;
    b.lock.unlock();
  }
}

// Locks the buckets of two keys in a fixed order; returns them as (a, b).
void lock_two(Bucket& a, Bucket& b) {
  if (&a == &b) {
    a.lock.lock();
  } else if (&a < &b) {
    a.lock.lock();
    b.lock.lock();
  } else {
    b.lock.lock();
    a.lock.lock();
  }
}
void unlock_two(Bucket& a, Bucket& b) {
  a.lock.unlock();
  if (&a != &b) b.lock.unlock();
}

constexpr std::uint32_t kAwake = 0;
constexpr std::uint32_t kUnparked = 1;
constexpr std::uint32_t kSleeping = 2;

// Wakes a dequeued waiter. Must run after the bucket lock is released; the
// record may vanish the moment `wake` is stored, so nothing reads it after.
// A futex_wake on a dead stack slot is harmless: at worst a spurious wake-up
// for some other sleeper, which every sleep loop here tolerates.
void wake(Waiter* w) {
  // Release: pairs with the waiter's acquire reads of its wake flag
  // (sleep_until_unparked, spin_before_sleep): publishes unpark_token and the
  // object state the unpark callback wrote.
  if (w->wake.exchange(kUnparked, std::memory_order_release) == kSleeping) {
    futex_wake(&w->wake, 1);
  }
}

// The calling thread's InterruptHook (see interrupt.hpp), or null.
thread_local InterruptHook* t_interrupt_hook = nullptr;

// Sleeps until unparked or the deadline passes; returns whether unparked.
// A timed sleep that ends early asks the thread's InterruptHook whether to
// go on (an EINTR from a signal handler is how a runtime's Ctrl-C gets in).
bool sleep_until_unparked(std::atomic<std::uint32_t>& wake_flag, const Deadline* deadline) {
  std::uint32_t s = kAwake;
  // Acquire (also on failure, and in the loads below): pairs with wake()'s
  // release exchange.
  if (!wake_flag.compare_exchange_strong(s, kSleeping, std::memory_order_acquire) &&
      s == kUnparked) {
    return true;  // unparked while we were spinning
  }
  while (wake_flag.load(std::memory_order_acquire) == kSleeping) {
    if (!futex_wait(&wake_flag, kSleeping, deadline)) break;
    if (deadline != nullptr && t_interrupt_hook != nullptr &&
        wake_flag.load(std::memory_order_acquire) == kSleeping &&
        !t_interrupt_hook->keep_waiting()) {
      break;  // reported as a timeout; an unpark racing with it still wins (see park)
    }
  }
  return wake_flag.load(std::memory_order_acquire) == kUnparked;
}

// A parked thread first watches its wake flag briefly (see spin.hpp).
thread_local ParkSpin t_park_spin;

void spin_before_sleep(const std::atomic<std::uint32_t>& wake_flag) {
  t_park_spin.watch([&] { return wake_flag.load(std::memory_order_acquire) == kUnparked; });
}

struct ForkHandlerRegistration {
  ForkHandlerRegistration() {
    // Without it a fork child would inherit locked buckets and dead waiters.
    int rc = pthread_atfork(nullptr, nullptr, [] { reinit_after_fork(); });
    if (rc != 0) fatal_os_error("pthread_atfork", rc);
  }
};
ForkHandlerRegistration g_fork_handler;

}  // namespace

ParkResult park(const void* key, FunctionRef<bool()> validate, FunctionRef<void()> before_sleep,
                FunctionRef<void(const void*, bool)> timed_out, Token park_token,
                const Deadline* deadline, SpinFirst spin) {
  Waiter w;
  w.key.store(key, std::memory_order_relaxed);  // published by the bucket lock (enqueue)
  w.park_token = park_token;
  if ((w.diag = parked_key_slot()) != nullptr) w.diag->store(key, std::memory_order_relaxed);
  {
    Bucket& b = lock_bucket(key);
    if (!validate()) {
      b.lock.unlock();
      return {ParkStatus::kInvalid, 0};
    }
    b.enqueue(&w);
    b.lock.unlock();
  }
  before_sleep();
  if (spin == kSpin) spin_before_sleep(w.wake);
  if (sleep_until_unparked(w.wake, deadline)) return {ParkStatus::kUnparked, w.unpark_token};

  // Timed out. If we are still queued, leave; if an unparker already took us
  // off the queue, its wake-up is on its way: wait for it and report it.
  Bucket& b = lock_waiter_bucket(w);
  if (w.queued) {
    Waiter* prev = nullptr;
    for (Waiter* cur = b.head; cur != &w; cur = cur->next) prev = cur;
    b.unlink(prev, &w);
    const void* current_key = w.key.load(std::memory_order_relaxed);  // bucket lock held
    timed_out(current_key, !b.has_key(current_key));
    b.lock.unlock();
    return {ParkStatus::kTimedOut, 0};
  }
  b.lock.unlock();
  sleep_until_unparked(w.wake, nullptr);
  return {ParkStatus::kUnparked, w.unpark_token};
}

ParkResult park(const void* key, FunctionRef<bool()> validate, const Deadline* deadline) {
  return park(
      key, validate, [] {}, [](const void*, bool) {}, kDefaultToken, deadline);
}

bool watch(FunctionRef<bool()> done) {
  return t_park_spin.watch([&] { return done(); });
}

UnparkResult unpark_n(const void* key, std::size_t n, FunctionRef<Token(UnparkResult)> callback) {
  Bucket& b = lock_bucket(key);
  UnparkResult result;
  Waiter* woken_head = nullptr;
  Waiter* woken_tail = nullptr;
  Waiter* prev = nullptr;
  Waiter* cur = b.head;
  while (cur != nullptr) {
    Waiter* next = cur->next;
    if (cur->key.load(std::memory_order_relaxed) == key) {  // bucket lock held
      if (result.unparked_threads == n) {
        result.have_more_threads = true;
        break;
      }
      b.unlink(prev, cur);
      if (woken_tail != nullptr) {
        woken_tail->next = cur;
      } else {
        woken_head = cur;
      }
      woken_tail = cur;
      ++result.unparked_threads;
    } else {
      prev = cur;
    }
    cur = next;
  }
  if (result.unparked_threads > 0) result.be_fair = b.time_to_be_fair();
  Token token = callback(result);
  for (Waiter* w = woken_head; w != nullptr; w = w->next) w->unpark_token = token;
  b.lock.unlock();
  while (woken_head != nullptr) {
    Waiter* next = woken_head->next;
    wake(woken_head);
    woken_head = next;
  }
  return result;
}

UnparkResult unpark_one(const void* key, FunctionRef<Token(UnparkResult)> callback) {
  return unpark_n(key, 1, callback);
}

std::size_t unpark_all(const void* key, Token token) {
  return unpark_n(key, SIZE_MAX, [token](UnparkResult) { return token; }).unparked_threads;
}

UnparkResult unpark_requeue(const void* from, const void* to, std::size_t max_count,
                            FunctionRef<RequeueOp()> validate,
                            FunctionRef<Token(RequeueOp, UnparkResult)> callback) {
  Bucket& bf = bucket_for(from);
  Bucket& bt = bucket_for(to);
  lock_two(bf, bt);
  UnparkResult result;
  RequeueOp op = validate();
  if (op == RequeueOp::kAbort) {
    unlock_two(bf, bt);
    return result;
  }
  Waiter* woken = nullptr;
  Waiter* prev = nullptr;
  Waiter* cur = bf.head;
  while (cur != nullptr) {
    Waiter* next = cur->next;
    if (cur->key.load(std::memory_order_relaxed) == from) {  // both bucket locks held
      if (result.unparked_threads + result.requeued_threads == max_count) break;
      if (op == RequeueOp::kUnparkOneRequeueRest && woken == nullptr) {
        bf.unlink(prev, cur);
        woken = cur;
        result.unparked_threads = 1;
      } else if (from == to) {
        // Moving onto its own queue changes nothing: the waiter keeps its
        // place (re-enqueueing it at the tail would meet it again, forever).
        prev = cur;
        ++result.requeued_threads;
      } else {
        bf.unlink(prev, cur);
        // Release: pairs with the acquire guess in lock_waiter_bucket.
        cur->key.store(to, std::memory_order_release);
        if (cur->diag != nullptr) cur->diag->store(to, std::memory_order_relaxed);
        bt.enqueue(cur);
        ++result.requeued_threads;
      }
    } else {
      prev = cur;
    }
    cur = next;
  }
  result.have_more_threads = result.requeued_threads > 0;
  if (woken != nullptr) result.be_fair = bf.time_to_be_fair();
  Token token = callback(op, result);
  if (woken != nullptr) woken->unpark_token = token;
  unlock_two(bf, bt);
  if (woken != nullptr) wake(woken);
  return result;
}

std::size_t waiter_count(const void* key) {
  Bucket& b = lock_bucket(key);
  std::size_t n = 0;
  for (Waiter* w = b.head; w != nullptr; w = w->next) {
    if (w->key.load(std::memory_order_relaxed) == key) ++n;  // bucket lock held
  }
  b.lock.unlock();
  return n;
}

void reinit_after_fork() noexcept {
  futex_reinit_after_fork();
  for (Bucket& b : g_buckets) {
    b.lock.reset();
    b.head = nullptr;
    b.tail = nullptr;
  }
}

}  // namespace threading::detail::parking_lot

namespace threading {
InterruptHook* set_interrupt_hook(InterruptHook* hook) noexcept {
  InterruptHook* old = detail::parking_lot::t_interrupt_hook;
  detail::parking_lot::t_interrupt_hook = hook;
  return old;
}
}  // namespace threading
