// threading::queue — Python's `queue` module: Queue, LifoQueue,
// PriorityQueue, SimpleQueue and the Empty, Full and ShutDown exceptions.
//
//   Python                                  C++ (namespace queue = threading::queue;)
//   q = queue.Queue(maxsize=8)              queue::Queue<Job> q(8);
//   queue.LifoQueue() / PriorityQueue()     queue::LifoQueue<T> / queue::PriorityQueue<T>
//   queue.SimpleQueue()                     queue::SimpleQueue<T>
//   q.put(x); q.put(x, False)               q.put(x); q.put(x, false);
//   q.put(x, timeout=0.5)                   q.put(x, true, 0.5);        // or 500ms
//   q.put_nowait(x)                         q.put_nowait(x);
//   x = q.get(); q.get(timeout=1)           T x = q.get(); q.get(true, 1.0);
//   q.get_nowait()                          q.get_nowait();
//   q.qsize(), q.empty(), q.full()          q.qsize(), q.empty(), q.full()
//   q.task_done(); q.join()                 q.task_done(); q.join();
//   q.shutdown(immediate=True)   (3.13)     q.shutdown(true);
//   q.maxsize                               q.maxsize()
//   except queue.Empty / Full / ShutDown    catch (const queue::Empty&) / Full / ShutDown
//   (C++ only)                              q.emplace(args...); q.try_put(x) -> bool;
//                                           q.try_get() -> std::optional<T>;
//                                           q.try_put_for(x, 10ms), try_put_until(x, tp),
//                                           q.try_get_for(10ms), try_get_until(tp)
//
// Contract (CPython 3.13's Lib/queue.py, checked against it):
//   * Queue(maxsize): maxsize <= 0 is unbounded.
//   * put(item, block, timeout): ShutDown if the queue was shut down (first).
//     On a bounded queue: block=false raises Full when full (timeout
//     ignored); a negative timeout raises
//     ValueError("'timeout' must be a non-negative number") even when there is
//     room; a timeout waits at most that long, then raises Full; a NaN timeout
//     waits forever and one above TIMEOUT_MAX raises OverflowError, both only
//     when the call has to wait (as CPython). An unbounded put never waits and
//     ignores block/timeout.
//   * get(block, timeout): ShutDown when shut down and empty (or after an
//     immediate shutdown); block=false raises Empty when empty; a negative
//     timeout raises ValueError (even when an item is there); a timed get
//     raises Empty only once its whole timeout has elapsed, never earlier.
//   * task_done(): ValueError("task_done() called too many times") when
//     there are no unfinished tasks. join() returns once every put() has been
//     matched by a task_done() (at once when none are pending).
//   * shutdown(immediate=false): later puts raise ShutDown; blocked putters
//     and getters wake and raise ShutDown; gets drain what is left. With
//     immediate=true the items left are discarded (destroyed), each counted
//     as a task_done(), so join() returns once nothing else is unfinished.
//   * qsize()/empty()/full() are snapshots, as in Python.
//   * Empty, Full and ShutDown derive from std::runtime_error (Python's derive
//     from Exception; not from RuntimeError); what() is the type's name, as
//     Python raises them with no message.
//   * SimpleQueue<T>: unbounded FIFO without task tracking or shutdown, as
//     CPython's C SimpleQueue: put(item, block, timeout) ignores block and
//     timeout and never waits for space; get(block, timeout) validates the
//     timeout first whenever block is true: NaN raises ValueError("Invalid
//     value NaN (not a number)"), above TIMEOUT_MAX OverflowError, negative
//     ValueError("'timeout' must be a non-negative number").
//
// C++ extras: put(const T&) copies, put(T&&) moves; emplace(args...)
// constructs in the queue (blocking like put()). try_put/try_get and the
// timed variants never throw Empty/Full/ShutDown: they return false/nullopt,
// and a try_put that fails leaves its argument untouched. Durations and time
// points of any clock are accepted and never overflow (saturating, see
// timeout.hpp); a non-positive one is a single try.
//
// Guarantees beyond Python's letter:
//   * FIFO among blocked threads: blocked getters are served oldest first,
//     and so are blocked putters (each freed slot goes to the oldest one).
//     A put that finds a getter blocked hands its item straight to the
//     oldest one (built in that getter's frame; the queue stays empty and the
//     slot free), so the oldest item always reaches the oldest blocked getter
//     even when items arrive at once. (For a T whose move may throw, the item
//     goes through the queue instead, granted to that getter: the getters
//     granted at once then take the items in the order they run.)
//     Likewise a get from a full queue with a putter blocked takes the
//     oldest blocked putter's item into the queue in its place (moved from
//     put(T&&), copied from put(const T&), when that cannot throw; not for
//     emplace) and wakes that putter, its put done: the queue is full again
//     when get() returns, and the putter returns without re-taking the lock.
//     So T's move or copy constructor may run in the getting thread.
//   * No herd: an arriving item wakes exactly one blocked getter and a freed
//     slot exactly one blocked putter; the slot or item is reserved for it,
//     so no thread arriving meanwhile can take it. shutdown() wakes all.
//   * A timed wait that expires just as an item (or slot) is granted to it
//     returns that item (or stores its own): nothing is lost or duplicated.
//   * Exception safety: if T's copy/move (or construction in emplace) throws
//     in put, nothing was added and the argument is as T's constructor left
//     it; if moving the item out throws in get, the item stays in the queue
//     (for SimpleQueue at its front) and the next getter is served. The queue
//     stays consistent either way. A PriorityQueue's Compare should not
//     throw; if it does, the put or get still completes and nothing is lost,
//     but the order becomes unspecified.
//   * SimpleQueue::put runs no user code while holding the queue's internal
//     lock (the node is built first), so it is safe to call from a destructor
//     or a constructor running inside another put/get on the same thread.
//     For Queue/LifoQueue/PriorityQueue T's constructors run under that lock:
//     they must not call back into the same queue.
//
// Destruction is self-synchronising, like every object here: once the last
// get()/put()/join() using it has returned in thread A, A may destroy the
// queue even if the thread that woke it has not yet returned. Grants are
// published inside the parking core's unpark callback, after the internal
// lock was released; after that the waking thread never touches the queue.
//
// Performance: blocking rests on the parking core, each blocked thread
// parking on its own waiter record (never std::mutex/condition_variable).
// A waiting thread watches its own record briefly before sleeping (the
// parking core's watch), and a grant to a thread still watching is one
// compare-exchange, without the parking core's bucket; a handed-off get, and
// a put whose item a get took in, return without taking the queue's lock
// again.
// An uncontended put/get is one Lock acquire/release around a deque
// operation. PriorityQueue is a binary heap (boxed when T's move may throw).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "threading/detail/queue_core.hpp"
#include "threading/detail/queue_storage.hpp"
#include "threading/errors.hpp"
#include "threading/timeout.hpp"

namespace threading::queue {

class Empty : public std::runtime_error {
 public:
  Empty() : std::runtime_error("Empty") {}
};
class Full : public std::runtime_error {
 public:
  Full() : std::runtime_error("Full") {}
};
class ShutDown : public std::runtime_error {
 public:
  ShutDown() : std::runtime_error("ShutDown") {}
};

namespace detail {

// Timeout checks as CPython's Queue/SimpleQueue make them (src/queue.cpp).
void check_timeout(const Timeout& timeout);  // negative: ValueError
// None/NaN: no limit; above TIMEOUT_MAX: OverflowError; else a deadline.
std::optional<Deadline> python_deadline(const Timeout& timeout);
void check_simple_timeout(const Timeout& timeout);

// Queue, LifoQueue and PriorityQueue: one implementation, three storages.
template <class T, class Storage>
class BasicQueue {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>, "queues hold non-const objects");

 public:
  explicit BasicQueue(long long maxsize = 0) : core_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  void put(const T& item, bool block = true, Timeout timeout = std::nullopt) {
    put_impl(block, timeout, item);
  }
  void put(T&& item, bool block = true, Timeout timeout = std::nullopt) {
    put_impl(block, timeout, std::move(item));
  }
  void put_nowait(const T& item) { put_impl(false, std::nullopt, item); }
  void put_nowait(T&& item) { put_impl(false, std::nullopt, std::move(item)); }
  // Blocking put of T(args...), built in place.
  template <class... A>
  void emplace(A&&... args) {
    put_impl(true, std::nullopt, std::forward<A>(args)...);
  }

  T get(bool block = true, Timeout timeout = std::nullopt) {
    if (block) check_get_timeout(timeout);
    // Without a timeout there is nothing to check before waiting: one call
    // (one lock round trip) does it; a timeout is checked only if we wait.
    Landing landing;
    Acquired r = core_.acquire_item(block && timeout.is_none(), nullptr, landing.slot());
    if (r == Acquired::kUnavailable && block && !timeout.is_none()) {
      std::optional<Deadline> d = python_deadline(timeout);
      r = core_.acquire_item(true, d ? &*d : nullptr, landing.slot());
    }
    if (r == Acquired::kHanded) {
      if constexpr (kHandoff) return landing.template take<T>();
    }
    if (r == Acquired::kShutDown) throw ShutDown();
    if (r == Acquired::kUnavailable) throw Empty();
    return take<T>();
  }
  T get_nowait() { return get(false); }

  // Non-throwing (for Empty/Full/ShutDown) C++ forms. A failed try_put does
  // not touch its argument.
  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  bool try_put(U&& item) { return try_put_impl(false, nullptr, std::forward<U>(item)); }
  template <class U, class Rep, class Period>
  requires std::is_constructible_v<T, U&&>
  bool try_put_for(U&& item, const std::chrono::duration<Rep, Period>& d) {
    Deadline dl = Deadline::after(d);
    return try_put_impl(true, &dl, std::forward<U>(item));
  }
  template <class U, class Clock, class Duration>
  requires std::is_constructible_v<T, U&&>
  bool try_put_until(U&& item, const std::chrono::time_point<Clock, Duration>& t) {
    Deadline dl = Deadline::at(t);
    return try_put_impl(true, &dl, std::forward<U>(item));
  }
  std::optional<T> try_get() { return try_get_impl(false, nullptr); }
  template <class Rep, class Period>
  std::optional<T> try_get_for(const std::chrono::duration<Rep, Period>& d) {
    Deadline dl = Deadline::after(d);
    return try_get_impl(true, &dl);
  }
  template <class Clock, class Duration>
  std::optional<T> try_get_until(const std::chrono::time_point<Clock, Duration>& t) {
    Deadline dl = Deadline::at(t);
    return try_get_impl(true, &dl);
  }

  std::size_t qsize() const noexcept { return core_.size(); }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept {
    return core_.maxsize() > 0 && qsize() >= static_cast<std::size_t>(core_.maxsize());
  }
  long long maxsize() const noexcept { return core_.maxsize(); }
  // Diagnostics (C++ only, snapshots): threads blocked in get()/put(), and
  // the number of wake-ups the queue has issued (one per granted item/slot).
  std::size_t waiting_getters() const noexcept { return core_.waiting_getters(); }
  std::size_t waiting_putters() const noexcept { return core_.waiting_putters(); }
  std::size_t wakeups() const noexcept { return core_.wakeups(); }

  void task_done() { core_.task_done(); }
  void join() { core_.join(); }
  void shutdown(bool immediate = false) {
    core_.lock();
    std::size_t removed = immediate ? storage_.clear() : 0;
    core_.shutdown_locked(immediate, removed);
    core_.unlock();
  }
  bool is_shutdown() const noexcept { return core_.is_shutdown(); }

 private:
  using Acquired = detail::Acquired;

  void check_get_timeout(const Timeout& timeout) {
    if (!timeout.is_none() && timeout.seconds() < 0) {
      if (core_.is_shutdown() && core_.size() == 0) throw ShutDown();  // CPython checks first
      check_timeout(timeout);
    }
  }

  template <class... A>
  void put_impl(bool block, const Timeout& timeout, A&&... args) {
    if (core_.maxsize() > 0 && block && !timeout.is_none() && timeout.seconds() < 0) {
      if (core_.is_shutdown()) throw ShutDown();
      check_timeout(timeout);
    }
    const Offer offer = offer_of<A...>(args...);
    Acquired r = core_.acquire_slot(block && timeout.is_none(), nullptr, offer.item, offer.moves);
    if (r == Acquired::kUnavailable && block && !timeout.is_none()) {
      std::optional<Deadline> d = python_deadline(timeout);
      r = core_.acquire_slot(true, d ? &*d : nullptr, offer.item, offer.moves);
    }
    if (r == Acquired::kHanded) return;  // a get took the item into the queue
    if (r == Acquired::kShutDown) throw ShutDown();
    if (r == Acquired::kUnavailable) throw Full();
    store(std::forward<A>(args)...);
  }

  template <class U>
  bool try_put_impl(bool block, const Deadline* d, U&& item) {
    const Offer offer = offer_of<U>(item);
    Acquired r = core_.acquire_slot(block, d, offer.item, offer.moves);
    if (r == Acquired::kHanded) return true;
    if (r != Acquired::kOk) return false;
    store(std::forward<U>(item));
    return true;
  }

  // What a put blocked on a full queue offers a get to take in its place
  // (queue_core.hpp): its one argument, when that is a T and T is built from
  // it without throwing (so the get cannot fail on the putter's behalf).
  struct Offer {
    void* item = nullptr;
    bool moves = false;  // moved from (an rvalue), else copied
  };
  template <class... A>
  static Offer offer_of([[maybe_unused]] std::remove_reference_t<A>&... args) noexcept {
    if constexpr (sizeof...(A) == 1 && kHandoff) {
      return offer_one<A...>(args...);
    } else {
      return {};
    }
  }
  template <class A>
  static Offer offer_one(std::remove_reference_t<A>& arg) noexcept {
    if constexpr (std::is_same_v<std::remove_cvref_t<A>, T> &&
                  std::is_nothrow_constructible_v<T, A&&>) {
      return {const_cast<T*>(std::addressof(arg)), !std::is_lvalue_reference_v<A>};
    } else {
      return {};
    }
  }

  std::optional<T> try_get_impl(bool block, const Deadline* d) {
    Landing landing;
    Acquired r = core_.acquire_item(block, d, landing.slot());
    if constexpr (kHandoff) {
      if (r == Acquired::kHanded) return landing.template take<std::optional<T>>();
    }
    if (r != Acquired::kOk) return std::nullopt;
    return take<std::optional<T>>();
  }

  // Direct hand-off (queue_core.hpp) only when moving the item out of the
  // landing place cannot throw: otherwise the item could not stay in the
  // queue as promised. Such T go through the queue (granted, then taken).
  static constexpr bool kHandoff =
      std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>;
  // Where a blocked get receives a handed-off item: on the getter's stack.
  class Landing {
   public:
    Landing() noexcept {}
    ~Landing() {}
    Landing(const Landing&) = delete;
    Landing& operator=(const Landing&) = delete;
    void* slot() noexcept {
      if constexpr (kHandoff) {
        return &u_.item;
      } else {
        return nullptr;
      }
    }
    // After kHanded: the item was built in the slot. Move out (no throw).
    template <class R>
    R take() noexcept {
      struct Destroy {
        T* p;
        ~Destroy() { p->~T(); }
      } d{&u_.item};
      return make<R>(std::move(u_.item));
    }

   private:
    union U {
      U() noexcept {}
      ~U() {}
      T item;
    } u_;
  };

  // Lock held, a slot ours. A getter first in line takes the item directly.
  template <class... A>
  void store(A&&... args) {
    try {
      if constexpr (kHandoff) {
        if (detail::Waiter* w = core_.handoff_target()) {
          ::new (w->slot) T(std::forward<A>(args)...);
          core_.handed_off(true);
          core_.unlock();
          return;
        }
      }
      storage_.emplace(std::forward<A>(args)...);
    } catch (...) {
      core_.add_failed();  // the slot goes to the next putter
      core_.unlock();
      throw;
    }
    core_.item_added(true);
    core_.unlock();
  }

  struct TakeGuard {
    detail::QueueCore& core;
    bool taken = false;
    ~TakeGuard() {
      if (!taken) core.take_failed();  // the item stays; the next getter is served
      core.unlock();
    }
  };

  // Lock held, an item ours. R is T or std::optional<T>, built directly in
  // the return slot so the item moves exactly once.
  template <class R>
  R take() {
    TakeGuard guard{core_};
    R result = make<R>(std::move(storage_.top()));
    storage_.pop();
    guard.taken = true;
    if constexpr (kHandoff) {
      if (detail::Waiter* w = core_.pull_source(); w != nullptr && pull(*w)) {
        core_.item_replaced(true);
        return result;
      }
    }
    core_.item_taken();
    return result;
  }
  // Lock held: puts pull_source()'s offered item into the storage. False if
  // the storage could not grow (nothing changed; the putter is then granted
  // the slot and stores the item itself, meeting the error itself).
  bool pull(detail::Waiter& w) noexcept {
    try {
      if (w.offer_moves) {
        storage_.emplace(std::move(*static_cast<T*>(w.slot)));
        return true;
      }
      if constexpr (std::is_copy_constructible_v<T>) {
        storage_.emplace(std::as_const(*static_cast<T*>(w.slot)));
        return true;
      }
    } catch (...) {
    }
    return false;
  }
  template <class R>
  static R make(T&& item) {
    if constexpr (std::is_same_v<R, T>) {
      return T(std::move(item));
    } else {
      return R(std::in_place, std::move(item));
    }
  }

  detail::QueueCore core_;
  Storage storage_;
};

}  // namespace detail

// FIFO queue.
template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoStorage<T>> {
 public:
  using detail::BasicQueue<T, detail::FifoStorage<T>>::BasicQueue;
};

// LIFO queue (a stack).
template <class T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoStorage<T>> {
 public:
  using detail::BasicQueue<T, detail::LifoStorage<T>>::BasicQueue;
};

// Lowest first with the default Compare (as heapq); Compare follows
// std::priority_queue's convention. Equal items come out in no promised order.
template <class T, class Compare = std::greater<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::HeapStorage<T, Compare>> {
 public:
  using detail::BasicQueue<T, detail::HeapStorage<T, Compare>>::BasicQueue;
};

// Unbounded FIFO, no task tracking, no shutdown (CPython's C SimpleQueue).
template <class T>
class SimpleQueue {
  struct Node {
    template <class... A>
    explicit Node(A&&... a) : value(std::forward<A>(a)...) {}
    Node* next = nullptr;
    T value;
  };

 public:
  SimpleQueue() : core_(0) {}
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;
  ~SimpleQueue() {
    while (head_ != nullptr) delete std::exchange(head_, head_->next);
  }

  // Never waits for space; block and timeout are ignored (as CPython).
  void put(const T& item, bool /*block*/ = true, Timeout /*timeout*/ = std::nullopt) {
    emplace(item);
  }
  void put(T&& item, bool /*block*/ = true, Timeout /*timeout*/ = std::nullopt) {
    emplace(std::move(item));
  }
  void put_nowait(const T& item) { emplace(item); }
  void put_nowait(T&& item) { emplace(std::move(item)); }
  template <class... A>
  void emplace(A&&... args) {
    // User code (T's constructor) runs here, before the lock: reentrant.
    link(new Node(std::forward<A>(args)...));
  }
  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  bool try_put(U&& item) {
    emplace(std::forward<U>(item));
    return true;
  }

  T get(bool block = true, Timeout timeout = std::nullopt) {
    std::optional<Deadline> d;
    if (block) {
      detail::check_simple_timeout(timeout);
      if (!timeout.is_none()) d = Deadline::after(timeout.seconds());
    }
    return get_impl<T>(block, d ? &*d : nullptr);
  }
  T get_nowait() { return get(false); }
  std::optional<T> try_get() { return get_impl<std::optional<T>>(false, nullptr); }
  template <class Rep, class Period>
  std::optional<T> try_get_for(const std::chrono::duration<Rep, Period>& d) {
    Deadline dl = Deadline::after(d);
    return get_impl<std::optional<T>>(true, &dl);
  }
  template <class Clock, class Duration>
  std::optional<T> try_get_until(const std::chrono::time_point<Clock, Duration>& t) {
    Deadline dl = Deadline::at(t);
    return get_impl<std::optional<T>>(true, &dl);
  }

  std::size_t qsize() const noexcept { return core_.size(); }
  bool empty() const noexcept { return qsize() == 0; }
  std::size_t waiting_getters() const noexcept { return core_.waiting_getters(); }
  std::size_t wakeups() const noexcept { return core_.wakeups(); }

 private:
  using Deadline = detail::Deadline;

  void link(Node* n) noexcept {
    core_.lock();
    if (detail::Waiter* w = core_.handoff_target()) {
      *static_cast<Node**>(w->slot) = n;  // the oldest blocked getter takes it
      core_.handed_off(false);
      core_.unlock();
      return;
    }
    if (tail_ != nullptr) {
      tail_->next = n;
    } else {
      head_ = n;
    }
    tail_ = n;
    core_.item_added(false);
    core_.unlock();
  }

  struct NodeGuard {
    Node* node;
    ~NodeGuard() { delete node; }  // ~T of the moved-from value: outside the lock
  };

  // R is T (throws Empty when none) or std::optional<T>. A blocked get may be
  // handed the node directly by link() (the queue's lock is then not held).
  template <class R>
  R get_impl(bool block, const Deadline* d) {
    Node* handed = nullptr;
    detail::Acquired r = core_.acquire_item(block, d, &handed);
    if (r == detail::Acquired::kHanded) return take<R>(handed);
    if (r != detail::Acquired::kOk) {
      if constexpr (std::is_same_v<R, T>) {
        throw Empty();
      } else {
        return std::nullopt;
      }
    }
    Node* n = head_;  // lock held, an item ours: unlink under the lock
    head_ = n->next;
    if (head_ == nullptr) tail_ = nullptr;
    core_.item_taken();
    core_.unlock();
    return take<R>(n);
  }

  // n is ours, the lock not held: move the value out.
  template <class R>
  R take(Node* n) {
    NodeGuard guard{n};
    try {
      if constexpr (std::is_same_v<R, T>) {
        return T(std::move(n->value));
      } else {
        return R(std::in_place, std::move(n->value));
      }
    } catch (...) {
      // Moving out threw: the item goes back to the front.
      core_.lock();
      n->next = head_;
      head_ = n;
      if (tail_ == nullptr) tail_ = n;
      core_.item_returned();
      core_.unlock();
      guard.node = nullptr;
      throw;
    }
  }

  detail::QueueCore core_;
  Node* head_ = nullptr;  // guarded by core_'s lock
  Node* tail_ = nullptr;
};

}  // namespace threading::queue
