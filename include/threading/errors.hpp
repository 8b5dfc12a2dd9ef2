// Python's exception types for pythreading, as C++ exceptions.
//
//   Python               C++
//   RuntimeError         threading::RuntimeError      (std::runtime_error)
//   ThreadError          threading::ThreadError       (the same type, as in Python 3.3+)
//   ValueError           threading::ValueError        (std::invalid_argument)
//   OverflowError        threading::OverflowError     (std::overflow_error)
//   BrokenBarrierError   threading::BrokenBarrierError (threading::RuntimeError)
//
// Messages are CPython 3.11's own, so a port can match on them.
#pragma once

#include <stdexcept>
#include <string>

namespace threading {

class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
using ThreadError = RuntimeError;

class ValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class OverflowError : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

// Raised with no message in Python; what() gives the type's name.
class BrokenBarrierError : public RuntimeError {
 public:
  BrokenBarrierError() : RuntimeError("BrokenBarrierError") {}
  using RuntimeError::RuntimeError;
};

}  // namespace threading
