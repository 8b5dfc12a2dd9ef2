// An OS call the library cannot do without fails: the process stops with a
// fatal error naming the call and the errno (as CPython's Py_FatalError).
//   key      every pthread key is taken before the library loads
//   atfork   pthread_atfork fails (ENOMEM) when the library registers
// Prints "no error" if the library let the failure pass.
#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "threading/thread.hpp"

namespace {
const char* g_mode = "";
}  // namespace

// Runs before the library's load-time constructor (priorities go first).
// glibc passes constructors the program's arguments.
__attribute__((constructor(101))) static void before_the_library(int argc, char** argv, char**) {
  if (argc > 1) g_mode = argv[1];
  if (std::strcmp(g_mode, "key") == 0) {
    pthread_key_t key;
    while (pthread_key_create(&key, nullptr) == 0) {
    }
  }
}

// glibc links pthread_atfork into each program from libc_nonshared.a; this
// definition replaces it, so the library's call can be made to fail.
extern "C" int __register_atfork(void (*)(), void (*)(), void (*)(), void*);
extern "C" void* __dso_handle;
extern "C" int pthread_atfork(void (*prepare)(), void (*parent)(), void (*child)()) {
  if (std::strcmp(g_mode, "atfork") == 0) return ENOMEM;
  return __register_atfork(prepare, parent, child, __dso_handle);
}

int main() {
  (void)threading::current_thread();
  std::puts("no error");
  return 0;
}
