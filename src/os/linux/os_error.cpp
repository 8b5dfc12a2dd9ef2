// Error names on Linux: glibc (2.32 and later) has the tables; musl and older
// glibc do not (strerror() may allocate for unknown codes), so none there.
#include "../os_error.hpp"

#include <string.h>

namespace threading::detail::os {

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
const char* error_name(int err) noexcept { return strerrorname_np(err); }
const char* error_description(int err) noexcept { return strerrordesc_np(err); }
#else
const char* error_name(int) noexcept { return nullptr; }
const char* error_description(int) noexcept { return nullptr; }
#endif

}  // namespace threading::detail::os
