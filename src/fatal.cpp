#include "fatal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace threading::detail {
namespace {

void put(const char* s) {
  std::size_t left = std::strlen(s);
  while (left > 0) {
    ssize_t n = ::write(2, s, left);
    if (n <= 0) return;  // nowhere to report to; abort anyway
    s += n;
    left -= static_cast<std::size_t>(n);
  }
}

void put_int(int v) {
  char buf[16];
  char* p = buf + sizeof buf;
  *--p = '\0';
  unsigned u = v < 0 ? 0u - static_cast<unsigned>(v) : static_cast<unsigned>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--p = '-';
  put(p);
}

}  // namespace

void fatal_os_error(const char* call, int err) {
  put("Fatal error in pythreading: ");
  put(call);
  put(" failed: ");
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  // Unlike strerror, these read no locale and allocate nothing.
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  put(name != nullptr ? name : "unknown error");
  put(" (errno ");
  put_int(err);
  if (desc != nullptr) {
    put(": ");
    put(desc);
  }
  put(")\n");
#else
  put("errno ");
  put_int(err);
  put("\n");
#endif
  std::abort();
}

}  // namespace threading::detail
