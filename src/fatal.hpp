// The last resort when the OS refuses something the library cannot do
// without (a futex, a thread key, a fork handler): say so and abort, as
// CPython's Py_FatalError does, rather than carry on broken (e.g. turn every
// wait into a spin).
#pragma once

namespace threading::detail {

// Writes "Fatal error in pythreading: <call> failed: <ERRNO NAME> (errno <n>:
// <description>)" to stderr and aborts. Only async-signal-safe calls, so it
// may run anywhere, a fork child included.
[[noreturn]] void fatal_os_error(const char* call, int err);

}  // namespace threading::detail
