// A deadlock, found from inside the program: two threads take two RLocks in
// opposite orders and block each other for good; a watchdog thread asks
// threading::find_deadlocks() every 10 ms, prints the cycle and the thread
// dump, and lets main return. The two stuck threads are daemons, so the
// process exits cleanly without them (as in Python).
//
// With threading::set_debug_locks(true) at the top, the library would also
// have reported the inverted lock order on stderr, before the hang.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "threading/barrier.hpp"
#include "threading/diagnostics.hpp"
#include "threading/event.hpp"
#include "threading/rlock.hpp"
#include "threading/thread.hpp"

using threading::Thread;

int main() {
  static threading::RLock accounts, audit_log;
  static threading::Barrier both_hold_one(2);  // makes the deadlock certain

  auto transfer =
      std::make_shared<Thread>(Thread::Options{.target =
                                                   [] {
                                                     accounts.acquire();
                                                     both_hold_one.wait();
                                                     audit_log.acquire();  // never returns
                                                   },
                                               .name = "transfer",
                                               .daemon = true});
  auto report = std::make_shared<Thread>(Thread::Options{.target =
                                                             [] {
                                                               audit_log.acquire();
                                                               both_hold_one.wait();
                                                               accounts.acquire();  // never returns
                                                             },
                                                         .name = "report",
                                                         .daemon = true});

  threading::Event found;
  auto watchdog = std::make_shared<Thread>(
      Thread::Options{.target =
                          [&] {
                            for (;;) {
                              auto cycles = threading::find_deadlocks();
                              if (!cycles.empty()) {
                                std::string names;
                                for (auto& t : cycles.front())
                                  names += (names.empty() ? "" : " -> ") + t->name();
                                std::printf("watchdog: deadlock between %s\n\n", names.c_str());
                                std::fflush(stdout);
                                threading::dump_threads(std::cout);
                                found.set();
                                return;
                              }
                              std::this_thread::sleep_for(std::chrono::milliseconds(10));
                            }
                          },
                      .name = "watchdog"});

  transfer->start();
  report->start();
  watchdog->start();
  found.wait();
  watchdog->join();
  std::printf("\nmain: exiting; the deadlocked daemon threads are abandoned\n");
  return 0;
}
