// fork()'s child handler may do only async-signal-safe work: in the child of
// a multi-threaded fork, malloc's or any allocator's locks may be held by
// threads that no longer exist. This program counts every operator new and
// every thread_local registration (__cxa_thread_atexit, which callocs) made
// in the child between a child handler registered before the library's and
// one registered after it, for forks from the main thread, a started Thread
// and a foreign thread without a dummy. Prints "NAME ALLOCATIONS" for each.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "threading/thread.hpp"

#if defined(__SANITIZE_ADDRESS__)
// The child's objects from vanished parent threads are not leaks.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif
#include "fork_sanitizers.hpp"  // the child starts threads after a multi-threaded fork

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int> g_allocations{0};
void note() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
}  // namespace

__attribute__((noinline)) void* operator new(std::size_t n) {
  note();
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
// (Out of line, so GCC does not pair the inlined free() with a new-expression.)
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

extern "C" int __cxa_thread_atexit_impl(void (*)(void*), void*, void*);
extern "C" int __cxa_thread_atexit(void (*dtor)(void*), void* obj, void* dso) {
  note();
  return __cxa_thread_atexit_impl(dtor, obj, dso);
}

__attribute__((constructor(101))) static void before_the_library() {
  pthread_atfork(nullptr, nullptr, [] { g_counting.store(true); });
}

namespace {
// Forks; the child reports how many allocations its handlers made.
int fork_and_count() {
  pid_t pid = fork();
  if (pid == 0) {
    int n = g_allocations.load();
    // The child works: the forking thread is its main thread.
    bool ok =
        threading::current_thread() == threading::main_thread() && threading::active_count() == 1;
    _exit(ok ? (n < 100 ? n : 100) : 101);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void say(const std::string& line) {
  std::string s = line + "\n";
  (void)!write(1, s.data(), s.size());
}
}  // namespace

int main() {
  pthread_atfork(nullptr, nullptr, [] { g_counting.store(false); });
  say("main " + std::to_string(fork_and_count()));
  int worker = -1;
  auto t = std::make_shared<threading::Thread>([&] { worker = fork_and_count(); });
  t->start();
  t->join();
  say("worker " + std::to_string(worker));
  int foreign = -1;
  std::thread([&] { foreign = fork_and_count(); }).join();
  say("foreign " + std::to_string(foreign));
  return 0;
}
