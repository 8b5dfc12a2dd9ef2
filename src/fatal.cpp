#include "fatal.hpp"

#include <unistd.h>

#include <cstdlib>

#include "os/os_error.hpp"

namespace threading::detail {

namespace {

// Appends to a fixed buffer, dropping what does not fit.
struct Message {
  char buf[512];
  std::size_t len = 0;

  void add(const char* s) noexcept {
    while (s != nullptr && *s != '\0' && len < sizeof buf) buf[len++] = *s++;
  }
  void add_int(int v) noexcept {
    char digits[16];
    int n = 0;
    unsigned u = v < 0 ? 0u - static_cast<unsigned>(v) : static_cast<unsigned>(v);
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (v < 0) add("-");
    while (n > 0 && len < sizeof buf) buf[len++] = digits[--n];
  }
};

}  // namespace

void fatal_os_error(const char* call, int err) noexcept {
  Message m;
  m.add("Fatal error in pythreading: ");
  m.add(call);
  m.add(" failed: errno ");
  m.add_int(err);
  if (const char* name = os::error_name(err)) {
    m.add(" (");
    m.add(name);
    if (const char* desc = os::error_description(err)) {
      m.add(": ");
      m.add(desc);
    }
    m.add(")");
  }
  m.add("\n");
  if (m.len == sizeof m.buf) m.buf[m.len - 1] = '\n';
  (void)!write(2, m.buf, m.len);
  std::abort();
}

}  // namespace threading::detail
