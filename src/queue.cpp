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
    pl::unpark_one(&ordered->state, [ordered](pl::UnparkResult) -> pl::Token {
      // Release: pairs with the waiter's acquire load of its state. Published
      // under the bucket lock its validate() takes, so it cannot be missed;
      // after this store nothing touches the record or the queue.
      ordered->state.store(ordered->outcome, std::memory_order_release);
      return pl::kDefaultToken;
    });
    ordered = next;
  }
}

std::atomic<std::size_t>& QueueCore::counter(WaitList& list) noexcept {
  return &list == &getters_ ? n_getters_ : &list == &putters_ ? n_putters_ : n_joiners_;
}

std::uint32_t QueueCore::wait(WaitList& list, Waiter& w, const Deadline* deadline) {
  using threading::detail::WaitKind;
  threading::detail::WaitScope scope{&list == &getters_   ? WaitKind::kQueueGet
                                     : &list == &putters_ ? WaitKind::kQueuePut
                                                          : WaitKind::kQueueJoin,
                                     this, deadline};
  list.push_back(&w);
  bump(counter(list), 1);
  unlock();
  for (;;) {
    // Relaxed in validate (both parks here): read under the bucket lock, which
    // orders it with unlock()'s store, made under that lock too.
    pl::ParkResult r = pl::park(
        &w.state, [&w] { return w.state.load(std::memory_order_relaxed) == kWaiting; }, deadline);
    // Acquire: pairs with the release store in unlock()'s callback.
    std::uint32_t s = w.state.load(std::memory_order_acquire);
    if (s != kWaiting) {
      if (s != kHanded) lock();
      return s;
    }
    if (r.status != pl::ParkStatus::kTimedOut) continue;  // spurious
    lock();
    if (w.listed) {
      list.unlink(&w);
      bump(counter(list), -1);
      return kWaiting;
    }
    // Granted just as the deadline passed: the grant is on its way; take it.
    mutex_.unlock();
    // Acquire: as above.
    while ((s = w.state.load(std::memory_order_acquire)) == kWaiting) {
      pl::park(
          &w.state, [&w] { return w.state.load(std::memory_order_relaxed) == kWaiting; }, nullptr);
    }
    if (s != kHanded) lock();
    return s;
  }
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

Acquired QueueCore::acquire_slot(bool block, const Deadline* deadline) {
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
  std::uint32_t s = wait(putters_, w, deadline);
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
