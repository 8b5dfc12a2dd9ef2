// Fatal errors: what the library does when the OS refuses a call it cannot do
// without (and has no correct way to degrade): say so on stderr and abort,
// as CPython's Py_FatalError does. Never a silent spin or a wrong answer.
#pragma once

namespace threading::detail {

// Writes "Fatal error in pythreading: CALL failed: errno N (NAME: description)"
// to stderr and calls abort(). Async-signal-safe (no allocation, no locks,
// one write(2)), so it may be used in a fork child handler or a sleep path.
[[noreturn]] void fatal_os_error(const char* call, int err) noexcept;

}  // namespace threading::detail
