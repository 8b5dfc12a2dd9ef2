// Process-exit scenarios for test_exit, one per argv[1]. Each prints lines to
// stdout (unbuffered, one write per line) so the test can check their order.
// Sleeps here only simulate work that outlives main.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "threading/event.hpp"
#include "threading/thread.hpp"

using threading::Thread;

namespace {

void say(const std::string& line) {
  std::string s = line + "\n";
  (void)!write(1, s.data(), s.size());
}

void nap(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct SaysOnDestruction {
  const char* text;
  ~SaysOnDestruction() { say(text); }
};

// main returns (or calls std::exit) while a non-daemon worker is still busy.
int nondaemon(bool use_exit) {
  std::atexit([] { say("atexit registered before start"); });
  auto worker = std::make_shared<Thread>([] {
    threading::main_thread()->join();  // released when main's code has finished
    say(std::string("worker sees main alive=") +
        (threading::main_thread()->is_alive() ? "1" : "0"));
    nap(200);
    say("worker done");
  });
  worker->start();
  worker.reset();  // dropping the handle changes nothing
  std::atexit([] { say("atexit registered after start"); });
  static SaysOnDestruction late{"static destroyed"};  // constructed after start()
  say("main done");
  if (use_exit) std::exit(4);
  return 3;
}

// A non-main thread calls std::exit while another non-daemon thread works.
int thread_exit() {
  std::atexit([] { say("atexit"); });
  threading::Event b_started;
  auto a = std::make_shared<Thread>([&] {
    b_started.wait();
    nap(200);
    say("A done");
  });
  auto b = std::make_shared<Thread>([&] {
    b_started.set();
    say("B exiting");
    std::exit(5);
  });
  a->start();
  b->start();
  b->join();  // never returns: B ends the process
  return 0;
}

// A non-daemon thread started during the exit wait is waited for too.
int nested() {
  auto w1 = std::make_shared<Thread>([] {
    threading::main_thread()->join();
    auto w2 = std::make_shared<Thread>([] {
      nap(100);
      say("w2 done");
    });
    w2->start();
    say("w1 done");
  });
  w1->start();
  say("main done");
  return 0;
}

// An exception kills a worker: reported on stderr, exit status unchanged.
int exception() {
  auto t = std::make_shared<Thread>([] { throw std::runtime_error("boom"); });
  t->start();
  t->join();
  auto u = std::make_shared<Thread>(Thread::Options{
      .target = [] { throw std::out_of_range("index 7"); }, .name = "named worker"});
  u->start();
  u->join();
  say("main done");
  return 0;
}

// Daemon threads are abandoned: no wait, no cleanup run.
int daemon() {
  // What a daemon uses must outlive main (never freed), as in any program.
  auto* started = new threading::Event;
  auto* never = new threading::Event;
  auto blocked = std::make_shared<Thread>(Thread::Options{.target =
                                                              [=] {
                                                                SaysOnDestruction cleanup{
                                                                    "daemon cleanup ran"};
                                                                started->set();
                                                                never->wait();
                                                              },
                                                          .daemon = true});
  auto sleeper = std::make_shared<Thread>(Thread::Options{.target =
                                                              [] {
                                                                nap(60000);
                                                                say("sleeper woke");
                                                              },
                                                          .daemon = true});
  blocked->start();
  sleeper->start();
  started->wait();
  say("main done");
  return 0;
}

// main_thread() joined from a worker is released at exit, before the wait.
int join_main() {
  auto t = std::make_shared<Thread>([] {
    threading::main_thread()->join();
    say("main joined");
  });
  t->start();
  say("main done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "return") return nondaemon(false);
  if (mode == "exit") return nondaemon(true);
  if (mode == "thread-exit") return thread_exit();
  if (mode == "nested") return nested();
  if (mode == "exception") return exception();
  if (mode == "daemon") return daemon();
  if (mode == "join-main") return join_main();
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 100;
}
