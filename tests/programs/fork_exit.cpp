// A worker forks. In the child, the worker (now the main thread) starts a
// non-daemon thread and calls std::exit(7): the exit must wait for that
// thread. The parent reports the child's status.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "threading/thread.hpp"

using threading::Thread;

#if defined(__SANITIZE_ADDRESS__)
// In the child, objects owned by the parent's vanished threads are reachable
// only from stacks LeakSanitizer no longer scans: they are not leaks.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif
#include "fork_sanitizers.hpp"  // the child starts threads after a multi-threaded fork

namespace {
void say(const std::string& line) {
  std::string s = line + "\n";
  (void)!write(1, s.data(), s.size());
}
}  // namespace

int main() {
  int status = -1;
  auto worker = std::make_shared<Thread>([&] {
    pid_t pid = fork();
    if (pid == 0) {
      auto t = std::make_shared<Thread>([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // outlives exit()
        say("child: worker done");
      });
      t->start();
      std::exit(7);
    }
    int w = 0;
    waitpid(pid, &w, 0);
    status = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + WTERMSIG(w);
  });
  worker->start();
  worker->join();
  say("child status " + std::to_string(status));
  return 0;
}
