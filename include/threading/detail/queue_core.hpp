// The synchronisation shared by every queue in <threading/queue.hpp>: an
// internal Lock over the queue's counters and three FIFO lists of waiter
// records. Every blocked thread waits on its own record's state word (a
// private parking key), so a wake-up is always addressed to one thread.
//
// Grants, not broadcasts: when an item arrives and a getter waits, the
// oldest getter is granted that item (reserved for it, so no newcomer can
// barge in) and only it is woken; likewise a freed slot is granted to the
// oldest blocked putter. Hence no herd, FIFO among blocked threads, and a
// timed-out waiter that was granted at the last moment still gets its item
// (it sees it is no longer listed and waits for the grant to be published).
//
// Direct hand-off: a getter whose T moves without throwing waits with a
// landing slot; a put finding it first in line builds the item there and
// wakes it with kHanded, so it returns without re-taking the lock, and the
// oldest item reaches the oldest getter even when several arrive at once.
// The other way round, a putter blocked on a full queue offers its item (when
// T is built from it without throwing): a get that frees a slot while that
// putter is first in line moves the item into the queue in its place and
// wakes it with kHanded, its put done. The queue stays full, so on a busy
// bounded queue getters keep finding items instead of each item costing a
// wake-up on both sides.
//
// Waking without the bucket: a blocked thread first watches its record's
// state (the parking core's watch) and commits to sleeping only inside
// park()'s validate, under the bucket lock, by moving it kWaiting -> kParked.
// A granter publishes the outcome with one compare-exchange from kWaiting:
// if that succeeds the waiter is still watching and sees it, and neither
// side touches the parking core's bucket; only a kParked record is woken
// through unpark_one(), its outcome stored in the callback under the bucket
// lock (model/queue.pml checks the handshake).
//
// Self-synchronising: a grant's state is published after the internal lock
// was released, by that compare-exchange or inside the unpark callback;
// after that store the granting thread never touches the queue or the
// record again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "threading/lock.hpp"
#include "threading/timeout.hpp"

namespace threading::queue::detail {

using threading::detail::Deadline;

struct Waiter {
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  Waiter* wake_next = nullptr;  // in the chain woken after the lock is released
  bool listed = false;          // guarded by the queue's lock
  // A getter's landing place for a direct hand-off (nullptr: none). A put
  // that finds this getter first in line builds its item here, under the
  // lock, and the getter returns it without touching the queue again.
  // A putter's offered item (nullptr: none): a get that frees a slot while
  // this putter is first in line moves (offer_moves) or copies it into the
  // queue, under the lock, and the put returns without touching it again.
  void* slot = nullptr;
  bool offer_moves = false;
  std::uint32_t outcome = 0;  // what to publish in `state` when woken
  std::atomic<std::uint32_t> state{0};
};

struct WaitList {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  bool empty() const noexcept { return head == nullptr; }
  void push_back(Waiter* w) noexcept;
  void unlink(Waiter* w) noexcept;
};

// Results of acquire_item()/acquire_slot(). kHanded: the item was built in
// the getter's slot, or the putter's offered item was taken into the queue;
// the lock is not held.
enum class Acquired : std::uint8_t { kOk, kUnavailable, kShutDown, kHanded };

class QueueCore {
 public:
  static constexpr std::uint32_t kWaiting = 0;
  static constexpr std::uint32_t kGranted = 1;
  static constexpr std::uint32_t kShutDown = 2;
  static constexpr std::uint32_t kDone = 3;    // join(): unfinished tasks reached 0
  static constexpr std::uint32_t kHanded = 4;  // an item went through the slot
  // Not an outcome: the waiter committed to sleeping (see the top of the file).
  static constexpr std::uint32_t kParked = 5;

  explicit QueueCore(long long maxsize) noexcept : maxsize_(maxsize) {}
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  // Waits for an item the caller may take (deadline nullptr = forever;
  // block=false = never wait). kOk returns with the lock held: the caller
  // takes the item, then calls item_taken() or take_failed(), then unlock().
  // With a slot, a blocked call may instead be handed an item directly
  // (kHanded, lock not held; see Waiter::slot).
  Acquired acquire_item(bool block, const Deadline* deadline, void* slot = nullptr);
  // Waits for a free slot; kOk returns with the lock held: the caller stores
  // the item, then calls item_added() or add_failed(), then unlock(). With
  // an offer, a blocked call may instead have its item taken into the queue
  // by a get (kHanded, lock not held; see Waiter::slot).
  Acquired acquire_slot(bool block, const Deadline* deadline, void* offer = nullptr,
                        bool offer_moves = false);

  void item_taken() noexcept;
  void take_failed() noexcept { rebalance(); }
  void item_added(bool count_task) noexcept;
  // Lock held: the oldest blocked getter if it takes direct hand-offs. Then
  // the queue holds no item free for it (else it would not be waiting).
  Waiter* handoff_target() const noexcept {
    return getters_.head != nullptr && getters_.head->slot != nullptr ? getters_.head : nullptr;
  }
  // Lock held: the item was built in handoff_target()'s slot; wake it.
  void handed_off(bool count_task) noexcept;
  // Lock held, an item just taken out (before item_taken()): the oldest
  // blocked putter if it offers its item and no slot is granted and still
  // unused (a granted putter stores first, so items keep the putters' order).
  Waiter* pull_source() const noexcept {
    return reserved_put_ == 0 && putters_.head != nullptr && putters_.head->slot != nullptr
               ? putters_.head
               : nullptr;
  }
  // Lock held: instead of item_taken(), pull_source()'s item replaced the one
  // taken; wake that putter.
  void item_replaced(bool count_task) noexcept;
  void add_failed() noexcept { rebalance(); }
  // A taken item given back (SimpleQueue, when moving it out threw).
  void item_returned() noexcept;

  void lock() { mutex_.lock(); }
  // Releases the lock, then wakes every waiter granted meanwhile.
  void unlock() noexcept;

  void task_done();
  void join();
  // With the lock held; `removed` items were just cleared (immediate).
  void shutdown_locked(bool immediate, std::size_t removed) noexcept;

  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  long long maxsize() const noexcept { return maxsize_; }
  bool is_shutdown() const noexcept { return shutdown_.load(std::memory_order_relaxed); }
  // Diagnostics (snapshots): threads blocked in get/put, and every wake-up
  // the queue has issued so far (tests count these to prove there is no herd).
  std::size_t waiting_getters() const noexcept {
    return n_getters_.load(std::memory_order_relaxed);
  }
  std::size_t waiting_putters() const noexcept {
    return n_putters_.load(std::memory_order_relaxed);
  }
  std::size_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

 private:
  bool item_free() const noexcept { return size_.load(std::memory_order_relaxed) > reserved_get_; }
  bool slot_free() const noexcept {
    return maxsize_ <= 0 || size_.load(std::memory_order_relaxed) + reserved_put_ <
                                static_cast<std::size_t>(maxsize_);
  }
  void grant(WaitList& list, std::uint32_t outcome) noexcept;
  static void publish(Waiter& w) noexcept;
  void rebalance() noexcept;
  std::atomic<std::size_t>& counter(WaitList& list) noexcept;
  static void bump(std::atomic<std::size_t>& c, int by) noexcept {
    c.store(c.load(std::memory_order_relaxed) + static_cast<std::size_t>(by),
            std::memory_order_relaxed);
  }
  // Enqueued on `list`, lock held on entry and on return; returns the outcome
  // or kWaiting when the deadline passed first.
  std::uint32_t wait(WaitList& list, Waiter& w, const Deadline* deadline);

  // Orderings: every atomic below is written only with mutex_ held, so all
  // accesses are relaxed. Whoever holds mutex_ reads them ordered by it;
  // reads without it (size(), is_shutdown(), the diagnostics; Python's
  // qsize()/empty()/full()) are snapshots that promise no ordering.
  Lock mutex_;
  long long maxsize_;                 // as given: <= 0 is unbounded (Python keeps it too)
  std::atomic<std::size_t> size_{0};  // written under mutex_, read anywhere
  std::atomic<bool> shutdown_{false};
  std::size_t reserved_get_ = 0;  // items granted to woken getters
  std::size_t reserved_put_ = 0;  // slots granted to woken putters
  std::size_t unfinished_ = 0;
  WaitList getters_, putters_, joiners_;
  Waiter* wake_chain_ = nullptr;
  std::atomic<std::size_t> n_getters_{0}, n_putters_{0}, n_joiners_{0},
      wakeups_{0};  // written under mutex_
};

}  // namespace threading::queue::detail
