// The OS thread, behind the OS wall: everything the Thread layer
// (src/thread*.cpp) asks the operating system about a thread — create, join,
// detach, the kernel's id, the name. Platform-neutral: one implementation per
// platform in src/os/<platform>/os_thread.cpp (today linux/), chosen by CMake;
// nothing above this header names a platform call.
//
// A thread is named by its handle, the ident_t that threading::get_ident()
// returns on it (detail::current_thread_id()).
#pragma once

#include <cstddef>
#include <string>

#include "threading/thread.hpp"
#include "threading/timeout.hpp"

namespace threading::detail::os {

// Starts entry(arg) on a new thread, with `stack_size` bytes of stack (0: the
// platform's default). Returns 0 and stores the new thread's handle in
// *handle, or returns the OS's error number (no thread was created).
int create_thread(ident_t* handle, std::size_t stack_size, void* (*entry)(void*),
                  void* arg) noexcept;

// Waits for the thread to end and reaps it: at most once per thread, and never
// for a detached one. deadline == nullptr: no limit. Returns false only if
// the deadline passed first (the thread is then still joinable). Not
// noexcept: a joiner cancelled inside the wait (pthread_cancel) unwinds
// through it, leaving the thread joinable.
bool join_thread(ident_t handle, const Deadline* deadline);

// Lets a thread that nobody will join reap itself when it ends.
void detach_thread(ident_t handle) noexcept;

// Whether the platform would accept `size` bytes as a new thread's stack.
bool stack_size_ok(std::size_t size) noexcept;

// The kernel's id of the calling thread (one system call).
native_id_t current_kernel_id() noexcept;
// The kernel's id of a thread that has not been reaped, without a system call
// where the platform allows it; 0 when it cannot be known that way (the
// caller then waits for the thread to publish current_kernel_id() itself).
// Valid only after init_kernel_id_of().
native_id_t kernel_id_of(ident_t handle) noexcept;
// Checks, on the calling thread, whether kernel_id_of() can work here; called
// once, when the library is loaded.
void init_kernel_id_of() noexcept;

// True on the process's initial thread (the one main() runs on).
bool on_initial_thread() noexcept;

// Gives the calling thread `name` as its OS-visible name (cut to what the
// OS accepts). Best effort: a refusal is ignored.
void set_current_name(const std::string& name);

// For the thread dump on a signal (src/diagnostics.cpp): async-signal-safe,
// no allocation, no locks.
// Calls visit(tid, context) for every thread of the process, by kernel id;
// false when the platform cannot list them (the caller falls back to the
// threads it knows).
bool for_each_kernel_thread(void (*visit)(native_id_t tid, void* context), void* context) noexcept;
// Writes the OS-visible name of thread `tid` into buf (at most cap - 1 bytes,
// NUL-terminated; "MainThread" for the process's initial thread, "" if it
// cannot be read) and returns its length.
std::size_t kernel_thread_name(native_id_t tid, char* buf, std::size_t cap) noexcept;

}  // namespace threading::detail::os
