// Group "local": read-modify-write of the calling thread's own value, after
// it exists (the hot path). thread_local is the compiler's floor; boost's
// thread_specific_ptr and pthread_getspecific are the library alternatives.
#include <pthread.h>

#include "common.hpp"
#if defined(PYTHREADING_BENCH_HAVE_LOCAL)
#include "threading/local.hpp"
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/tss.hpp>
#endif

namespace {

using bench::reg;

#if defined(PYTHREADING_BENCH_HAVE_LOCAL)
void py_local(benchmark::State& state) {
  threading::local<long> v;
  v.get() = 0;
  benchmark::DoNotOptimize(&v);
  for (auto _ : state) {
    ++v.get();
    benchmark::ClobberMemory();  // v escaped: get() must run again
  }
}
#endif

thread_local long tls_value = 0;
void std_thread_local(benchmark::State& state) {
  for (auto _ : state) {
    ++tls_value;
    benchmark::ClobberMemory();
  }
}

void posix_getspecific(benchmark::State& state) {
  pthread_key_t key;
  pthread_key_create(&key, [](void* p) { delete static_cast<long*>(p); });
  pthread_setspecific(key, new long(0));
  for (auto _ : state) {
    ++*static_cast<long*>(pthread_getspecific(key));
    benchmark::ClobberMemory();
  }
  delete static_cast<long*>(pthread_getspecific(key));
  pthread_setspecific(key, nullptr);
  pthread_key_delete(key);
}

#if BENCH_HAVE_BOOST
void boost_tss(benchmark::State& state) {
  boost::thread_specific_ptr<long> p;
  p.reset(new long(0));
  benchmark::DoNotOptimize(&p);
  for (auto _ : state) {
    ++*p.get();
    benchmark::ClobberMemory();
  }
}
#endif

const int registered = [] {
#if defined(PYTHREADING_BENCH_HAVE_LOCAL)
  reg("local", "get", "pythreading", py_local);
#endif
  reg("local", "get", "std", std_thread_local);
  reg("local", "get", "posix", posix_getspecific);
#if BENCH_HAVE_BOOST
  reg("local", "get", "boost", boost_tss);
#endif
  return 0;
}();

}  // namespace
