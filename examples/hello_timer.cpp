// The Timer example from Python's threading documentation, in C++:
//
//   def hello():
//       print("hello, world")
//
//   t = Timer(30.0, hello)
//   t.start()  # after 30 seconds, "hello, world" will be printed
//
// shortened to half a second, plus a second timer cancelled before it fires.
#include <cstdio>
#include <memory>

#include "threading/timer.hpp"

void hello() { std::puts("hello, world"); }

int main() {
  auto t = std::make_shared<threading::Timer>(0.5, hello);
  t->start();  // after 0.5 seconds, "hello, world" will be printed

  auto never = std::make_shared<threading::Timer>(0.5, [] { std::puts("never printed"); });
  never->start();
  never->cancel();  // stops the timer while it is still waiting

  // No join needed: Python waits for non-daemon threads at exit, and so do we.
  std::puts("main returns; the process waits for the timer");
}
