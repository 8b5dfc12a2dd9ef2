#include "threading/queue.hpp"

#include <cmath>

#include "threading/detail/parking_lot.hpp"
#include "threading/detail/queue_core.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading::queue::detail {

namespace pl = threading::detail::parking_lot;

void WaitList::push_back(Waiter* w) noexcept {
  w->next = nullptr;
  w->prev = tail;
  if (tail != nullptr) {
    tail->next = w;
  } else {
    head = w;
  }
  tail = w;
  w->listed = true;
}

void WaitList::unlink(Waiter* w) noexcept {
  if (w->prev != nullptr) {
    w->prev->next = w->next;
  } else {
    head = w->next;
  }
  if (w->next != nullptr) {
    w->next->prev = w->prev;
  } else {
    tail = w->prev;
  }
  w->next = w->prev = nullptr;
  w->listed = false;
}

void QueueCore::grant(WaitList& list, std::uint32_t outcome) noexcept {
  Waiter* w = list.head;
  list.unlink(w);
  bump(counter(list), -1);
  bump(wakeups_, 1);
  w->outcome = outcome;
  w->wake_next = wake_chain_;
  wake_chain_ = w;
}

void QueueCore::rebalance() noexcept {
  while (!getters_.empty() && item_free()) {
    ++reserved_get_;
    grant(getters_, kGranted);
  }
  while (!putters_.empty() && slot_free()) {
    ++reserved_put_;
    grant(putters_, kGranted);
  }
}

void QueueCore::unlock() noexcept {
  Waiter* chain = wake_chain_;
  wake_chain_ = nullptr;
  mutex_.unlock();
  // The chain was built newest first; wake oldest first so FIFO order holds
  // for the wake-ups too (reverse in place: only this thread owns it).
  Waiter* ordered = nullptr;
  while (chain != nullptr) {
    Waiter* next = chain->wake_next;
    chain->wake_next = ordered;
    ordered = chain;
    chain = next;
  }
  while (ordered != nullptr) {
    Waiter* next = ordered->wake_next;  // read before the record can vanish
    publish(*ordered);
    ordered = next;
  }
}

void QueueCore::publish(Waiter& w) noexcept {
  const std::uint32_t outcome = w.outcome;
  std::uint32_t expected = kWaiting;
  // Release: pairs with the waiter's acquire loads of its state. Success: the
  // waiter had not committed to sleeping, so it sees this store (its
  // validate's compare-exchange fails); done. Failure (relaxed) reads
  // kParked, stored in validate under the bucket lock before the waiter was
  // enqueued, so the unpark below finds it queued, or, if it timed out and
  // left, the store made under the bucket lock is what its next validate or
  // load reads.
  if (w.state.compare_exchange_strong(expected, outcome, std::memory_order_release,
                                      std::memory_order_relaxed)) {
    return;
  }
  pl::unpark_one(&w.state, [&w, outcome](pl::UnparkResult) -> pl::Token {
    // Release: as above. After this store nothing touches the record or the queue.
    w.state.store(outcome, std::memory_order_release);
    return pl::kDefaultToken;
  });
}

std::atomic<std::size_t>& QueueCore::counter(WaitList& list) noexcept {
  return &list == &getters_ ? n_getters_ : &list == &putters_ ? n_putters_ : n_joiners_;
}

namespace {

bool is_outcome(std::uint32_t s) noexcept {
  return s != QueueCore::kWaiting && s != QueueCore::kParked;
}

// park()'s validate: commit to sleeping unless an outcome came. Relaxed: runs
// under the bucket lock, which orders it with publish()'s unpark callback; a
// publish() whose compare-exchange read kParked locks the bucket after this.
bool commit_to_park(std::atomic<std::uint32_t>& state) noexcept {
  std::uint32_t s = QueueCore::kWaiting;
  return state.compare_exchange_strong(s, QueueCore::kParked, std::memory_order_relaxed) ||
         s == QueueCore::kParked;
}

// Parks on the record's state until an outcome arrives or the deadline
// passes; the watch is done by the caller.
pl::ParkResult park_on(std::atomic<std::uint32_t>& state, const Deadline* deadline) {
  return pl::park(
      &state, [&state] { return commit_to_park(state); }, [] {}, [](const void*, bool) {},
      pl::kDefaultToken, deadline, pl::kNoSpin);
}

}  // namespace

std::uint32_t QueueCore::wait(WaitList& list, Waiter& w, const Deadline* deadline) {
  using threading::detail::WaitKind;
  threading::detail::WaitScope scope{&list == &getters_   ? WaitKind::kQueueGet
                                     : &list == &putters_ ? WaitKind::kQueuePut
                                                          : WaitKind::kQueueJoin,
                                     this, deadline};
  list.push_back(&w);
  bump(counter(list), 1);
  unlock();
  // Acquire (every load of the state below): pairs with publish()'s release.
  pl::watch([&w] { return w.state.load(std::memory_order_acquire) != kWaiting; });
  std::uint32_t s;
  for (;;) {
    pl::ParkResult r = park_on(w.state, deadline);
    if (is_outcome(s = w.state.load(std::memory_order_acquire))) break;
    if (r.status != pl::ParkStatus::kTimedOut) continue;  // spurious
    lock();
    if (w.listed) {
      list.unlink(&w);
      bump(counter(list), -1);
      return kWaiting;
    }
    // Granted just as the deadline passed: the outcome is on its way (through
    // the bucket: the record is kParked); take it.
    mutex_.unlock();
    while (!is_outcome(s = w.state.load(std::memory_order_acquire))) park_on(w.state, nullptr);
    break;
  }
  if (s != kHanded) lock();
  return s;
}

Acquired QueueCore::acquire_item(bool block, const Deadline* deadline, void* slot) {
  lock();
  if (item_free()) return Acquired::kOk;
  if (shutdown_.load(std::memory_order_relaxed)) {
    unlock();
    return Acquired::kShutDown;
  }
  if (!block || (deadline != nullptr && deadline->expired())) {
    unlock();
    return Acquired::kUnavailable;
  }
  Waiter w;
  w.slot = slot;
  std::uint32_t s = wait(getters_, w, deadline);
  if (s == kHanded) return Acquired::kHanded;
  if (s == kGranted) {
    --reserved_get_;
    // An immediate shutdown may have cleared the item granted to us.
    if (item_free()) return Acquired::kOk;
    unlock();
    return Acquired::kShutDown;
  }
  unlock();
  return s == kShutDown ? Acquired::kShutDown : Acquired::kUnavailable;
}

Acquired QueueCore::acquire_slot(bool block, const Deadline* deadline, void* offer,
                                 bool offer_moves) {
  lock();
  if (shutdown_.load(std::memory_order_relaxed)) {
    unlock();
    return Acquired::kShutDown;
  }
  if (slot_free()) return Acquired::kOk;
  if (!block || (deadline != nullptr && deadline->expired())) {
    unlock();
    return Acquired::kUnavailable;
  }
  Waiter w;
  w.slot = offer;
  w.offer_moves = offer_moves;
  std::uint32_t s = wait(putters_, w, deadline);
  if (s == kHanded) return Acquired::kHanded;
  if (s == kGranted) {
    --reserved_put_;
    if (!shutdown_.load(std::memory_order_relaxed)) return Acquired::kOk;
    rebalance();
    unlock();
    return Acquired::kShutDown;
  }
  unlock();
  return s == kShutDown ? Acquired::kShutDown : Acquired::kUnavailable;
}

void QueueCore::item_taken() noexcept {
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  rebalance();
}

void QueueCore::item_added(bool count_task) noexcept {
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (count_task) ++unfinished_;
  rebalance();
}

void QueueCore::handed_off(bool count_task) noexcept {
  if (count_task) ++unfinished_;
  grant(getters_, kHanded);
  // The slot this put acquired stays free: it may be owed to a blocked putter.
  rebalance();
}

void QueueCore::item_replaced(bool count_task) noexcept {
  if (count_task) ++unfinished_;
  grant(putters_, kHanded);
  rebalance();
}

void QueueCore::item_returned() noexcept {
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  rebalance();
}

void QueueCore::task_done() {
  lock();
  if (unfinished_ == 0) {
    unlock();
    throw ValueError("task_done() called too many times");
  }
  if (--unfinished_ == 0) {
    while (!joiners_.empty()) grant(joiners_, kDone);
  }
  unlock();
}

void QueueCore::join() {
  lock();
  if (unfinished_ != 0) {
    Waiter w;
    wait(joiners_, w, nullptr);
  }
  unlock();
}

void QueueCore::shutdown_locked(bool immediate, std::size_t removed) noexcept {
  shutdown_.store(true, std::memory_order_relaxed);
  if (immediate) {
    size_.store(0, std::memory_order_relaxed);
    reserved_get_ = 0;
    unfinished_ -= removed < unfinished_ ? removed : unfinished_;
    if (unfinished_ == 0) {
      while (!joiners_.empty()) grant(joiners_, kDone);
    }
  }
  while (!getters_.empty()) grant(getters_, kShutDown);
  while (!putters_.empty()) grant(putters_, kShutDown);
}

}  // namespace threading::queue::detail

namespace threading::queue::detail {

void check_timeout(const Timeout& timeout) {
  if (!timeout.is_none() && timeout.seconds() < 0) {
    throw ValueError("'timeout' must be a non-negative number");
  }
}

std::optional<Deadline> python_deadline(const Timeout& timeout) {
  // CPython's Queue waits without a limit on NaN (its remaining time is never <= 0).
  if (!timeout.is_none() && std::isnan(timeout.seconds())) return std::nullopt;
  return threading::detail::wait_deadline(timeout);
}

void check_simple_timeout(const Timeout& timeout) {
  if (timeout.is_none()) return;
  double t = timeout.seconds();
  if (std::isnan(t)) throw ValueError("Invalid value NaN (not a number)");
  threading::detail::check_not_too_large(t);
  if (t < 0) throw ValueError("'timeout' must be a non-negative number");
}

}  // namespace threading::queue::detail
