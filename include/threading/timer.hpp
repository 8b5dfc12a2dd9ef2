// threading::Timer — a Thread that calls a function after an interval, unless
// cancelled first.
//
//   Python                                  C++
//   t = Timer(30.0, hello, args=("x",))     auto t = std::make_shared<threading::Timer>(30.0,
//   hello, "x"); t.start(); t.cancel()                   t->start(); t->cancel(); t.finished (an
//   Event)                   t->finished()
//
// Contract (CPython 3.11, SPEC §10):
//   * After start() the thread waits `interval` on its finished() Event, then
//     calls function(args...) unless cancel() has set that Event.
//   * cancel() may come before start() (the function never runs; start() is
//     still allowed and the thread exits at once), during the wait (the timer
//     thread wakes at once), or after the call (no effect). It never joins.
//   * interval: zero, negative or NaN fires at once; std::nullopt waits until
//     cancel(); above TIMEOUT_MAX the wait raises OverflowError inside the
//     timer thread, which goes to excepthook (the constructor accepts it).
//   * The delay may be longer than the interval, never shorter.
//   * Name "Thread-N", daemon inherited, as any Thread; an exception from the
//     function is reported like any thread's. An empty std::function or a
//     null function pointer, when the timer fires, throws std::bad_function_call
//     in the timer thread (CPython's TypeError for function=None), reported so.
//   * Destruction as for Thread: once finished() is set, or join() has
//     returned, the last handle may be dropped at once (the timer thread holds
//     its own reference while it still touches the object).
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "threading/event.hpp"
#include "threading/thread.hpp"
#include "threading/timeout.hpp"

namespace threading {

class Timer : public Thread {
 public:
  template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> Timer(Timeout interval,
                                                                             F&& function,
                                                                             Args&&... args)
      : interval_(interval),
        function_(detail::is_no_target<std::decay_t<F>>(function)
                      ? nullptr
                      : detail::make_task(std::forward<F>(function), std::forward<Args>(args)...)) {
  }

  // Stops the timer if it has not fired yet.
  void cancel() { finished_.set(); }

  Timeout interval() const noexcept { return interval_; }
  // Set by cancel() or once the function has returned.
  Event& finished() noexcept { return finished_; }

  void run() override {
    finished_.wait(interval_);
    if (!finished_.is_set()) {
      std::unique_ptr<detail::Task> f = std::move(function_);
      if (f == nullptr) throw std::bad_function_call();  // finished_ stays unset, as in CPython
      f->invoke();
    }
    finished_.set();
  }

 private:
  Timeout interval_;
  std::unique_ptr<detail::Task> function_;
  Event finished_;
};

}  // namespace threading
