// threading::Timer (SPEC §10): fires after its interval with its arguments,
// cancel() before start / during the wait / after firing, special intervals
// (<= 0, NaN, nullopt, above TIMEOUT_MAX), exceptions, and Thread behaviour.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <typeinfo>

#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/timer.hpp"

using threading::Event;
using threading::Thread;
using threading::Timer;
using namespace test_support;

TEST(Timer, FiresAfterIntervalWithArguments) {
  std::string got;
  auto start = Clock::now();
  double fired_after = 0;
  auto t = std::make_shared<Timer>(
      0.1,
      [&](int a, std::string b) {
        fired_after = seconds_since(start);
        got = std::to_string(a) + b;
      },
      7, "x");
  t->start();
  t->join();
  EXPECT_EQ(got, "7x");
  expect_timeout(fired_after, 0.1);  // TM-15: never early
  EXPECT_TRUE(t->finished().is_set());
}

TEST(Timer, ChronoInterval) {
  std::atomic<bool> fired{false};
  auto start = Clock::now();
  auto t = std::make_shared<Timer>(std::chrono::milliseconds(50), [&] { fired = true; });
  t->start();
  t->join();
  EXPECT_TRUE(fired);
  expect_timeout(seconds_since(start), 0.05);
}

TEST(Timer, IsAThread) {
  auto t = std::make_shared<Timer>(0, [] {});
  std::shared_ptr<Thread> as_thread = t;                      // TM-01
  EXPECT_EQ(t->name().rfind("Thread-", 0), 0u) << t->name();  // TM-04
  EXPECT_FALSE(t->daemon());
  as_thread->start();
  as_thread->join();
  EXPECT_THROW(t->start(), threading::RuntimeError);  // TM-14
  try {
    t->start();
  } catch (const threading::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "threads can only be started once");
  }
}

TEST(Timer, CancelBeforeStart) {
  std::atomic<bool> fired{false};
  auto t = std::make_shared<Timer>(0, [&] { fired = true; });
  t->cancel();
  t->start();  // TM-06: still allowed, exits at once
  t->join();
  EXPECT_FALSE(fired);
}

TEST(Timer, CancelDuringTheWaitWakesTheTimerAtOnce) {
  std::atomic<bool> fired{false};
  auto t = std::make_shared<Timer>(3600.0, [&] { fired = true; });
  t->start();
  EXPECT_TRUE(t->is_alive());
  auto start = Clock::now();
  t->cancel();
  t->join();
  EXPECT_LT(seconds_since(start), 60.0);  // not the hour (generous: shared machine)
  EXPECT_FALSE(fired);
  EXPECT_FALSE(t->is_alive());
}

TEST(Timer, CancelAfterFiringHasNoEffect) {
  std::atomic<int> fired{0};
  auto t = std::make_shared<Timer>(0, [&] { fired++; });
  t->start();
  t->join();
  t->cancel();  // TM-08: repeatable, raises nothing
  t->cancel();
  EXPECT_EQ(fired.load(), 1);
}

TEST(Timer, NonPositiveAndNanIntervalsFireAtOnce) {
  for (double interval : {0.0, -1.0, -1e9, std::nan("")}) {
    std::atomic<bool> fired{false};
    auto t = std::make_shared<Timer>(interval, [&] { fired = true; });
    t->start();
    t->join();
    EXPECT_TRUE(fired) << interval;  // TM-09
  }
}

TEST(Timer, NulloptWaitsUntilCancel) {
  std::atomic<bool> fired{false};
  auto t = std::make_shared<Timer>(std::nullopt, [&] { fired = true; });
  t->start();
  t->join(0.1);
  EXPECT_TRUE(t->is_alive());  // TM-10
  t->cancel();
  t->join();
  EXPECT_FALSE(fired);
}

TEST(Timer, TooLargeIntervalRaisesInsideTheThread) {
  std::atomic<int> overflow{0};
  std::atomic<bool> fired{false};
  HookGuard hook([&](const threading::ExceptHookArgs& args) {
    if (*args.exc_type == typeid(threading::OverflowError)) overflow++;
  });
  auto t = std::make_shared<Timer>(threading::TIMEOUT_MAX * 10, [&] { fired = true; });  // TM-11
  t->start();
  t->join();
  EXPECT_EQ(overflow.load(), 1);
  EXPECT_FALSE(fired);
  auto inf = std::make_shared<Timer>(std::numeric_limits<double>::infinity(), [] {});
  inf->start();
  inf->join();
  EXPECT_EQ(overflow.load(), 2);
}

TEST(Timer, ExceptionFromFunctionIsReported) {
  std::string name;
  HookGuard hook([&](const threading::ExceptHookArgs& args) { name = args.thread->name(); });
  auto t = std::make_shared<Timer>(0, [] { throw std::runtime_error("timer failed"); });
  t->start();
  t->join();
  EXPECT_EQ(name, t->name());  // TM-13
}

TEST(Timer, DaemonSettableBeforeStartAndHandleDroppable) {
  Event done;
  auto t = std::make_shared<Timer>(0.05, [&] { done.set(); });
  t->daemon(true);
  t->start();
  t.reset();  // the timer keeps running
  EXPECT_TRUE(done.wait(60.0));
}

TEST(Timer, ManyConcurrentTimersCancelHalf) {
  constexpr int kN = 20;
  std::atomic<int> fired{0};
  std::vector<std::shared_ptr<Timer>> ts;
  for (int i = 0; i < kN; ++i) {
    ts.push_back(std::make_shared<Timer>(i % 2 == 0 ? 0.0 : 3600.0, [&] { fired++; }));
    ts.back()->start();
  }
  for (int i = 1; i < kN; i += 2) ts[i]->cancel();
  for (auto& t : ts) t->join();
  EXPECT_EQ(fired.load(), kN / 2);
}

TEST(Timer, EmptyFunctionIsReportedWhenItFires) {
  // CPython: Timer(0, None) raises TypeError in the timer thread.
  std::atomic<int> bad_call{0};
  HookGuard hook([&](const threading::ExceptHookArgs& args) {
    if (*args.exc_type == typeid(std::bad_function_call)) bad_call++;
  });
  auto a = std::make_shared<Timer>(0, std::function<void()>{});
  auto b = std::make_shared<Timer>(0, static_cast<void (*)(int)>(nullptr), 1);
  a->start();
  b->start();
  a->join();
  b->join();
  EXPECT_EQ(bad_call.load(), 2);
  auto c = std::make_shared<Timer>(std::nullopt, static_cast<void (*)()>(nullptr));
  c->cancel();  // never fires: nothing to report
  c->start();
  c->join();
  EXPECT_EQ(bad_call.load(), 2);
}

TEST(Timer, WaiterMayDestroyTheTimerOnceFinished) {
  // The destruction guarantee: finished() set (or join() returned), the last
  // handle may go at once. Under ASan any late access is a use-after-free.
  const int n = 500 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    auto t = std::make_shared<Timer>(0, [] {});
    t->start();
    if (i % 2 == 0) {
      t->finished().wait();
    } else {
      t->join(30.0);
    }
    t.reset();
  }
  EXPECT_TRUE(wait_until([&] { return threading::active_count() == 1; }));
}
