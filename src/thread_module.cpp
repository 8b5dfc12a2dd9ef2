// The module functions about threads in general: active_count, enumerate,
// current_thread, main_thread, get_native_id and stack_size.
#include <mutex>  // std::lock_guard only
#include <string>

#include "os/os_thread.hpp"
#include "thread_registry.hpp"

namespace threading {
namespace detail {

constinit std::atomic<std::size_t> g_stack_size{0};

void check_stack_size(long long size) {
  constexpr long long kMinStackSize = 32768;  // CPython's THREAD_STACK_MIN
  if (size < 0) throw ValueError("size must be 0 or a positive value");
  if (size == 0) return;
  // As CPython: at least the minimum, and the platform must accept it.
  bool ok = size >= kMinStackSize && os::stack_size_ok(static_cast<std::size_t>(size));
  if (!ok) throw ValueError("size not valid: " + std::to_string(size) + " bytes");
}

}  // namespace detail

using detail::ThreadRegistry;

std::size_t active_count() {
  auto& r = ThreadRegistry::get();
  std::lock_guard g(r.lock);
  return r.active.size() + r.limbo.size();
}

std::shared_ptr<Thread> current_thread() {
  if (Thread* t = detail::tls_current) [[likely]] {
    return t->shared_from_this();
  }
  return ThreadRegistry::current_slow();
}

std::shared_ptr<Thread> main_thread() {
  auto& r = ThreadRegistry::get();
  std::lock_guard g(r.lock);
  return r.main;
}

std::vector<std::shared_ptr<Thread>> enumerate() {
  auto& r = ThreadRegistry::get();
  std::lock_guard g(r.lock);
  std::vector<std::shared_ptr<Thread>> out;
  out.reserve(r.active.size() + r.limbo.size());
  out.insert(out.end(), r.active.begin(), r.active.end());
  out.insert(out.end(), r.limbo.begin(), r.limbo.end());
  return out;
}

native_id_t get_native_id() noexcept {
  if (detail::tls_tid == 0) detail::tls_tid = detail::os::current_kernel_id();
  return detail::tls_tid;
}

std::size_t stack_size() { return detail::g_stack_size.exchange(0); }

std::size_t stack_size(long long size) {
  detail::check_stack_size(size);
  return detail::g_stack_size.exchange(static_cast<std::size_t>(size));
}

}  // namespace threading
