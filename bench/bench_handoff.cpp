// Group "handoff": wake-up latency between two threads. Each iteration is one
// round trip (main -> helper -> main), i.e. two hand-offs; time is wall time
// per round trip. Also group "notify_n": how many waiters one notify(n) wakes.
#include <semaphore.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>

#include "common.hpp"
#include "threading/condition.hpp"
#include "threading/lock.hpp"
#if defined(PYTHREADING_BENCH_HAVE_EVENT)
#include "threading/event.hpp"
#define BENCH_HAVE_EVENT 1
#endif
#if defined(PYTHREADING_BENCH_HAVE_SEMAPHORE)
#include "threading/semaphore.hpp"
#define BENCH_HAVE_SEMAPHORE 1
#endif
#if BENCH_HAVE_ABSL
#include <absl/synchronization/notification.h>
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#endif

namespace {

using bench::reg;
constexpr int kRoundTrips = 20000;

// P provides ping() (main: hand over, wait for the reply), serve() (the
// helper's loop) and finish() (make serve() return).
template <class P>
void pingpong(benchmark::State& state) {
  auto p = std::make_unique<P>();
  std::thread helper([&] { p->serve(); });
  for (auto _ : state) p->ping();
  p->finish();
  helper.join();
  state.SetItemsProcessed(state.iterations());
}

// --- Condition: turn-taking under the lock ---------------------------------
// Python requires the lock for notify(), so every variant notifies with the
// lock held; "std-unlocked" shows std's best case (notify after unlock).
struct PyCondition {
  threading::Lock l;
  threading::Condition c{l};
  int turn = 0;
  bool stop = false;
  void ping() {
    l.acquire();
    turn = 1;
    c.notify();
    while (turn != 0) c.wait();
    l.release();
  }
  void serve() {
    l.acquire();
    for (;;) {
      while (turn != 1 && !stop) c.wait();
      if (stop) break;
      turn = 0;
      c.notify();
    }
    l.release();
  }
  void finish() {
    l.acquire();
    stop = true;
    c.notify();
    l.release();
  }
};

template <class Mutex, class CV, bool kNotifyUnlocked,
          template <class> class UniqueLock = std::unique_lock>
struct StdCondition {
  Mutex m;
  CV cv;
  int turn = 0;
  bool stop = false;
  void ping() {
    UniqueLock<Mutex> lk(m);
    turn = 1;
    if (kNotifyUnlocked) {
      lk.unlock();
      cv.notify_one();
      lk.lock();
    } else {
      cv.notify_one();
    }
    while (turn != 0) cv.wait(lk);
  }
  void serve() {
    UniqueLock<Mutex> lk(m);
    for (;;) {
      while (turn != 1 && !stop) cv.wait(lk);
      if (stop) break;
      turn = 0;
      if (kNotifyUnlocked) {
        lk.unlock();
        cv.notify_one();
        lk.lock();
      } else {
        cv.notify_one();
      }
    }
  }
  void finish() {
    UniqueLock<Mutex> lk(m);
    stop = true;
    cv.notify_one();
  }
};

#if BENCH_HAVE_ABSL
struct AbslCondition {
  absl::Mutex m;
  absl::CondVar cv;
  int turn = 0;
  bool stop = false;
  void ping() {
    absl::MutexLock lk(&m);
    turn = 1;
    cv.Signal();
    while (turn != 0) cv.Wait(&m);
  }
  void serve() {
    absl::MutexLock lk(&m);
    for (;;) {
      while (turn != 1 && !stop) cv.Wait(&m);
      if (stop) break;
      turn = 0;
      cv.Signal();
    }
  }
  void finish() {
    absl::MutexLock lk(&m);
    stop = true;
    cv.Signal();
  }
};
#endif

// --- Event: set -> wait, two events --------------------------------------
struct MutexCvEvent {  // the usual std "event": mutex + condition_variable + flag
  std::mutex m;
  std::condition_variable cv;
  bool flag = false;
  void set() {
    std::lock_guard g(m);
    flag = true;
    cv.notify_all();
  }
  void clear() {
    std::lock_guard g(m);
    flag = false;
  }
  void wait() {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return flag; });
  }
};

struct AtomicWaitEvent {  // C++20 std::atomic<bool>::wait / notify_all
  std::atomic<bool> flag{false};
  void set() {
    flag.store(true, std::memory_order_release);
    flag.notify_all();
  }
  void clear() { flag.store(false, std::memory_order_relaxed); }
  void wait() {
    while (!flag.load(std::memory_order_acquire)) flag.wait(false, std::memory_order_acquire);
  }
};

template <class E>
struct EventPingPong {
  E to_helper, to_main;
  std::atomic<bool> stop{false};
  void ping() {
    to_helper.set();
    to_main.wait();
    to_main.clear();
  }
  void serve() {
    for (;;) {
      to_helper.wait();
      to_helper.clear();
      if (stop.load(std::memory_order_acquire)) break;
      to_main.set();
    }
  }
  void finish() {
    stop.store(true, std::memory_order_release);
    to_helper.set();
  }
};

#if BENCH_HAVE_ABSL
// absl::Notification is single-use: one fresh pair per round trip.
void absl_notification(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.max_iterations);
  std::unique_ptr<absl::Notification[]> to_helper(new absl::Notification[n]);
  std::unique_ptr<absl::Notification[]> to_main(new absl::Notification[n]);
  std::thread helper([&] {
    for (std::size_t i = 0; i < n; ++i) {
      to_helper[i].WaitForNotification();
      to_main[i].Notify();
    }
  });
  std::size_t i = 0;
  for (auto _ : state) {
    to_helper[i].Notify();
    to_main[i].WaitForNotification();
    ++i;
  }
  helper.join();
  state.SetItemsProcessed(state.iterations());
}
#endif

// --- Semaphore: release -> acquire, two semaphores ------------------------
template <class S>
struct SemPingPong {
  S to_helper{0}, to_main{0};
  std::atomic<bool> stop{false};
  void ping() {
    to_helper.release();
    to_main.acquire();
  }
  void serve() {
    for (;;) {
      to_helper.acquire();
      if (stop.load(std::memory_order_acquire)) break;
      to_main.release();
    }
  }
  void finish() {
    stop.store(true, std::memory_order_release);
    to_helper.release();
  }
};

struct PosixSem {
  sem_t s;
  explicit PosixSem(int v) { sem_init(&s, 0, static_cast<unsigned>(v)); }
  ~PosixSem() { sem_destroy(&s); }
  void acquire() {
    while (sem_wait(&s) != 0) {
    }
  }
  void release() { sem_post(&s); }
};

// --- notify(n): count the threads one notify wakes --------------------------
// 8 threads wait; one notify(n) (n = 1, 2, 4) with the lock held; after the
// woken ones have run, count how many returned from wait() within 20 ms.
// Counters: woken (max over iterations), woken_min; the rest are then
// released with notify_all. Time: wall time of one whole iteration (setup
// included), not a latency figure.
constexpr int kWaiters = 8;

template <class Setup>
void notify_n(benchmark::State& state, Setup) {
  const int n = static_cast<int>(state.range(0));
  double woken_max = 0, woken_min = 1e9;
  for (auto _ : state) {
    typename Setup::Objects o;
    std::atomic<int> woken{0};
    int waiting = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.emplace_back([&] {
        Setup::lock(o);
        ++waiting;
        Setup::wait(o);  // one wait, no predicate: every return is a wake-up
        woken.fetch_add(1);
        Setup::unlock(o);
      });
    }
    for (;;) {  // all 8 are inside wait() once waiting == 8 under the lock
      Setup::lock(o);
      bool all = waiting == kWaiters;
      Setup::unlock(o);
      if (all) break;
      std::this_thread::yield();
    }
    Setup::lock(o);
    Setup::notify(o, n);
    Setup::unlock(o);
    auto deadline = bench::Clock::now() + std::chrono::milliseconds(20);
    while (bench::Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    double w = woken.load();
    woken_max = std::max(woken_max, w);
    woken_min = std::min(woken_min, w);
    while (woken.load() < kWaiters) {
      Setup::lock(o);
      Setup::notify_all(o);
      Setup::unlock(o);
      std::this_thread::yield();
    }
    for (auto& t : ts) t.join();
  }
  state.counters["woken"] = woken_max;
  state.counters["woken_min"] = woken_min;
  state.counters["asked"] = n;
}

struct PyNotify {
  struct Objects {
    threading::Lock l;
    threading::Condition c{l};
  };
  static void lock(Objects& o) { o.l.acquire(); }
  static void unlock(Objects& o) { o.l.release(); }
  static void wait(Objects& o) { o.c.wait(); }
  static void notify(Objects& o, int n) { o.c.notify(static_cast<std::size_t>(n)); }
  static void notify_all(Objects& o) { o.c.notify_all(); }
};

struct StdNotify {  // std has no notify(n): n calls to notify_one()
  struct Objects {
    std::mutex m;
    std::condition_variable cv;
  };
  static void lock(Objects& o) { o.m.lock(); }
  static void unlock(Objects& o) { o.m.unlock(); }
  static void wait(Objects& o) {
    std::unique_lock lk(o.m, std::adopt_lock);
    o.cv.wait(lk);
    lk.release();
  }
  static void notify(Objects& o, int n) {
    for (int i = 0; i < n; ++i) o.cv.notify_one();
  }
  static void notify_all(Objects& o) { o.cv.notify_all(); }
};

template <class P>
benchmark::internal::Benchmark* add_pp(const char* kase, const char* impl) {
  return reg("handoff", kase, impl, pingpong<P>)->Iterations(kRoundTrips)->UseRealTime();
}

const int registered = [] {
  add_pp<PyCondition>("Condition", "pythreading");
  add_pp<StdCondition<std::mutex, std::condition_variable, false>>("Condition", "std");
  add_pp<StdCondition<std::mutex, std::condition_variable, true>>("Condition", "std-unlocked");
#if BENCH_HAVE_ABSL
  reg("handoff", "Condition", "absl-nodd",
      [](benchmark::State& s) {
        bench::AbslDeadlockMode mode(false);
        pingpong<AbslCondition>(s);
      })
      ->Iterations(kRoundTrips)
      ->UseRealTime();
#endif
#if BENCH_HAVE_BOOST
  add_pp<StdCondition<boost::mutex, boost::condition_variable, false, boost::unique_lock>>(
      "Condition", "boost");
#endif

#ifdef BENCH_HAVE_EVENT
  add_pp<EventPingPong<threading::Event>>("Event", "pythreading");
#endif
  add_pp<EventPingPong<MutexCvEvent>>("Event", "std");
  add_pp<EventPingPong<AtomicWaitEvent>>("Event", "std-atomic");
#if BENCH_HAVE_ABSL
  reg("handoff", "Event", "absl-nodd",
      [](benchmark::State& s) {
        bench::AbslDeadlockMode mode(false);
        absl_notification(s);
      })
      ->Iterations(kRoundTrips)
      ->UseRealTime();
#endif

#ifdef BENCH_HAVE_SEMAPHORE
  add_pp<SemPingPong<threading::Semaphore>>("Semaphore", "pythreading");
#endif
  add_pp<SemPingPong<std::binary_semaphore>>("Semaphore", "std");
  add_pp<SemPingPong<std::counting_semaphore<>>>("Semaphore", "std-counting");
  add_pp<SemPingPong<PosixSem>>("Semaphore", "posix");

  for (auto [impl, fn] : {std::pair<const char*, void (*)(benchmark::State&)>{
                              "pythreading", [](benchmark::State& s) { notify_n(s, PyNotify{}); }},
                          {"std", [](benchmark::State& s) { notify_n(s, StdNotify{}); }}}) {
    reg("notify_n", "Condition", impl, fn)
        ->ArgName("n")
        ->Arg(1)
        ->Arg(2)
        ->Arg(4)
        ->Iterations(5)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}();

}  // namespace
