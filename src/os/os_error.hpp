// An OS error number's name and description, behind the OS wall, for the
// fatal-error report (src/fatal.cpp). One implementation per platform in
// src/os/<platform>/os_error.cpp.
#pragma once

namespace threading::detail::os {

// "EAGAIN" and "Resource temporarily unavailable" for EAGAIN, from static
// tables: no allocation, safe on the fatal path. nullptr when unknown (or
// when the platform has no such table).
const char* error_name(int err) noexcept;
const char* error_description(int err) noexcept;

}  // namespace threading::detail::os
