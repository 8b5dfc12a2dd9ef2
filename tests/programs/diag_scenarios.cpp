// Diagnostics scenarios for test_diagnostics, one per argv[1]: each sets up a
// kind of wait, waits (by polling the dump, never by sleeping) until the
// blocked thread is recorded, prints the dump to stdout, then undoes the wait
// and exits normally. The deadlock scenarios leave daemon threads blocked.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "child.hpp"
#include "threading/threading.hpp"

using threading::Thread;

namespace {

void say(const std::string& text) {
  std::string s = text + "\n";
  (void)!write(1, s.data(), s.size());
}

std::shared_ptr<Thread> spawn(const char* name, std::function<void()> f, bool daemon = false) {
  auto t = std::make_shared<Thread>(
      Thread::Options{.target = std::move(f), .name = name, .daemon = daemon});
  t->start();
  return t;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Polls the dump until it contains every one of `needles`, a needle listed k
// times at least k times (one per thread that must show it); returns it.
std::string dump_when(std::initializer_list<const char*> needles) {
  for (;;) {
    std::string d = threading::dump_threads_string();
    bool all = true;
    for (const char* n : needles) {
      std::size_t wanted = 0;
      for (const char* m : needles) wanted += std::string(m) == n;
      all = all && occurrences(d, n) >= wanted;
    }
    if (all) return d;
    sched_yield();
  }
}

int rlock(bool timed) {
  threading::RLock r;
  threading::Event taken, go;
  auto holder = spawn("holder", [&] {
    r.acquire();
    taken.set();
    go.wait();
    r.release();
  });
  taken.wait();  // so the waiter surely finds it taken
  auto waiter = spawn("waiter", [&] {
    if (timed) {
      CHILD_CHECK(r.acquire(true, 1000.0));
    } else {
      r.acquire();
    }
    r.release();
  });
  say(dump_when({"waiting to acquire RLock"}));
  go.set();
  holder->join();
  waiter->join();
  say("after:\n" + threading::dump_threads_string());
  return 0;
}

int lock(bool debug) {
  if (debug) threading::set_debug_locks(true);
  threading::Lock l;
  threading::Event taken, go;
  auto holder = spawn("holder", [&] {
    l.acquire();
    taken.set();
    go.wait();
    l.release();
  });
  taken.wait();
  auto waiter = spawn("waiter", [&] { std::lock_guard g(l); });
  say(dump_when({"waiting to acquire Lock"}));
  go.set();
  holder->join();
  waiter->join();
  return 0;
}

int semaphore(bool debug) {
  if (debug) threading::set_debug_locks(true);
  threading::Semaphore s(1);
  s.acquire();  // main is the last acquirer
  auto waiter = spawn("waiter", [&] { s.acquire(); });
  say(dump_when({"waiting to acquire Semaphore"}));
  s.release();
  waiter->join();
  return 0;
}

int condition() {
  threading::Condition c;
  bool ready = false;
  auto waiter = spawn("waiter", [&] {
    std::lock_guard g(c);
    c.wait_for([&] { return ready; });
  });
  say(dump_when({"waiting on Condition"}));
  {
    std::lock_guard g(c);
    ready = true;
    c.notify();
    // Notified, the waiter now waits for the lock this thread holds.
    say(dump_when({"notified, re-acquiring its RLock"}));
  }
  waiter->join();
  return 0;
}

int event() {
  threading::Event e;
  auto waiter = spawn("waiter", [&] { e.wait(1000.0); });
  say(dump_when({"waiting on Event", "timeout in"}));
  e.set();
  waiter->join();
  return 0;
}

int barrier() {
  threading::Barrier b(3);
  auto w1 = spawn("first", [&] { b.wait(); });
  auto w2 = spawn("second", [&] { b.wait(); });
  // Both lines: each thread's line reads the count when it is written, so a
  // dump taken as "second" arrives can show "1 of 3" for "first".
  say(dump_when({"(2 of 3 arrived)", "(2 of 3 arrived)"}));
  b.wait();
  w1->join();
  w2->join();
  return 0;
}

int join() {
  threading::Event go;
  auto target = spawn("target", [&] { go.wait(); });
  auto joiner = spawn("joiner", [&] { target->join(); });
  say(dump_when({"waiting to join \"target\""}));
  go.set();
  joiner->join();
  return 0;
}

int queue() {
  threading::queue::Queue<int> empty;
  threading::queue::Queue<int> full(1);
  full.put(1);
  auto getter = spawn("getter", [&] { (void)empty.get(); });
  auto putter = spawn("putter", [&] { full.put(2); });
  say(dump_when({"in Queue.get", "in Queue.put"}));
  empty.put(0);
  (void)full.get();
  getter->join();
  putter->join();
  return 0;
}

// Two threads take two locks in opposite orders; each holds one and waits for
// the other. Daemon threads: the process exits leaving them blocked.
template <class L>
int deadlock(bool debug) {
  if (debug) threading::set_debug_locks(true);
  static L a, b;
  static threading::Barrier both(2);
  auto t1 = spawn(
      "left",
      [] {
        a.acquire();
        both.wait();
        b.acquire();
      },
      true);
  auto t2 = spawn(
      "right",
      [] {
        b.acquire();
        both.wait();
        a.acquire();
      },
      true);
  dump_when({"waiting to acquire", "waiting to acquire"});  // both on their second lock
  auto cycles = threading::find_deadlocks();
  say("cycles=" + std::to_string(cycles.size()));
  for (auto& c : cycles) {
    std::string line = "cycle:";
    for (auto& t : c) line += " " + (t ? t->name() : std::string("?"));
    say(line);
  }
  say(threading::dump_threads_string());
  return 0;
}

int join_deadlock() {
  static std::shared_ptr<Thread> t1, t2;
  static threading::Event both;
  t1 = std::make_shared<Thread>(Thread::Options{.target =
                                                    [] {
                                                      both.wait();
                                                      t2->join();
                                                    },
                                                .name = "j1",
                                                .daemon = true});
  t2 = std::make_shared<Thread>(Thread::Options{.target =
                                                    [] {
                                                      both.wait();
                                                      t1->join();
                                                    },
                                                .name = "j2",
                                                .daemon = true});
  t1->start();
  t2->start();
  both.set();
  for (;;) {
    auto cycles = threading::find_deadlocks();
    if (!cycles.empty()) {
      std::string line = "cycle:";
      for (auto& t : cycles[0]) line += " " + t->name();
      say(line);
      break;
    }
    sched_yield();
  }
  return 0;
}

// Lock-order inversion: "first" takes A then B, "second" (after it) B then A.
// No deadlock happens; debug mode still reports the cycle, once.
int inversion(bool debug, bool custom) {
  if (debug) threading::set_debug_locks(true);
  static threading::Lock a;
  static threading::RLock b;
  int reports = 0;
  if (custom) {
    threading::set_lock_order_handler([&](const threading::LockOrderReport& r) {
      ++reports;
      say("report edges=" + std::to_string(r.edges.size()));
      for (auto& e : r.edges) {
        say("edge " + e.thread_name + " " + e.acquired_kind + " while holding " + e.held_kind);
      }
    });
  }
  auto run = [](const char* name, bool ab) {
    auto t = spawn(name, [ab] {
      for (int i = 0; i < 3; ++i) {
        if (ab) {
          std::lock_guard g1(a);
          std::lock_guard g2(b);
        } else {
          std::lock_guard g1(b);
          std::lock_guard g2(a);
        }
      }
    });
    t->join();
  };
  run("first", true);
  run("second", false);
  run("third", false);
  say("reports=" + std::to_string(reports));
  say(std::string("debug=") + (threading::debug_locks() ? "1" : "0"));
  return 0;
}

int on_signal() {
  threading::dump_threads_on_signal(SIGUSR1);
  threading::RLock r;
  threading::Event taken, go;
  auto holder = spawn("sig-holder", [&] {
    r.acquire();
    taken.set();
    go.wait();
    r.release();
  });
  taken.wait();  // so the waiter surely finds it taken
  auto waiter = spawn("sig-waiter", [&] {
    r.acquire();
    r.release();
  });
  dump_when({"waiting to acquire RLock"});
  say("raising");
  raise(SIGUSR1);  // delivered to this thread before raise() returns
  go.set();
  holder->join();
  waiter->join();
  return 0;
}

// Threads whose first wait comes in a pthread key destructor, after their C++
// thread_local destructors have run: each one's wait record must still be
// given back when it ends. It stayed claimed (and its thread_local
// registration leaked, as LeakSanitizer reports) when a thread_local
// destructor owned it, so after the table's 4096 records no thread's wait was
// shown any more.
int late_first_wait() {
  static pthread_key_t key;
  CHILD_CHECK(pthread_key_create(&key, [](void*) {
                threading::Event never;
                (void)never.wait(0.0001);  // parks: claims the thread's record
              }) == 0);
  for (int round = 0; round < 4096 / 8 + 1; ++round) {
    std::thread batch[8];
    for (auto& t : batch) t = std::thread([] { CHILD_CHECK(pthread_setspecific(key, &key) == 0); });
    for (auto& t : batch) t.join();
  }
  threading::Event go;
  auto probe = spawn("probe", [&] { go.wait(); });
  // Bounded: with no record left the line never comes.
  bool shown = false;
  for (int i = 0; i < 200000 && !shown; ++i) {
    shown = threading::dump_threads_string().find("waiting on Event") != std::string::npos;
    if (!shown) sched_yield();
  }
  go.set();
  probe->join();
  say(shown ? "probe shown" : "probe not shown");
  return 0;
}

// No diagnostics called: the program's output is just its own.
int plain() {
  threading::Lock l;
  threading::RLock r;
  threading::Semaphore s(2);
  auto t = spawn("worker", [&] {
    for (int i = 0; i < 1000; ++i) {
      std::lock_guard g1(l);
      std::lock_guard g2(r);
      s.acquire();
      s.release();
    }
  });
  // The opposite order only after the worker is done: an inversion that debug
  // mode would report, but never a real deadlock (the two loops overlapping
  // could deadlock for real).
  t->join();
  for (int i = 0; i < 1000; ++i) {
    std::lock_guard g1(r);
    std::lock_guard g2(l);
  }
  say(std::string("debug=") + (threading::debug_locks() ? "1" : "0"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string m = argv[1];
  if (m == "rlock") return rlock(false);
  if (m == "rlock-timed") return rlock(true);
  if (m == "lock") return lock(false);
  if (m == "lock-debug") return lock(true);
  if (m == "semaphore") return semaphore(false);
  if (m == "semaphore-debug") return semaphore(true);
  if (m == "condition") return condition();
  if (m == "event") return event();
  if (m == "barrier") return barrier();
  if (m == "join") return join();
  if (m == "queue") return queue();
  if (m == "deadlock-rlock") return deadlock<threading::RLock>(false);
  if (m == "deadlock-lock") return deadlock<threading::Lock>(false);
  if (m == "deadlock-lock-debug") return deadlock<threading::Lock>(true);
  if (m == "deadlock-join") return join_deadlock();
  if (m == "inversion") return inversion(true, true);
  if (m == "inversion-default") return inversion(true, false);
  if (m == "inversion-off") return inversion(false, true);
  if (m == "signal") return on_signal();
  if (m == "plain") return plain();
  if (m == "late-first-wait") return late_first_wait();
  return 2;
}
