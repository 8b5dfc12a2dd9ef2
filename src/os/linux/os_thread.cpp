// The OS thread on Linux (glibc or musl): POSIX threads, plus the Linux-only
// parts — gettid, the kernel id read from a thread's CPU-clock id,
// pthread_setname_np's 15 bytes, and glibc's pthread_clockjoin_np.
#include "../os_thread.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <limits>

namespace threading::detail::os {

namespace {

pthread_t to_pthread(ident_t handle) noexcept { return static_cast<pthread_t>(handle); }

// A thread's kernel id from its CPU-time clock id, which encodes it (the
// kernel's ABI for such clocks: ~tid << 3 | CPUCLOCK_PERTHREAD_MASK |
// CPUCLOCK_SCHED, as glibc's and musl's pthread_getcpuclockid build it). 0
// when the encoding does not match, or the thread has exited (the kernel
// clears its tid then).
native_id_t decode_tid(pthread_t t) noexcept {
  clockid_t c;
  if (pthread_getcpuclockid(t, &c) != 0 || (c & 7) != 6) return 0;
  native_id_t tid = ~static_cast<native_id_t>(c >> 3);
  return tid > 0 ? tid : 0;
}

// Set once at load time: the encoding was checked on the loading thread.
constinit std::atomic<bool> g_tid_from_clock{false};

// pthread_join with a deadline on the monotonic clock (the parking core's).
// (ThreadSanitizer does not intercept pthread_clockjoin_np, and would take a
// thread joined through it for one still running.)
int join_until(pthread_t t, const Deadline& deadline) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 31)) && \
    !defined(__SANITIZE_THREAD__)
  std::int64_t ns = deadline.ns > 0 ? deadline.ns : 0;
  timespec abs{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  return pthread_clockjoin_np(t, nullptr, CLOCK_MONOTONIC, &abs);
#else
  // Only a wall-clock deadline is available: convert the time left, saturating.
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  std::int64_t left = deadline.remaining_ns();
  std::int64_t sec = left / 1000000000;
  long nsec = now.tv_nsec + static_cast<long>(left % 1000000000);
  if (nsec >= 1000000000) {
    nsec -= 1000000000;
    ++sec;
  }
  constexpr std::int64_t kMaxSec = std::numeric_limits<time_t>::max();
  timespec abs{static_cast<time_t>(sec > kMaxSec - now.tv_sec ? kMaxSec : now.tv_sec + sec), nsec};
  return pthread_timedjoin_np(t, nullptr, &abs);
#endif
}

}  // namespace

int create_thread(ident_t* handle, std::size_t stack_size, void* (*entry)(void*),
                  void* arg) noexcept {
  pthread_attr_t attr;
  pthread_t tid{};
  int rc = pthread_attr_init(&attr);
  if (rc == 0) {
    if (stack_size != 0) rc = pthread_attr_setstacksize(&attr, stack_size);
    if (rc == 0) rc = pthread_create(&tid, &attr, entry, arg);
    pthread_attr_destroy(&attr);
  }
  if (rc == 0) *handle = static_cast<ident_t>(tid);
  return rc;
}

bool join_thread(ident_t handle, const Deadline* deadline) {
  int rc = deadline == nullptr ? pthread_join(to_pthread(handle), nullptr)
                               : join_until(to_pthread(handle), *deadline);
  return rc != ETIMEDOUT;
}

void detach_thread(ident_t handle) noexcept { pthread_detach(to_pthread(handle)); }

bool stack_size_ok(std::size_t size) noexcept {
  pthread_attr_t attr;
  bool ok = pthread_attr_init(&attr) == 0;
  if (ok) {
    ok = pthread_attr_setstacksize(&attr, size) == 0;
    pthread_attr_destroy(&attr);
  }
  return ok;
}

native_id_t current_kernel_id() noexcept { return static_cast<native_id_t>(syscall(SYS_gettid)); }

// A system call costs ~1 us on some VMs; the clock id is a library call.
native_id_t kernel_id_of(ident_t handle) noexcept {
  return g_tid_from_clock.load(std::memory_order_relaxed) ? decode_tid(to_pthread(handle)) : 0;
}

void init_kernel_id_of() noexcept {
  native_id_t tid = current_kernel_id();
  g_tid_from_clock.store(decode_tid(pthread_self()) == tid, std::memory_order_relaxed);
}

bool on_initial_thread() noexcept {
  return current_kernel_id() == static_cast<native_id_t>(getpid());
}

// At most 15 bytes (the kernel's TASK_COMM_LEN less the NUL), not cutting a
// UTF-8 sequence.
void set_current_name(const std::string& name) {
  std::size_t n = name.size() < 15 ? name.size() : 15;
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  pthread_setname_np(pthread_self(), name.substr(0, n).c_str());
}

bool for_each_kernel_thread(void (*visit)(native_id_t, void*), void* context) noexcept {
  // /proc/self/task lists one directory per thread, named by its kernel id;
  // getdents64 reads it without opendir's allocation.
  int fd = ::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  alignas(8) char dents[2048];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, dents, sizeof dents);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
      unsigned short reclen;
      std::memcpy(&reclen, dents + off + 16, sizeof reclen);
      const char* name = dents + off + 19;
      if (name[0] >= '0' && name[0] <= '9') {
        native_id_t tid = 0;
        for (const char* p = name; *p >= '0' && *p <= '9'; ++p) tid = tid * 10 + (*p - '0');
        visit(tid, context);
      }
      off += reclen;
    }
  }
  ::close(fd);
  return true;
}

std::size_t kernel_thread_name(native_id_t tid, char* buf, std::size_t cap) noexcept {
  if (cap == 0) return 0;
  buf[0] = '\0';
  if (tid == static_cast<native_id_t>(getpid())) {  // Linux: the initial thread's id is the pid
    std::size_t n = std::min<std::size_t>(cap - 1, 10);
    std::memcpy(buf, "MainThread", n);
    buf[n] = '\0';
    return n;
  }
  char path[64] = "/proc/self/task/";
  std::size_t n = std::strlen(path);
  char digits[24];
  int k = 0;
  auto v = static_cast<std::uint64_t>(tid);
  do {
    digits[k++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (k > 0) path[n++] = digits[--k];
  std::memcpy(path + n, "/comm", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t got = ::read(fd, buf, cap - 1);
  ::close(fd);
  std::size_t len = 0;
  while (got > 0 && len < static_cast<std::size_t>(got) && buf[len] != '\n') ++len;
  buf[len] = '\0';
  return len;
}

}  // namespace threading::detail::os
