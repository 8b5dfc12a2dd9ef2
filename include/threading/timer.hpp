// threading::Timer — a Thread that calls a function after an interval, unless
// cancelled first.
//
// clang-format off
//   Python                                  C++
//   t = Timer(30.0, hello, args=("x",))     auto t = std::make_shared<Timer>(30.0, hello, "x");
//   t.start(); t.cancel()                   t->start(); t->cancel();
//   t.finished  (an Event)                  t->finished()
//   t.interval                              t->interval()
// clang-format on
//
// Contract (CPython 3.11, SPEC §10): a Timer is a Thread (start(), join(),
// name, daemon, ... as there: name "Thread-N", daemon inherited), whose run()
// waits on finished() for the interval and then calls the function. An
// exception from the function is reported like any thread's (excepthook).
// Destruction as for Thread: once finished() is set, or join() has returned,
// the last handle may be dropped at once (the timer thread holds its own
// reference while it still touches the object). Every member may be called
// from any thread at any time.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "threading/detail/task.hpp"
#include "threading/event.hpp"
#include "threading/thread.hpp"
#include "threading/timeout.hpp"

namespace threading {

class Timer : public Thread {
 public:
  // Calls function(args...) (decay-copies, moved into the call) once
  // `interval` has passed after start(). interval: zero, negative or NaN
  // fires at once; std::nullopt waits until cancel(); above TIMEOUT_MAX it is
  // accepted here, and the wait raises OverflowError inside the timer thread,
  // which goes to excepthook. The delay may be longer than the interval,
  // never shorter. An empty std::function or a null function pointer is
  // accepted here and, when the timer fires, throws std::bad_function_call in
  // the timer thread (CPython's TypeError for function=None), reported so.
  // Raises: bad_alloc only.
  // clang-format off
  template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
  Timer(Timeout interval, F&& function, Args&&... args)
      : interval_(interval),
        function_(detail::is_no_target<std::decay_t<F>>(function)
                      ? nullptr
                      : detail::make_task(std::forward<F>(function), std::forward<Args>(args)...)) {
  }
  // clang-format on

  // Stops the timer if it has not fired yet: sets finished(). May come before
  // start() (the function never runs; start() is still allowed and the
  // thread exits at once), during the wait (the timer thread wakes at once),
  // or after the call (no effect). Never joins, never raises. Races with the
  // timer firing: whichever sets or reads finished() first decides.
  void cancel() { finished_.set(); }

  // The interval as given. Never raises.
  Timeout interval() const noexcept { return interval_; }
  // Set by cancel() or once the function has returned (not when it throws:
  // finished() then stays unset unless cancel() sets it, as in CPython).
  Event& finished() noexcept { return finished_; }

  // The timer thread's activity (see the constructor); called directly, it
  // waits and fires in the calling thread.
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
