// Exits while daemon threads (and detached foreign threads) hammer every
// library object: locks, conditions, events, current_thread(), enumerate(),
// local<T>, thread creation, timers. test_exit runs it many times: the
// process must always exit 0 with "ok" and nothing on stderr. argv[1] = "exit"
// calls std::exit(0) instead of returning; "quick" exits without waiting for
// the workers to get going.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "threading/condition.hpp"
#include "threading/event.hpp"
#include "threading/local.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/thread.hpp"
#include "threading/timer.hpp"

using threading::Thread;

#if defined(__SANITIZE_THREAD__)
// Daemon threads are abandoned at exit by design; a finished daemon whose
// Thread object a daemon still holds is not yet joined or detached then.
extern "C" const char* __tsan_default_options() { return "report_thread_leaks=0"; }
#endif

namespace {

// Shared objects live on the heap and are never freed: as in any program
// with daemon threads, what they use must outlive exit().
struct Shared {
  threading::Lock lock;
  threading::RLock rlock;
  threading::Condition cond;
  threading::Event event;
  threading::local<std::vector<int>> local{4, 1};
  long counter = 0;
  std::atomic<int> progress[8] = {};
};
Shared* g = new Shared;

std::shared_ptr<Thread> daemon(std::function<void()> f) {
  auto t = std::make_shared<Thread>(Thread::Options{.target = std::move(f), .daemon = true});
  t->start();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  for (int copy = 0; copy < 2; ++copy) {
    daemon([] {
      for (;;) {
        g->lock.acquire();
        ++g->counter;
        g->lock.release();
        g->progress[0]++;
      }
    });
    daemon([] {
      for (;;) {
        std::lock_guard r(g->rlock);
        std::lock_guard r2(g->rlock);
        g->progress[1]++;
      }
    });
    daemon([] {
      for (;;) {
        std::unique_lock l(g->cond);
        g->cond.notify_all();
        g->cond.wait(0.001);
        g->progress[2]++;
      }
    });
    daemon([] {
      for (;;) {
        g->event.set();
        g->event.clear();
        g->event.wait(0.0005);
        g->progress[3]++;
      }
    });
    daemon([] {
      for (;;) {
        auto me = threading::current_thread();
        (void)threading::enumerate();
        (void)threading::active_count();
        (void)me->name();
        g->local->push_back(1);
        if (g->local->size() > 1000) g->local->clear();
        g->progress[4]++;
      }
    });
    daemon([] {
      for (;;) {
        auto t = std::make_shared<Thread>(Thread::Options{
            .target = [] { (void)threading::current_thread()->name(); }, .daemon = true});
        try {
          t->start();
          t->join(0.01);
        } catch (const threading::RuntimeError&) {
        }
        auto timer = std::make_shared<threading::Timer>(0.0, [] { g->progress[6]++; });
        timer->daemon(true);
        timer->start();
        g->progress[5]++;
      }
    });
    std::thread([] {  // a foreign thread, with a dummy
      for (;;) {
        (void)threading::current_thread();
        g->local->push_back(2);
        if (g->local->size() > 1000) g->local->clear();
        g->progress[7]++;
      }
    })
        .detach();
  }
  if (mode != "quick") {
    for (auto& p : g->progress) {
      while (p.load() < 20) std::this_thread::yield();
    }
  }
  (void)!write(1, "ok\n", 3);
  if (mode == "exit") std::exit(0);
  return 0;
}
