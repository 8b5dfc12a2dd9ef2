// The user's hooks: settrace/setprofile (called by each new thread before
// run()) and excepthook (called with what escapes run()), with the default
// report on stderr.
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>  // std::lock_guard only
#include <utility>

#include "thread_registry.hpp"

namespace threading {
namespace detail {
namespace {

struct Hooks {
  Lock lock;  // guards the three hooks; held across fork() (thread_registry.cpp)
  TraceFunction trace;
  TraceFunction profile;
  ExceptHook hook;  // empty = default_excepthook
};

// Made at load time (pythreading_on_load), never destroyed.
Hooks& hooks() {
  static Hooks* const h = new Hooks;
  return *h;
}

// "TYPE: what()" (or just "TYPE") for the report.
std::string describe(const std::type_info* type, const std::exception_ptr& value) {
  std::string out = type != nullptr ? demangle(type->name()) : "unknown exception";
  std::string what;
  if (value) {
    try {
      std::rethrow_exception(value);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  if (!what.empty()) out += ": " + what;
  return out + "\n";
}

void write_stderr(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

Lock& hooks_lock() { return hooks().lock; }

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || s == nullptr) return mangled;
  std::string out(s);
  std::free(s);
  return out;
}

void start_hooks(TraceFunction& trace, TraceFunction& profile) {
  Hooks& h = hooks();
  std::lock_guard g(h.lock);
  trace = h.trace;
  profile = h.profile;
}

void report_exception(const std::shared_ptr<Thread>& thread) {  // inside a catch block
  ExceptHookArgs args{abi::__cxa_current_exception_type(), std::current_exception(), thread};
  try {
    excepthook(args);
  } catch (...) {
    if (abi::__cxa_current_exception_type() == nullptr) throw;  // pthread_exit's unwind
    write_stderr("Exception in threading.excepthook:\n" +
                 describe(abi::__cxa_current_exception_type(), std::current_exception()));
  }
}

}  // namespace detail

void settrace(TraceFunction func) {
  auto& h = detail::hooks();
  std::lock_guard g(h.lock);
  std::swap(h.trace, func);
}  // the old hook dies here, outside the lock

void setprofile(TraceFunction func) {
  auto& h = detail::hooks();
  std::lock_guard g(h.lock);
  std::swap(h.profile, func);
}

TraceFunction gettrace() {
  auto& h = detail::hooks();
  std::lock_guard g(h.lock);
  return h.trace;
}

TraceFunction getprofile() {
  auto& h = detail::hooks();
  std::lock_guard g(h.lock);
  return h.profile;
}

ExceptHook excepthook() {
  auto& h = detail::hooks();
  std::lock_guard g(h.lock);
  if (h.hook) return h.hook;
  return &default_excepthook;
}

ExceptHook excepthook(ExceptHook hook) {
  auto& h = detail::hooks();
  ExceptHook old;
  {
    std::lock_guard g(h.lock);
    std::swap(h.hook, hook);
    old = std::move(hook);
  }
  if (!old) old = &default_excepthook;
  return old;
}

void excepthook(const ExceptHookArgs& args) { excepthook()(args); }

void default_excepthook(const ExceptHookArgs& args) {
  std::string who = args.thread ? args.thread->name() : std::to_string(get_ident());
  detail::write_stderr("Exception in thread " + who + ":\n" +
                       detail::describe(args.exc_type, args.exc_value));
}

}  // namespace threading
