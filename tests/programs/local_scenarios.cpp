// local<T> scenarios that can hang, crash or abort on failure, so test_local
// runs each in a child process of its own, one per argv[1]. A scenario that
// passes prints "ok" and exits 0; a failed check prints its line on stderr and
// exits 1. Every process (fork children too) arms alarm() first, so a hang
// becomes death by SIGALRM instead of a stuck test.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "child.hpp"
#include "fork_sanitizers.hpp"
#include "threading/event.hpp"
#include "threading/local.hpp"
#include "threading/thread.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kForks = 10;  // forks are slow under the sanitizers
#else
constexpr int kForks = 60;
#endif

using threading::Event;
using threading::local;
using threading::Thread;

namespace {

// Generous: the machine may be loaded. LOCAL_SCENARIO_WATCHDOG overrides it
// (handy when checking that a scenario hangs on old code).
unsigned g_watchdog_seconds = 120;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #cond); \
      std::fflush(stderr);                                                    \
      _exit(1);                                                               \
    }                                                                         \
  } while (0)

void say(const std::string& line) {
  std::string s = line + "\n";
  (void)!write(1, s.data(), s.size());
}

// 16 MiB: four such stacks are more than glibc's 40 MiB stack cache holds, so
// a fork child unmaps some of the vanished threads' stacks once it joins a
// thread of its own.
constexpr std::size_t kBigStack = 16 << 20;

void run_thread(std::function<void()> f, std::size_t stack_size = 0) {
  auto t =
      std::make_shared<Thread>(Thread::Options{.target = std::move(f), .stack_size = stack_size});
  t->start();
  t->join();
}

// Runs `child` in a forked child (watchdog armed) and returns its status.
template <class F>
int fork_and_wait(F child) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(g_watchdog_seconds);
    child();
    _exit(0);
  }
  return test_support::wait_status(pid);
}

std::atomic<int> g_live{0};  // Counted objects alive now
struct Counted {
  int value;
  explicit Counted(int v = 0) : value(v) { g_live++; }
  Counted(const Counted&) = delete;
  ~Counted() { g_live--; }
};

// ---- never-settle: destructors that keep making values at thread exit ----
// Each Ping's destructor makes a value in the other local while `g_ping` is
// set, so the thread's values never run out. The thread must still exit, its
// leftovers must stay safe to reach from the locals' destructors, and later
// threads (which reuse the exited thread's stack and TLS) must be unaffected.
std::atomic<bool> g_ping{true};
std::atomic<int> g_pings_live{0};
struct PingA;
struct PingB;
local<PingA>* g_a = nullptr;
local<PingB>* g_b = nullptr;
struct PingA {
  PingA() { g_pings_live++; }
  ~PingA();
};
struct PingB {
  PingB() { g_pings_live++; }
  ~PingB();
};
PingA::~PingA() {
  g_pings_live--;
  if (g_ping) (void)g_b->get();
}
PingB::~PingB() {
  g_pings_live--;
  if (g_ping) (void)g_a->get();
}

int never_settle() {
  auto a = std::make_unique<local<PingA>>();
  auto b = std::make_unique<local<PingB>>();
  auto c = std::make_unique<local<Counted>>(5);
  g_a = a.get();
  g_b = b.get();
  for (int round = 0; round < 3; ++round) {
    run_thread([] { (void)g_a->get(); });  // exits with values it could not settle
    // The next thread typically reuses that thread's stack and static TLS.
    // While it holds a value, a local's destructor walks every thread's values.
    Event used, go;
    auto t = std::make_shared<Thread>([&] {
      CHECK((*c)->value == 5);
      (*c)->value = 6;
      used.set();
      go.wait();
    });
    t->start();
    used.wait();
    {
      local<int> probe(1);
      CHECK(*probe == 1);
    }
    go.set();
    t->join();
    CHECK(g_live.load() == 0);
  }
  g_ping = false;
  // Threads that settle still clean up everything at exit.
  int before = g_pings_live.load();
  run_thread([&] {
    (void)a->get();
    (void)b->get();
    (void)c->get();
  });
  CHECK(g_pings_live.load() == before);
  CHECK(g_live.load() == 0);
  c.reset();
  a.reset();  // destroys the leftovers of the unsettled threads
  b.reset();
  CHECK(g_pings_live.load() == 0);
  say("ok");
  return 0;
}

// ---- fork-vanished: the parent's threads (with values) vanish in the child ----
int fork_vanished() {
  constexpr int kThreads = 4;
  auto loc = std::make_unique<local<Counted>>(1);
  auto loc2 = std::make_unique<local<Counted>>(2);
  (*loc)->value = 100;  // the forking thread's own value
  Event go, all_ready;
  std::atomic<int> ready{0};
  std::vector<std::shared_ptr<Thread>> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.push_back(std::make_shared<Thread>(Thread::Options{.target =
                                                              [&] {
                                                                (void)loc->get();
                                                                (void)loc2->get();
                                                                if (++ready == kThreads)
                                                                  all_ready.set();
                                                                go.wait();
                                                              },
                                                          .stack_size = kBigStack}));
    ts.back()->start();
  }
  all_ready.wait();
  const int parent_live = g_live.load();
  CHECK(parent_live == 2 * kThreads + 1);
  int status = fork_and_wait([&] {
    if (kStartThreadsInChild) {
      for (int i = 0; i < 3; ++i) {
        run_thread([&] {
          CHECK((*loc)->value == 1);
          local<Counted> fresh(3);
          CHECK(fresh->value == 3);
          (*loc2)->value = 4;
        });
      }
      CHECK(g_live.load() == parent_live);  // the child's threads cleaned up after themselves
    }
    CHECK((*loc)->value == 100);
    {
      local<Counted> fresh(7);
      CHECK(fresh->value == 7);
    }
    // The vanished threads' values are left alone (their owners may have been
    // in the middle of using them): destroying the locals must not touch them.
    CHECK((*loc2)->value == 2);  // made here: the main thread had none in loc2
    CHECK(g_live.load() == parent_live + 1);
    loc2.reset();
    CHECK(g_live.load() == parent_live);
    loc.reset();
    CHECK(g_live.load() == parent_live - 1);
    say("child ok");
  });
  go.set();
  for (auto& t : ts) t->join();
  CHECK(status == 0);
  CHECK(g_live.load() == 1);  // the main thread's value of each
  loc.reset();
  loc2.reset();
  CHECK(g_live.load() == 0);
  say("ok");
  return 0;
}

// ---- fork-churn: fork repeatedly while threads that use locals come and go ----
int fork_churn() {
  auto loc = std::make_unique<local<Counted>>(1);
  (*loc)->value = 100;
  std::atomic<bool> stop{false};
  std::vector<std::shared_ptr<Thread>> churners;
  for (int i = 0; i < 2; ++i) {
    auto churn = [&] {
      (void)loc->get();  // the churners' own values vanish in every child
      while (!stop.load()) {
        run_thread(
            [&] {
              (*loc)->value++;
              local<Counted> mine(2);  // a local made and destroyed by the thread itself
              (void)mine.get();
            },
            kBigStack);
      }
    };
    churners.push_back(
        std::make_shared<Thread>(Thread::Options{.target = churn, .stack_size = kBigStack}));
    churners.back()->start();
  }
  int failures = 0;
  for (int i = 0; i < kForks; ++i) {
    int status = fork_and_wait([&] {
      CHECK((*loc)->value == 100);
      if (!kChildMayAllocateAfterBusyFork) return;
      if (kStartThreadsInChild) {
        for (int j = 0; j < 2; ++j) run_thread([&] { CHECK((*loc)->value == 1); });
      }
      {
        local<Counted> fresh(3);
        CHECK(fresh->value == 3);
      }
      loc.reset();
    });
    if (status != 0) {
      std::fprintf(stderr, "fork %d: child status %d\n", i, status);
      ++failures;
    }
  }
  stop = true;
  for (auto& t : churners) t->join();
  CHECK(failures == 0);
  loc.reset();
  CHECK(g_live.load() == 0);
  say("ok");
  return 0;
}

// ---- nested: a thread's value owns another local the thread also used ----
struct Holder {
  std::unique_ptr<local<Counted>> inner;
  Holder() { g_live++; }
  ~Holder() { g_live--; }
};

// A value that destroys its own local (its owner handed it the only handle).
struct OwnsItsLocal {
  std::unique_ptr<local<OwnsItsLocal>>* self = nullptr;
  ~OwnsItsLocal() {
    if (self != nullptr) self->reset();
  }
};

int nested() {
  // Outer made first: at exit the Holder goes first and destroys `inner`
  // while the thread still has a value in it.
  {
    local<Holder> outer;
    run_thread([&] {
      outer->inner = std::make_unique<local<Counted>>(1);
      (*outer->inner)->value = 2;
    });
    CHECK(g_live.load() == 0);
  }
  // The other order: inner gets a smaller (recycled) id than outer, so the
  // thread's inner value goes first and then the Holder destroys the local.
  {
    auto spare = std::make_unique<local<int>>();
    local<Holder> outer;
    spare.reset();  // frees an id below outer's for `inner` to take
    run_thread([&] {
      outer->inner = std::make_unique<local<Counted>>(1);
      (void)outer->inner->get();
    });
    CHECK(g_live.load() == 0);
  }
  // Several threads, each with its own inner, sharing nothing but outer; and
  // one inner used by threads that do not own it.
  {
    local<Holder> outer;
    auto shared_inner = std::make_unique<local<Counted>>(9);
    local<Counted>* shared = shared_inner.get();
    run_thread([&] {
      outer->inner = std::move(shared_inner);
      (void)outer->inner->get();
      run_thread([&] { (void)shared->get(); });  // its value died with that thread
    });
    CHECK(g_live.load() == 0);
  }
  // A value that destroys its own local at thread exit.
  {
    auto self = std::make_unique<local<OwnsItsLocal>>();
    run_thread([&] { (*self)->self = &self; });
    CHECK(self == nullptr);
  }
  say("ok");
  return 0;
}

// ---- late-key: another key's destructor uses a local in every round ----
// glibc runs key destructors in rounds, in key order, at most
// PTHREAD_DESTRUCTOR_ITERATIONS of them. This key (made after the registry's)
// re-arms itself and makes a value after the registry's destructor in every
// round, the last one included: that value outlives the thread's cleanup.
pthread_key_t g_late_key;
local<Counted>* g_late_local = nullptr;

void late_key_destructor(void* p) {
  (*g_late_local)->value++;
  pthread_setspecific(g_late_key, p);
}

int late_key() {
  auto loc = std::make_unique<local<Counted>>(1);
  g_late_local = loc.get();
  (void)loc->get();  // the registry's key exists before ours
  CHECK(pthread_key_create(&g_late_key, &late_key_destructor) == 0);
  for (int round = 0; round < 3; ++round) {
    run_thread([] {
      (void)g_late_local->get();
      CHECK(pthread_setspecific(g_late_key, g_late_local) == 0);
    });
    CHECK(g_live.load() == 2 + round);  // main's, and one left by each such thread
    // The next thread typically reuses that thread's stack and TLS.
    Event used, go;
    auto t = std::make_shared<Thread>([&] {
      (void)loc->get();
      used.set();
      go.wait();
    });
    t->start();
    used.wait();
    {
      local<int> probe(1);  // walks every thread's record
      CHECK(*probe == 1);
    }
    go.set();
    t->join();
  }
  CHECK(g_live.load() == 4);
  loc.reset();  // destroys the values left behind too
  CHECK(g_live.load() == 0);
  say("ok");
  return 0;
}

// ---- key-exhausted: pthread_key_create fails: a clear fatal error ----
int key_exhausted() {
  pthread_key_t k;
  int rc = 0;
  for (int i = 0; i < 100000 && (rc = pthread_key_create(&k, nullptr)) == 0; ++i) {
  }
  CHECK(rc == EAGAIN);
  local<int> loc(1);  // the first local creates the registry's key: must die loudly
  (void)loc.get();
  say("survived");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* s = std::getenv("LOCAL_SCENARIO_WATCHDOG")) g_watchdog_seconds = std::atoi(s);
  alarm(g_watchdog_seconds);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "never-settle") return never_settle();
  if (mode == "fork-vanished") return fork_vanished();
  if (mode == "fork-churn") return fork_churn();
  if (mode == "nested") return nested();
  if (mode == "late-key") return late_key();
  if (mode == "key-exhausted") return key_exhausted();
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
