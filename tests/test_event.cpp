// threading::Event: our C++ version of CPython's lock_tests.EventTests, the
// SPEC §2/§9 rows that apply to C++ (gh-57711 included), and stress: many
// waiters, set/clear storms, and the shared ping-pong (ping_pong.hpp) with
// no lost wake-up.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "ping_pong.hpp"
#include "support.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"

using threading::Event;
using namespace test_support;
namespace pl = threading::detail::parking_lot;

namespace {

// Threads parked on an event (its state word is its only member).
std::size_t parked(const Event& e) { return pl::waiter_count(&e); }

constinit Event g_static_event;  // constant-initialised: usable before main

}  // namespace

TEST(Event, SizeAtMostEightBytes) {
  static_assert(sizeof(Event) <= 8);
  EXPECT_FALSE(g_static_event.is_set());
}

TEST(Event, IsSet) {
  Event evt;
  EXPECT_FALSE(evt.is_set());  // EV-01
  evt.set();
  EXPECT_TRUE(evt.is_set());
  evt.set();  // EV-03: idempotent
  EXPECT_TRUE(evt.is_set());
  evt.clear();
  EXPECT_FALSE(evt.is_set());
  evt.clear();  // EV-04
  EXPECT_FALSE(evt.is_set());
  EXPECT_FALSE(evt.isSet());  // EV-14 alias
  evt.set();
  EXPECT_TRUE(evt.isSet());
}

namespace {
// lock_tests _check_notify: five threads wait twice; one set() frees all.
void check_notify(Event& evt) {
  constexpr int kN = 5;
  std::atomic<int> first{0}, second{0};
  {
    Bunch bunch(kN, [&](int) {
      EXPECT_TRUE(evt.wait());
      first.fetch_add(1);
      EXPECT_TRUE(evt.wait());
      second.fetch_add(1);
    });
    ASSERT_TRUE(wait_until([&] { return parked(evt) == kN; }));
    EXPECT_EQ(first.load(), 0);
    evt.set();
  }
  EXPECT_EQ(first.load(), kN);
  EXPECT_EQ(second.load(), kN);
}
}  // namespace

TEST(Event, Notify) {
  Event evt;
  check_notify(evt);
  evt.set();  // once more, after an explicit clear()
  evt.clear();
  check_notify(evt);
}

TEST(Event, Timeout) {
  Event evt;
  constexpr int kN = 5;
  {
    Bunch bunch(kN, [&](int) {
      EXPECT_FALSE(evt.wait(0.0));
      auto start = Clock::now();
      EXPECT_FALSE(evt.wait(0.1));  // EV-06
      expect_timeout(seconds_since(start), 0.1);
    });
  }
  EXPECT_EQ(parked(evt), 0u);
  evt.set();
  {
    Bunch bunch(kN, [&](int) {
      EXPECT_TRUE(evt.wait(0.0));
      EXPECT_TRUE(evt.wait(0.1));
    });
  }
}

TEST(Event, ChronoTimeouts) {
  Event evt;
  auto start = Clock::now();
  EXPECT_FALSE(evt.wait(std::chrono::milliseconds(30)));
  expect_timeout(seconds_since(start), 0.03);
  evt.set();
  EXPECT_TRUE(evt.wait(std::chrono::hours(1)));
}

// EV-07 / gh-57711: a thread waiting when set() ran returns true even though
// clear() ran before it woke. Repeated, since the window is a race.
TEST(Event, SetAndClear) {
  Event evt;
  constexpr int kN = 5;
  const int kRepeats = 200 / kStressDivisor;
  for (int rep = 0; rep < kRepeats; ++rep) {
    std::atomic<int> got_true{0};
    {
      Bunch bunch(kN, [&](int) {
        if (evt.wait(60.0)) got_true.fetch_add(1);
      });
      ASSERT_TRUE(wait_until([&] { return parked(evt) == kN; }));
      evt.set();
      evt.clear();
    }
    ASSERT_EQ(got_true.load(), kN) << "repeat " << rep;
    ASSERT_FALSE(evt.is_set());
  }
}

// A wait that begins after a set()+clear() has finished is not woken by it.
TEST(Event, WaitAfterSetAndClearBlocks) {
  Event evt;
  evt.set();
  evt.clear();
  auto start = Clock::now();
  EXPECT_FALSE(evt.wait(0.05));
  expect_timeout(seconds_since(start), 0.05);
  std::thread([&] { EXPECT_FALSE(evt.wait(0.02)); }).join();
}

// EV-08 / EV-09 / SPEC §2: the timeout matrix.
TEST(Event, TimeoutMatrix) {
  const double kNan = std::nan("");
  const double kInf = std::numeric_limits<double>::infinity();
  Event evt;
  // Unset: <= 0 or NaN polls and returns the flag.
  for (double t : {0.0, -0.0, -1.0, -1e300, -kInf, kNan}) {
    auto start = Clock::now();
    EXPECT_FALSE(evt.wait(t)) << t;
    EXPECT_LT(seconds_since(start), 30.0);
  }
  // Unset + above TIMEOUT_MAX: OverflowError.
  for (double t : {threading::TIMEOUT_MAX * 2, 1e100, kInf}) {
    try {
      evt.wait(t);
      ADD_FAILURE() << "no exception for " << t;
    } catch (const threading::OverflowError& e) {
      EXPECT_STREQ(e.what(), "timestamp out of range for platform time_t");
    }
  }
  EXPECT_FALSE(evt.is_set());
  // Set: every timeout returns true without being checked.
  evt.set();
  for (double t : {0.0, -1.0, kNan, kInf, 1e300, threading::TIMEOUT_MAX}) {
    EXPECT_TRUE(evt.wait(t)) << t;
  }
  EXPECT_TRUE(evt.wait());
  EXPECT_TRUE(evt.wait(std::nullopt));
}

// Exactly TIMEOUT_MAX is accepted when the flag is unset (it waits).
TEST(Event, TimeoutMaxIsAccepted) {
  Event evt;
  std::thread t([&] { EXPECT_TRUE(evt.wait(threading::TIMEOUT_MAX)); });
  ASSERT_TRUE(wait_until([&] { return parked(evt) == 1; }));
  evt.set();
  t.join();
}

// set() wakes every waiter, timed and untimed alike.
TEST(Event, SetWakesAll) {
  Event evt;
  constexpr int kN = 16;
  std::atomic<int> woke{0};
  {
    Bunch bunch(kN, [&](int i) {
      bool r = i % 2 == 0 ? evt.wait() : evt.wait(60.0);
      if (r) woke.fetch_add(1);
    });
    ASSERT_TRUE(wait_until([&] { return parked(evt) == kN; }));
    evt.set();
  }
  EXPECT_EQ(woke.load(), kN);
  EXPECT_EQ(parked(evt), 0u);
}

// set() happens-before the wait() it ends (TSan checks this).
TEST(Event, SetHappensBeforeWait) {
  const int kRounds = 2000 / kStressDivisor;
  for (int i = 0; i < kRounds; ++i) {
    Event evt;
    long payload = 0;
    std::thread t([&] {
      evt.wait();
      EXPECT_EQ(payload, 42);
    });
    payload = 42;
    evt.set();
    t.join();
  }
}

// No lost wake-up: the shared ping-pong (ping_pong.hpp) through two events
// (set / wait / clear).
INSTANTIATE_TYPED_TEST_SUITE_P(Event, PingPong, EventToken);

// Timed waits racing with set()/clear() storms: a wait returns false only
// after its full timeout, and nobody is left parked.
TEST(Event, TimedWaitsRaceWithSetClear) {
  Event evt;
  std::atomic<bool> stop{false};
  const int kIters = 3000 / kStressDivisor;
  {
    Bunch waiters(4, [&](int id) {
      for (int i = 0; i < kIters; ++i) {
        double t = 0.0001 * ((i + id) % 5);
        auto start = Clock::now();
        if (!evt.wait(t)) {
          ASSERT_GE(seconds_since(start), t);
        }
      }
    });
    std::thread storm([&] {
      for (long i = 0; !stop.load(); ++i) {
        evt.set();
        if (i % 7 != 0) evt.clear();
        if (i % 64 == 0) std::this_thread::yield();
      }
    });
    waiters.join();
    stop = true;
    storm.join();
  }
  EXPECT_EQ(parked(evt), 0u);
}
