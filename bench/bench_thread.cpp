// Group "thread": create + start + join one thread that does nothing, and a
// Timer that is started and cancelled before it fires (start + cancel +
// join). The std counterpart of a Timer is a std::thread waiting on a
// condition_variable with a timeout, cancelled by a flag + notify.
#include <pthread.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common.hpp"
#if defined(PYTHREADING_BENCH_HAVE_THREAD)
#include "threading/thread.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_TIMER)
#include "threading/timer.hpp"
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/thread.hpp>
#endif

namespace {

using bench::reg;

void nothing() {}

#if defined(PYTHREADING_BENCH_HAVE_THREAD)
void py_thread(benchmark::State& state) {
  for (auto _ : state) {
    auto t = std::make_shared<threading::Thread>(nothing);
    t->start();
    t->join();
  }
}
#endif

void std_thread(benchmark::State& state) {
  for (auto _ : state) std::thread(nothing).join();
}

void posix_thread(benchmark::State& state) {
  for (auto _ : state) {
    pthread_t t;
    pthread_create(
        &t, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
    pthread_join(t, nullptr);
  }
}

#if BENCH_HAVE_BOOST
void boost_thread(benchmark::State& state) {
  for (auto _ : state) boost::thread(nothing).join();
}
#endif

#if defined(PYTHREADING_BENCH_HAVE_TIMER)
void py_timer(benchmark::State& state) {
  for (auto _ : state) {
    auto t = std::make_shared<threading::Timer>(60.0, nothing);
    t->start();
    t->cancel();
    t->join();
  }
}
#endif

// What people write without a Timer class.
void std_timer(benchmark::State& state) {
  for (auto _ : state) {
    std::mutex m;
    std::condition_variable cv;
    bool cancelled = false;
    std::thread t([&] {
      std::unique_lock lk(m);
      if (!cv.wait_for(lk, std::chrono::seconds(60), [&] { return cancelled; })) nothing();
    });
    {
      std::lock_guard g(m);
      cancelled = true;
    }
    cv.notify_one();
    t.join();
  }
}

const int registered = [] {
#if defined(PYTHREADING_BENCH_HAVE_THREAD)
  reg("thread", "start+join", "pythreading", py_thread)->UseRealTime();
#endif
  reg("thread", "start+join", "std", std_thread)->UseRealTime();
  reg("thread", "start+join", "posix", posix_thread)->UseRealTime();
#if BENCH_HAVE_BOOST
  reg("thread", "start+join", "boost", boost_thread)->UseRealTime();
#endif
#if defined(PYTHREADING_BENCH_HAVE_TIMER)
  reg("thread", "Timer start+cancel", "pythreading", py_timer)->UseRealTime();
#endif
  reg("thread", "Timer start+cancel", "std", std_timer)->UseRealTime();
  return 0;
}();

}  // namespace
