// The identity the lock objects use for "the calling thread".
#pragma once

#include <pthread.h>

#include <cstdint>

namespace threading::detail {

// pthread_self() is a single load from the thread pointer: cheap enough for
// RLock's owner check, never 0 for a live thread, and the same value
// threading::get_ident() reports.
inline std::uintptr_t current_thread_id() noexcept {
  return static_cast<std::uintptr_t>(pthread_self());
}

}  // namespace threading::detail
