// The item storages of threading::queue's BasicQueue (queue.hpp): a deque
// for FIFO and LIFO order, a binary heap for PriorityQueue. BasicQueue calls
// them with its internal lock held; what each promises when T or Compare
// throws is what the queue's exception-safety contract rests on.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace threading::queue::detail {

// FIFO (kLifo = false) or LIFO order over a deque; emplace has the strong
// guarantee at either end.
template <class T, bool kLifo>
class DequeStorage {
 public:
  template <class... A>
  void emplace(A&&... a) {
    items_.emplace_back(std::forward<A>(a)...);
  }
  T& top() noexcept {
    if constexpr (kLifo) {
      return items_.back();
    } else {
      return items_.front();
    }
  }
  void pop() noexcept {
    if constexpr (kLifo) {
      items_.pop_back();
    } else {
      items_.pop_front();
    }
  }
  std::size_t clear() noexcept {
    std::size_t n = items_.size();
    items_.clear();
    return n;
  }

 private:
  std::deque<T> items_;
};
template <class T>
using FifoStorage = DequeStorage<T, false>;
template <class T>
using LifoStorage = DequeStorage<T, true>;

// A binary heap that moves elements only by swapping, so a throwing Compare
// leaves a permutation (nothing lost). T is boxed unless its moves and swaps
// cannot throw. Compare as std::priority_queue: comp(a, b) means a comes out
// after b, so std::greater gives lowest first.
template <class T, class Compare>
class HeapStorage {
  static constexpr bool kDirect = std::is_nothrow_move_constructible_v<T> &&
                                  std::is_nothrow_move_assignable_v<T> &&
                                  std::is_nothrow_swappable_v<T>;
  using Slot = std::conditional_t<kDirect, T, std::unique_ptr<T>>;

 public:
  template <class... A>
  void emplace(A&&... a) {
    items_.reserve(items_.size() + 1);  // a bad_alloc here changes nothing
    if constexpr (kDirect) {
      items_.emplace_back(std::forward<A>(a)...);
    } else {
      items_.push_back(std::make_unique<T>(std::forward<A>(a)...));
    }
    try {
      sift_up();
    } catch (...) {
      // A throwing Compare: the item is in, as pop() keeps every item; only
      // the order is unspecified now. So emplace throws only before anything
      // changed (an allocation), which a get taking a blocked putter's item
      // in relies on.
    }
  }
  T& top() noexcept { return at(0); }
  void pop() noexcept {
    std::swap(items_.front(), items_.back());
    items_.pop_back();
    try {
      sift_down();
    } catch (...) {
      // A throwing Compare: nothing is lost; the order is unspecified now.
    }
  }
  std::size_t clear() noexcept {
    std::size_t n = items_.size();
    items_.clear();
    return n;
  }

 private:
  T& at(std::size_t i) noexcept {
    if constexpr (kDirect) {
      return items_[i];
    } else {
      return *items_[i];
    }
  }
  void sift_up() {
    std::size_t i = items_.size() - 1;
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!comp_(at(parent), at(i))) break;
      std::swap(items_[parent], items_[i]);
      i = parent;
    }
  }
  void sift_down() {
    std::size_t n = items_.size();
    std::size_t i = 0;
    for (;;) {
      std::size_t best = i;
      std::size_t l = 2 * i + 1;
      if (l < n && comp_(at(best), at(l))) best = l;
      if (l + 1 < n && comp_(at(best), at(l + 1))) best = l + 1;
      if (best == i) return;
      std::swap(items_[i], items_[best]);
      i = best;
    }
  }

  std::vector<Slot> items_;
  [[no_unique_address]] Compare comp_{};
};

}  // namespace threading::queue::detail
