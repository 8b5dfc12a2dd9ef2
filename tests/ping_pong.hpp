// No lost wake-up, written once for every object that can pass a token
// from one thread to another: two threads hand control back and forth
// through two tokens, 200k times (scaled down under the sanitizers), a third
// of the takes timed (1 ms, retried) so both the timed and the untimed
// sleep are exercised against a racing give.
//
//   token                                     give        take            program
//   Lock, held, released by the other thread  release()   acquire()       test_lock.cpp
//   Semaphore(0)                              release()   acquire()       test_semaphore.cpp
//   BoundedSemaphore(1), drained              release()   acquire()       test_semaphore.cpp
//   Event                                     set()       wait(); clear() test_event.cpp
//
// A counter written before every give and checked after every take also
// proves that the give happens before the take (ThreadSanitizer sees it).
#pragma once

#include <gtest/gtest.h>

#include <thread>

#include "support.hpp"
#include "threading/event.hpp"
#include "threading/lock.hpp"
#include "threading/semaphore.hpp"

struct LockToken {
  threading::Lock lock;
  LockToken() { lock.acquire(); }
  void give() { lock.release(); }
  void take() { lock.acquire(); }
  bool take_for(double seconds) { return lock.acquire(true, seconds); }
  bool drained() const { return lock.locked(); }
};

struct SemaphoreToken {
  threading::Semaphore sem{0};
  void give() { sem.release(); }
  void take() { sem.acquire(); }
  bool take_for(double seconds) { return sem.acquire(true, seconds); }
  bool drained() const { return sem.value() == 0; }
};

struct BoundedSemaphoreToken {
  threading::BoundedSemaphore sem{1};
  BoundedSemaphoreToken() { sem.acquire(); }
  void give() { sem.release(); }
  void take() { sem.acquire(); }
  bool take_for(double seconds) { return sem.acquire(true, seconds); }
  bool drained() const { return sem.value() == 0; }
};

struct EventToken {
  threading::Event event;
  void give() { event.set(); }
  void take() {
    event.wait();
    event.clear();
  }
  bool take_for(double seconds) {
    if (!event.wait(seconds)) return false;
    event.clear();
    return true;
  }
  bool drained() const { return !event.is_set(); }
};

template <class Token>
class PingPong : public ::testing::Test {};
TYPED_TEST_SUITE_P(PingPong);

TYPED_TEST_P(PingPong, StressNoLostWakeup) {
  TypeParam ping, pong;
  const int kRounds = 200000 / test_support::kStressDivisor;
  long counter = 0;  // written only by `t`, before each give of pong
  bool in_step = true;
  std::thread t([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (i % 3 == 0) {
        while (!ping.take_for(0.001)) {
        }
      } else {
        ping.take();
      }
      ++counter;
      pong.give();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    ping.give();
    pong.take();
    if (counter != i + 1) in_step = false;
  }
  t.join();
  EXPECT_TRUE(in_step) << "a take returned before the matching give";
  EXPECT_EQ(counter, kRounds);
  EXPECT_TRUE(ping.drained());
  EXPECT_TRUE(pong.drained());
}

REGISTER_TYPED_TEST_SUITE_P(PingPong, StressNoLostWakeup);
