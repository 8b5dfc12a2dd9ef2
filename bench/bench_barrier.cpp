// Group "barrier": `parties` threads pass the same barrier again and again.
// Time is wall time per generation (all parties through once); the counter
// gens_per_s is its inverse. 8 parties on the 2-core suite machine means most
// of every generation is spent waking sleeping threads.
#include <pthread.h>

#include <barrier>
#include <thread>

#include "common.hpp"
#if defined(PYTHREADING_BENCH_HAVE_BARRIER)
#include "threading/barrier.hpp"
#endif
#if BENCH_HAVE_BOOST
#include <boost/thread/barrier.hpp>
#endif

namespace {

using bench::reg;

// B is built with B(parties); W(B&) passes the barrier once.
template <class B, class W>
void generations(benchmark::State& state, W pass) {
  const int parties = static_cast<int>(state.range(0));
  const int gens = parties <= 2 ? 20000 : 2000;
  double total_gens = 0, total_s = 0;
  for (auto _ : state) {
    B b(parties);
    bench::Gate gate;
    std::vector<std::thread> ts;
    for (int i = 0; i < parties; ++i) {
      ts.emplace_back([&] {
        gate.arrive_and_wait();
        for (int g = 0; g < gens; ++g) pass(b);
      });
    }
    gate.wait_ready(parties);
    auto t0 = bench::Clock::now();
    gate.open();
    for (auto& t : ts) t.join();
    double secs = bench::seconds_between(t0, bench::Clock::now());
    state.SetIterationTime(secs / gens);  // per generation
    total_gens += gens;
    total_s += secs;
  }
  state.counters["gens_per_s"] = total_gens / total_s;
}

struct PthreadBarrier {
  pthread_barrier_t b;
  explicit PthreadBarrier(int n) { pthread_barrier_init(&b, nullptr, static_cast<unsigned>(n)); }
  ~PthreadBarrier() { pthread_barrier_destroy(&b); }
};

template <class B, class W>
void add(const char* impl, W pass) {
  reg("barrier", "Barrier", impl, [pass](benchmark::State& s) { generations<B>(s, pass); })
      ->ArgName("parties")
      ->Arg(2)
      ->Arg(8)
      ->Iterations(3)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

const int registered = [] {
#if defined(PYTHREADING_BENCH_HAVE_BARRIER)
  add<threading::Barrier>("pythreading", [](threading::Barrier& b) { b.wait(); });
#endif
  add<std::barrier<>>("std", [](std::barrier<>& b) { b.arrive_and_wait(); });
  add<PthreadBarrier>("posix", [](PthreadBarrier& b) { pthread_barrier_wait(&b.b); });
#if BENCH_HAVE_BOOST
  add<boost::barrier>("boost", [](boost::barrier& b) { b.wait(); });
#endif
  return 0;
}();

}  // namespace
