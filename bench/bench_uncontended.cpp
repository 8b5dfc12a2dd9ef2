// Group "uncontended": one thread, acquire + release of a free lock.
#include <pthread.h>
#include <semaphore.h>

#include <mutex>
#include <semaphore>

#include "common.hpp"
#include "threading/condition.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#if defined(PYTHREADING_BENCH_HAVE_SEMAPHORE)
#include "threading/semaphore.hpp"
#define BENCH_HAVE_SEMAPHORE 1
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/mutex.hpp>
#include <boost/thread/recursive_mutex.hpp>
#endif

namespace {

using bench::reg;

// std-style Lockable.
template <class M>
void lock_unlock(benchmark::State& state) {
  M m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
    benchmark::ClobberMemory();
  }
}

// Python-style acquire()/release().
template <class M>
void acquire_release(benchmark::State& state) {
  M m;
  for (auto _ : state) {
    m.acquire();
    m.release();
    benchmark::ClobberMemory();
  }
}

// Re-entrant: hold one level, then time one more level.
template <class M, class Acq, class Rel>
void nested(benchmark::State& state, Acq acq, Rel rel) {
  M m;
  acq(m);
  for (auto _ : state) {
    acq(m);
    rel(m);
    benchmark::ClobberMemory();
  }
  rel(m);
}

void pthread_mutex(benchmark::State& state) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  for (auto _ : state) {
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    benchmark::ClobberMemory();
  }
  pthread_mutex_destroy(&m);
}

void posix_sem(benchmark::State& state) {
  sem_t s;
  sem_init(&s, 0, 1);
  for (auto _ : state) {
    sem_wait(&s);
    sem_post(&s);
    benchmark::ClobberMemory();
  }
  sem_destroy(&s);
}

template <class S>
void std_sem(benchmark::State& state) {
  S s(1);
  for (auto _ : state) {
    s.acquire();
    s.release();
    benchmark::ClobberMemory();
  }
}

#if BENCH_HAVE_ABSL
void absl_mutex(benchmark::State& state, bool detect) {
  bench::AbslDeadlockMode mode(detect);
  absl::Mutex m;
  for (auto _ : state) {
    m.Lock();
    m.Unlock();
    benchmark::ClobberMemory();
  }
}
#endif

void condition_over_lock(benchmark::State& state) {
  threading::Lock l;
  threading::Condition c(l);
  for (auto _ : state) {
    c.acquire();
    c.release();
    benchmark::ClobberMemory();
  }
}

void condition_default(benchmark::State& state) {
  threading::Condition c;  // owns an RLock, as Python's Condition()
  for (auto _ : state) {
    c.acquire();
    c.release();
    benchmark::ClobberMemory();
  }
}

const int registered = [] {
  const char* g = "uncontended";
  // Lock
  reg(g, "Lock", "pythreading", acquire_release<threading::Lock>);
  reg(g, "Lock", "std", lock_unlock<std::mutex>);
  reg(g, "Lock", "posix", pthread_mutex);
  reg(g, "TimedLock", "pythreading", acquire_release<threading::Lock>);
  reg(g, "TimedLock", "std", lock_unlock<std::timed_mutex>);
#if BENCH_HAVE_ABSL
  reg(g, "Lock", "absl", [](benchmark::State& s) { absl_mutex(s, true); });
  reg(g, "Lock", "absl-nodd", [](benchmark::State& s) { absl_mutex(s, false); });
#endif
#if BENCH_HAVE_BOOST
  reg(g, "Lock", "boost", lock_unlock<boost::mutex>);
  reg(g, "TimedLock", "boost", lock_unlock<boost::timed_mutex>);
#endif
  // RLock
  reg(g, "RLock", "pythreading", acquire_release<threading::RLock>);
  reg(g, "RLock", "std", lock_unlock<std::recursive_mutex>);
  auto py_acq = [](auto& m) { m.acquire(); };
  auto py_rel = [](auto& m) { m.release(); };
  auto std_acq = [](auto& m) { m.lock(); };
  auto std_rel = [](auto& m) { m.unlock(); };
  reg(g, "RLock-nested", "pythreading",
      [=](benchmark::State& s) { nested<threading::RLock>(s, py_acq, py_rel); });
  reg(g, "RLock-nested", "std",
      [=](benchmark::State& s) { nested<std::recursive_mutex>(s, std_acq, std_rel); });
#if BENCH_HAVE_BOOST
  reg(g, "RLock", "boost", lock_unlock<boost::recursive_mutex>);
  reg(g, "RLock-nested", "boost",
      [=](benchmark::State& s) { nested<boost::recursive_mutex>(s, std_acq, std_rel); });
#endif
  // Condition: its acquire/release is its lock's; std's counterpart is the
  // mutex a std::condition_variable is used with.
  reg(g, "Condition(Lock)", "pythreading", condition_over_lock);
  reg(g, "Condition(Lock)", "std", lock_unlock<std::mutex>);
  reg(g, "Condition()", "pythreading", condition_default);
  reg(g, "Condition()", "std", lock_unlock<std::recursive_mutex>);
  // Semaphores
#ifdef BENCH_HAVE_SEMAPHORE
  reg(g, "Semaphore", "pythreading", acquire_release<threading::Semaphore>);
  reg(g, "BoundedSemaphore", "pythreading", acquire_release<threading::BoundedSemaphore>);
#endif
  reg(g, "Semaphore", "std", std_sem<std::counting_semaphore<>>);
  reg(g, "Semaphore", "posix", posix_sem);
  reg(g, "BoundedSemaphore", "std", std_sem<std::counting_semaphore<>>);
  reg(g, "BoundedSemaphore", "posix", posix_sem);
  return 0;
}();

}  // namespace
