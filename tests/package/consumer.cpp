#include <cstdio>
#include <mutex>
#include <threading/threading.hpp>

int main() {
  threading::Lock lock;
  threading::Condition cv(lock);
  std::lock_guard with(cv);
  bool notified = cv.wait(0.001);
  std::puts(notified ? "unexpected" : "consumer ok");
  return notified ? 1 : 0;
}
