// The activity a Thread or Timer runs: the target bound to decay-copies of its
// arguments, type-erased (not part of the public API).
#pragma once

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace threading::detail {

// A type-erased, move-only `void()` activity (std::function would demand
// copyable targets and arguments; std::thread does not).
class Task {
 public:
  virtual ~Task() = default;
  virtual void invoke() = 0;
};

template <class F, class... Args>
class BoundTask final : public Task {
 public:
  template <class G, class... A>
  explicit BoundTask(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}
  void invoke() override { std::apply(std::move(f_), std::move(args_)); }

 private:
  F f_;
  std::tuple<Args...> args_;
};

template <class F>
inline constexpr bool kIsStdFunction = false;
template <class R, class... A>
inline constexpr bool kIsStdFunction<std::function<R(A...)>> = true;

// An empty std::function or a null (member) function pointer: Python's
// target=None, whatever the arguments.
template <class F>
bool is_no_target(const F& f) noexcept {
  if constexpr (kIsStdFunction<F>) {
    return !f;
  } else if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
    return f == nullptr;
  } else {
    return false;
  }
}

template <class F, class... Args>
std::unique_ptr<Task> make_task(F&& f, Args&&... args) {
  return std::make_unique<BoundTask<std::decay_t<F>, std::decay_t<Args>...>>(
      std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace threading::detail
