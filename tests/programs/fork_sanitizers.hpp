// What the sanitizers allow in the child of a multi-threaded fork, for the
// programs and tests that fork. Include it from exactly one file per program
// (it defines the TSan runtime's options hook).
#pragma once

#if defined(__SANITIZE_THREAD__)
// TSan refuses a multi-threaded fork unless told otherwise, and starting
// threads in such a child is not supported (with die_after_fork=0 it reports
// "dup thread with used id" when a new thread reuses a vanished pthread_t).
extern "C" const char* __tsan_default_options() { return "die_after_fork=0"; }
constexpr bool kStartThreadsInChild = false;
#else
constexpr bool kStartThreadsInChild = true;
#endif

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
// The sanitizers' allocators (GCC 12) are not fork-safe: a parent thread that
// was inside malloc at the fork leaves an allocator lock held in the child.
constexpr bool kChildMayAllocateAfterBusyFork = false;
#else
constexpr bool kChildMayAllocateAfterBusyFork = true;
#endif
