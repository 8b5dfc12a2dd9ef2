// A joiner cancelled (pthread_cancel) while it waits inside join() must not
// leave the joined Thread's join state stuck: the others still join it.
// Mode "untimed" cancels a join(), "timed" a join(1000.0). Prints "joined".
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "threading/event.hpp"
#include "threading/thread.hpp"

using threading::Event;
using threading::Thread;

namespace {
// The target's run() returns at once, but its OS thread then waits in a
// thread_local's destructor until released: a joiner that gets past the
// wait for run() to end blocks inside pthread_join (a cancellation point).
Event g_exiting, g_let_exit;
struct HoldsTheExit {
  ~HoldsTheExit() {
    g_exiting.set();
    g_let_exit.wait();
  }
};
thread_local HoldsTheExit t_holds;
}  // namespace

int main(int argc, char** argv) {
  alarm(120);  // a stuck join is a failure, not a hung test (SIGALRM: status 142)
  bool timed = argc > 1 && std::strcmp(argv[1], "timed") == 0;
  auto target = std::make_shared<Thread>([] { (void)&t_holds; });
  target->start();
  g_exiting.wait();
  Event joining;
  pthread_t joiner_handle{};
  auto joiner = std::make_shared<Thread>([&] {
    joiner_handle = pthread_self();
    joining.set();
    // The first cancellation point it reaches is the pthread_join inside.
    if (timed) {
      target->join(1000.0);
    } else {
      target->join();
    }
    std::puts("joiner was not cancelled");
  });
  joiner->start();
  joining.wait();
  pthread_cancel(joiner_handle);
  joiner->join();  // it unwound through join(); it is stopped
  if (joiner->is_alive()) return 3;
  g_let_exit.set();
  auto other = std::make_shared<Thread>([&] { target->join(); });
  other->start();
  other->join();
  target->join();
  target->join(0.0);
  if (target->is_alive()) return 4;
  std::puts("joined");
  return 0;
}
