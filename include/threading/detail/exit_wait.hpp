// Not part of the public API: the wait that process exit runs first
// (CPython's private threading._shutdown), callable on demand. The library's
// tests use it; a program has no need to (returning from main, or std::exit,
// runs it), and threading::abandon_exit_wait() is how a runtime stops it.
#pragma once

namespace threading::detail {

// Marks the main thread stopped if called from it, then joins every alive
// non-daemon Thread except the caller, including threads started meanwhile.
// Idempotent; returns at once after abandon_exit_wait(). Exceptions: none of
// its own (a join it runs may throw only what Thread::join(None) may).
void exit_wait();

}  // namespace threading::detail
