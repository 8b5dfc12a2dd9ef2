// Entry point: starts (and joins) one thread before any measurement, because
// glibc skips the atomic instructions in its own locks while a process has
// never started a thread, which would flatter std::mutex and friends.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <string>
#include <thread>

int main(int argc, char** argv) {
  std::thread([] {}).join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("online_cpus", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
  benchmark::AddCustomContext("started_thread_before_measuring", "yes");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
