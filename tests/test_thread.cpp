// threading::Thread: construction (target + args, Options, subclass), start,
// run, join, liveness, names, idents, daemon flag, ownership, excepthook,
// start failure — SPEC §12 rows that apply to C++.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/lock.hpp"
#include "threading/thread.hpp"

using threading::Event;
using threading::Thread;
using namespace test_support;

// Allocation failure on demand, to test start()'s exception guarantee: while
// t_fail_new is set, every operator new in that thread throws bad_alloc.
// (new[], nothrow new and the deletes all reach these two.)
namespace {
thread_local bool t_fail_new = false;
}  // namespace
__attribute__((noinline)) void* operator new(std::size_t n) {
  if (t_fail_new) throw std::bad_alloc();
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
// (Out of line, so GCC does not pair the inlined free() with a new-expression.)
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

int name_number(const std::string& name) {
  auto dash = name.find('-');
  return std::stoi(name.substr(dash + 1));
}

}  // namespace

TEST(Thread, TargetWithArguments) {
  std::string got;
  auto t =
      std::make_shared<Thread>([&](int a, const std::string& b,
                                   double c) { got = std::to_string(a) + b + std::to_string(c); },
                               1, "two", 3.5);
  t->start();
  t->join();
  EXPECT_EQ(got, "1two3.500000");
}

TEST(Thread, ArgumentsAreCopiedAndMovedIntoTheCall) {
  int value = 1;
  std::atomic<int> seen{0};
  auto t = std::make_shared<Thread>([&](int v) { seen = v; }, value);
  value = 2;  // the thread got a copy
  t->start();
  t->join();
  EXPECT_EQ(seen.load(), 1);

  // Move-only arguments and targets work, as with std::thread.
  auto p = std::make_unique<int>(42);
  auto u = std::make_shared<Thread>(
      [&seen, q = std::make_unique<int>(1)](std::unique_ptr<int> r) mutable { seen = *q + *r; },
      std::move(p));
  u->start();
  u->join();
  EXPECT_EQ(seen.load(), 43);
}

TEST(Thread, FunctionPointerTarget) {
  static std::atomic<int> hits{0};
  auto t = std::make_shared<Thread>(
      +[](int n) { hits += n; }, 5);
  t->start();
  t->join();
  EXPECT_EQ(hits.load(), 5);
}

TEST(Thread, OptionsWithDesignatedInitializers) {
  std::atomic<bool> ran{false};
  auto t = std::make_shared<Thread>(
      Thread::Options{.target = [&] { ran = true; }, .name = "io-1", .daemon = true});
  EXPECT_EQ(t->name(), "io-1");
  EXPECT_TRUE(t->daemon());
  t->start();
  t->join();
  EXPECT_TRUE(ran);
}

TEST(Thread, OptionsEmptyNameIsAutomatic) {
  auto t = std::make_shared<Thread>(Thread::Options{.name = ""});
  EXPECT_EQ(t->name().rfind("Thread-", 0), 0u) << t->name();
}

TEST(Thread, OptionsStackSizeValidated) {
  EXPECT_THROW(Thread(Thread::Options{.stack_size = 100}), threading::ValueError);
  try {
    Thread(Thread::Options{.stack_size = 32767});
    FAIL();
  } catch (const threading::ValueError& e) {
    EXPECT_STREQ(e.what(), "size not valid: 32767 bytes");
  }
  auto t = std::make_shared<Thread>(Thread::Options{.target = [] {}, .stack_size = 1 << 20});
  t->start();
  t->join();
}

namespace {
struct Counter : Thread {
  std::atomic<int> runs{0};
  std::vector<int> data = std::vector<int>(100, 7);
  void run() override {
    int sum = 0;
    for (int v : data) sum += v;
    runs += sum;
  }
};
}  // namespace

TEST(Thread, SubclassOverridesRun) {
  auto c = std::make_shared<Counter>();
  c->start();
  c->join();
  EXPECT_EQ(c->runs.load(), 700);
}

TEST(Thread, NoTargetNoOverrideDoesNothing) {
  auto t = std::make_shared<Thread>();
  t->start();
  t->join();
  EXPECT_FALSE(t->is_alive());
  auto u = std::make_shared<Thread>(Thread::Options{});
  u->start();
  u->join();
}

TEST(Thread, RunCalledDirectlyIsSynchronousAndDoesNotStart) {
  int n = 0;
  Thread t([&] { ++n; });  // not owned by a shared_ptr: run() is still fine
  t.run();
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(t.is_alive());
  EXPECT_FALSE(t.ident().has_value());
  t.run();  // the target was released by the first run()
  EXPECT_EQ(n, 1);
}

TEST(Thread, StartRefusesThreadNotOwnedBySharedPtr) {
  Thread t([] {});
  std::string msg = error_of<threading::RuntimeError>([&] { t.start(); });
  EXPECT_NE(msg.find("std::make_shared"), std::string::npos) << msg;
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, StartTwice) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->start(); }),
            "threads can only be started once");
  go.set();
  t->join();
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->start(); }),
            "threads can only be started once");
}

TEST(Thread, StartReturnsWithIdentPublishedAndAlive) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  EXPECT_FALSE(t->ident().has_value());
  EXPECT_FALSE(t->native_id().has_value());
  EXPECT_FALSE(t->is_alive());
  t->start();
  EXPECT_TRUE(t->ident().has_value());
  EXPECT_TRUE(t->native_id().has_value());
  EXPECT_TRUE(t->is_alive());
  go.set();
  t->join();
  EXPECT_FALSE(t->is_alive());
}

TEST(Thread, IdentsMatchInsideTheThreadAndAreKeptAfterExit) {
  threading::ident_t inside = 0;
  threading::native_id_t native = 0;
  bool alive_inside = false;
  std::shared_ptr<Thread> self;
  auto t = std::make_shared<Thread>([&] {
    inside = threading::get_ident();
    native = threading::get_native_id();
    self = threading::current_thread();
    alive_inside = self->is_alive();
  });
  t->start();
  t->join();
  ASSERT_TRUE(t->ident().has_value());
  EXPECT_EQ(*t->ident(), inside);
  EXPECT_EQ(*t->native_id(), native);
  EXPECT_NE(native, static_cast<threading::native_id_t>(getpid()));
  EXPECT_EQ(self, t);
  EXPECT_TRUE(alive_inside);
}

TEST(Thread, StartPublishesIdentityAndListingEvenForThreadsThatEndAtOnce) {
  // start() does not wait for the new thread to run: whatever it publishes
  // without it (ident, alive, listed) must still hold when it returns, and
  // native_id() must wait for the thread if asked that early.
  const int n = 200 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    std::atomic<threading::ident_t> inside{0};
    std::atomic<threading::native_id_t> native{0};
    auto t = std::make_shared<Thread>([&] {
      inside = threading::get_ident();
      native = threading::get_native_id();
    });
    t->start();
    auto nid = t->native_id();
    auto id = t->ident();
    auto all = threading::enumerate();
    bool alive_after = t->is_alive();  // alive after enumerate() => alive during it
    ASSERT_TRUE(nid.has_value());
    ASSERT_TRUE(id.has_value());
    if (alive_after) {
      bool listed = false;
      for (auto& x : all) listed = listed || x == t;
      EXPECT_TRUE(listed);
    }
    t->join();
    EXPECT_FALSE(t->is_alive());
    EXPECT_EQ(*id, inside.load());
    EXPECT_EQ(*nid, native.load());
    for (auto& x : threading::enumerate()) EXPECT_NE(x, t);
  }
}

TEST(Thread, NativeIdAskedFromAnotherThreadDuringStart) {
  const int n = 100 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    std::atomic<threading::native_id_t> native{0};
    auto t = std::make_shared<Thread>([&] { native = threading::get_native_id(); });
    std::atomic<bool> stop{false};
    std::thread observer([&] {
      // Once ident() has a value, native_id() has one too (it may wait).
      while (!stop.load()) {
        if (t->ident().has_value()) {
          EXPECT_TRUE(t->native_id().has_value());
          return;
        }
      }
    });
    t->start();
    t->join();
    stop = true;
    observer.join();
    EXPECT_EQ(*t->native_id(), native.load());
  }
}

TEST(Thread, UntimedAndTimedJoinersRaceAThreadThatEndsAtOnce) {
  const int n = 100 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    auto t = std::make_shared<Thread>([] {});
    t->start();
    std::vector<std::thread> joiners;
    for (int j = 0; j < 4; ++j) {
      joiners.emplace_back([&, j] {
        if (j % 2 == 0) {
          t->join();
        } else {
          while (t->is_alive()) t->join(j == 1 ? 0.0 : 0.001);
          t->join(0.5);
        }
        EXPECT_FALSE(t->is_alive());
      });
    }
    t->join();
    EXPECT_FALSE(t->is_alive());
    for (auto& j : joiners) j.join();
  }
}

TEST(Thread, JoinBeforeStart) {
  auto t = std::make_shared<Thread>();
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->join(); }),
            "cannot join thread before it is started");
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->join(1.0); }),
            "cannot join thread before it is started");
}

TEST(Thread, JoinCurrentThread) {
  std::string msg;
  auto t = std::make_shared<Thread>();
  t = std::make_shared<Thread>(
      [&] { msg = error_of<threading::RuntimeError>([&] { t->join(); }); });
  t->start();
  t->join();
  EXPECT_EQ(msg, "cannot join current thread");
  EXPECT_EQ(error_of<threading::RuntimeError>([] { threading::main_thread()->join(); }),
            "cannot join current thread");
}

TEST(Thread, TimedJoinTimesOutAndLeavesThreadAlive) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  auto start = Clock::now();
  t->join(0.1);
  expect_timeout(seconds_since(start), 0.1);
  EXPECT_TRUE(t->is_alive());
  start = Clock::now();
  t->join(std::chrono::milliseconds(50));
  expect_timeout(seconds_since(start), 0.05);
  EXPECT_TRUE(t->is_alive());
  go.set();
  t->join(30.0);
  EXPECT_FALSE(t->is_alive());
}

TEST(Thread, NegativeTimeoutPolls) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  t->join(-1);
  t->join(-5.0);
  t->join(0);
  EXPECT_TRUE(t->is_alive());
  go.set();
  t->join();
  t->join(-1);  // finished: returns at once
}

TEST(Thread, BadTimeoutsOnRunningAndFinishedThread) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  EXPECT_THROW(t->join(std::nan("")), threading::ValueError);
  EXPECT_THROW(t->join(threading::TIMEOUT_MAX * 2), threading::OverflowError);
  EXPECT_THROW(t->join(std::numeric_limits<double>::infinity()), threading::OverflowError);
  EXPECT_TRUE(t->is_alive());  // 3.13 behaviour: a failed join does not mark it stopped
  go.set();
  t->join();
  // On a finished thread any timeout just returns (CPython <= 3.12).
  t->join(std::nan(""));
  t->join(1e100);
  t->join(threading::TIMEOUT_MAX);
}

TEST(Thread, JoinFromManyThreadsManyTimes) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  constexpr int kJoiners = 6;
  std::atomic<int> joined{0};
  std::vector<std::shared_ptr<Thread>> joiners;
  for (int i = 0; i < kJoiners; ++i) {
    joiners.push_back(std::make_shared<Thread>([&, i] {
      if (i % 2 == 0) {
        t->join();
      } else {
        while (t->is_alive()) t->join(0.01);
      }
      EXPECT_FALSE(t->is_alive());
      joined++;
    }));
    joiners.back()->start();
  }
  EXPECT_EQ(joined.load(), 0);
  go.set();
  for (auto& j : joiners) j->join();
  EXPECT_EQ(joined.load(), kJoiners);
  for (int i = 0; i < 3; ++i) t->join();
}

TEST(Thread, IsAliveWindowAndEnumerate) {
  Event in_run, go;
  auto t = std::make_shared<Thread>([&] {
    in_run.set();
    go.wait();
  });
  auto listed = [&] {
    for (auto& x : threading::enumerate()) {
      if (x == t) return true;
    }
    return false;
  };
  EXPECT_FALSE(listed());
  t->start();
  in_run.wait();
  EXPECT_TRUE(t->is_alive());
  EXPECT_TRUE(listed());
  go.set();
  t->join();
  EXPECT_FALSE(t->is_alive());
  EXPECT_FALSE(listed());  // THR-A3
}

TEST(Thread, DefaultNamesCountUpAndAreShared) {
  auto a = std::make_shared<Thread>();
  auto named = std::make_shared<Thread>(Thread::Options{.name = "x"});
  auto b = std::make_shared<Thread>();
  EXPECT_EQ(name_number(b->name()), name_number(a->name()) + 1);
  std::string dummy;
  std::thread([&] { dummy = threading::current_thread()->name(); }).join();
  auto c = std::make_shared<Thread>();
  ASSERT_EQ(dummy.rfind("Dummy-", 0), 0u) << dummy;
  EXPECT_EQ(name_number(dummy), name_number(b->name()) + 1);
  EXPECT_EQ(name_number(c->name()), name_number(dummy) + 1);
  EXPECT_EQ(named->name(), "x");
}

TEST(Thread, NameSettableAnyTime) {
  Event go, renamed;
  std::string inside;
  auto t = std::make_shared<Thread>([&] {
    go.wait();
    inside = threading::current_thread()->name();
    threading::current_thread()->name("self-named");
    renamed.set();
  });
  t->name("before");
  t->start();
  t->name("during");
  go.set();
  renamed.wait();
  t->join();
  EXPECT_EQ(inside, "during");
  EXPECT_EQ(t->name(), "self-named");
  t->name("after");
  EXPECT_EQ(t->name(), "after");
  t->setName("alias");
  EXPECT_EQ(t->getName(), "alias");
}

TEST(Thread, OsNameIsFirst15Bytes) {
  char buf[64] = {};
  auto t = std::make_shared<Thread>(
      Thread::Options{.target = [&] { pthread_getname_np(pthread_self(), buf, sizeof buf); },
                      .name = "a-rather-long-thread-name"});
  t->start();
  t->join();
  EXPECT_STREQ(buf, "a-rather-long-t");
  EXPECT_EQ(t->name(), "a-rather-long-thread-name");
  // UTF-8 is not cut inside a character: "é" is 2 bytes.
  auto u = std::make_shared<Thread>(
      Thread::Options{.target = [&] { pthread_getname_np(pthread_self(), buf, sizeof buf); },
                      .name = "abcdefghijklmn\xc3\xa9"});
  u->start();
  u->join();
  EXPECT_STREQ(buf, "abcdefghijklmn");
}

TEST(Thread, DaemonInheritance) {
  auto from_main = std::make_shared<Thread>();
  EXPECT_FALSE(from_main->daemon());  // the main thread is not a daemon
  bool inherited = false, explicit_false = true, from_foreign = false;
  auto d = std::make_shared<Thread>(
      Thread::Options{.target =
                          [&] {
                            inherited = Thread().daemon();
                            explicit_false = Thread(Thread::Options{.daemon = false}).daemon();
                          },
                      .daemon = true});
  d->start();
  d->join();
  EXPECT_TRUE(inherited);
  EXPECT_FALSE(explicit_false);
  std::thread([&] { from_foreign = Thread().daemon(); }).join();
  EXPECT_TRUE(from_foreign);  // THR-D4: a foreign thread counts as a dummy
}

TEST(Thread, DaemonSettableOnlyBeforeStart) {
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->daemon(true);
  EXPECT_TRUE(t->daemon());
  t->setDaemon(false);
  EXPECT_FALSE(t->isDaemon());
  t->start();
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->daemon(true); }),
            "cannot set daemon status of active thread");
  go.set();
  t->join();
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->setDaemon(true); }),
            "cannot set daemon status of active thread");
  EXPECT_FALSE(t->isAlive());
}

TEST(Thread, DroppingTheHandleNeverStopsTheThread) {
  Event go;
  std::atomic<int> result{0};
  std::weak_ptr<Thread> weak;
  {
    auto c = std::make_shared<Counter>();
    weak = c;
    auto t = std::make_shared<Thread>([&, c] {
      go.wait();
      c->run();  // uses the subclass's members after every handle is gone
      result = c->runs.load();
    });
    t->start();
  }                              // both handles dropped while the thread waits
  EXPECT_FALSE(weak.expired());  // the running thread keeps its object alive
  go.set();
  EXPECT_TRUE(wait_until([&] { return result.load() == 700; }));
  EXPECT_TRUE(wait_until([&] { return weak.expired(); }));
}

TEST(Thread, SubclassDroppedWhileRunning) {
  struct Slow : Thread {
    Event* go;
    std::atomic<bool>* done;
    std::string payload = std::string(1000, 'x');
    void run() override {
      go->wait();
      if (payload.size() == 1000 && name().rfind("Thread-", 0) == 0) *done = true;
    }
  };
  Event go;
  std::atomic<bool> done{false};
  auto s = std::make_shared<Slow>();
  s->go = &go;
  s->done = &done;
  s->start();
  s.reset();
  go.set();
  EXPECT_TRUE(wait_until([&] { return done.load(); }));
}

TEST(Thread, ExceptionGoesToExcepthookAndThreadEndsNormally) {
  std::vector<std::string> seen;
  threading::Lock lock;
  HookGuard hook([&](const threading::ExceptHookArgs& args) {
    std::string what;
    try {
      std::rethrow_exception(args.exc_value);
    } catch (const std::exception& e) {
      what = e.what();
    }
    std::lock_guard g(lock);
    bool type_ok = *args.exc_type == typeid(std::logic_error);
    seen.push_back(args.thread->name() + "|" + (type_ok ? "logic_error" : "?") + "|" + what);
  });
  auto t = std::make_shared<Thread>(
      Thread::Options{.target = [] { throw std::logic_error("bad logic"); }, .name = "thrower"});
  t->start();
  t->join();
  EXPECT_FALSE(t->is_alive());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "thrower|logic_error|bad logic");
}

TEST(Thread, DefaultExcepthookOutput) {
  HookGuard hook({});  // the default
  auto t = std::make_shared<Thread>(Thread::Options{
      .target = [] { throw threading::ValueError("bad value"); }, .name = "worker-9"});
  testing::internal::CaptureStderr();
  t->start();
  t->join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "Exception in thread worker-9:\nthreading::ValueError: bad value\n");

  auto u = std::make_shared<Thread>(Thread::Options{.target = [] { throw 42; }, .name = "w"});
  testing::internal::CaptureStderr();
  u->start();
  u->join();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "Exception in thread w:\nint\n");
}

TEST(Thread, ExcepthookThatThrows) {
  HookGuard hook([](const threading::ExceptHookArgs&) { throw std::runtime_error("hook broke"); });
  auto t = std::make_shared<Thread>([] { throw std::runtime_error("first"); });
  testing::internal::CaptureStderr();
  t->start();
  t->join();
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "Exception in threading.excepthook:\nstd::runtime_error: hook broke\n");
}

TEST(Thread, ExcepthookLookedUpWhenTheExceptionHappens) {
  Event go;
  std::atomic<int> late{0};
  auto t = std::make_shared<Thread>([&] {
    go.wait();
    throw std::runtime_error("x");
  });
  t->start();
  HookGuard hook([&](const threading::ExceptHookArgs&) { late++; });  // after start (THR-X6)
  go.set();
  t->join();
  EXPECT_EQ(late.load(), 1);
}

TEST(Thread, PthreadExitInRunStillEndsTheThreadCleanly) {
  auto t = std::make_shared<Thread>([] { pthread_exit(nullptr); });
  t->start();
  t->join();
  EXPECT_FALSE(t->is_alive());
}

TEST(Thread, StartFailureLeavesObjectConsistent) {
  std::atomic<int> ran{0};
  auto t = std::make_shared<Thread>([&] { ran++; });
  threading::stack_size(1LL << 50);  // accepted here; the OS refuses it at start
  std::string msg = error_of<threading::RuntimeError>([&] { t->start(); });
  threading::stack_size(0);
  EXPECT_EQ(msg, "can't start new thread");
  EXPECT_FALSE(t->is_alive());
  EXPECT_FALSE(t->ident().has_value());
  for (auto& x : threading::enumerate()) EXPECT_NE(x, t);
  EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->join(); }),
            "cannot join thread before it is started");
  t->start();  // startable again (CPython <= 3.12)
  t->join();
  EXPECT_EQ(ran.load(), 1);
}

TEST(Thread, Repr) {
  Event go;
  auto t = std::make_shared<Thread>(Thread::Options{.target = [&] { go.wait(); }, .name = "X"});
  EXPECT_EQ(t->repr(), "<Thread(X, initial)>");
  t->start();
  EXPECT_EQ(t->repr(), "<Thread(X, started " + std::to_string(*t->ident()) + ")>");
  go.set();
  t->join();
  EXPECT_EQ(t->repr(), "<Thread(X, stopped " + std::to_string(*t->ident()) + ")>");
  auto d = std::make_shared<Thread>(Thread::Options{.name = "Y", .daemon = true});
  EXPECT_EQ(d->repr(), "<Thread(Y, initial daemon)>");
  auto m = threading::main_thread();
  EXPECT_EQ(m->repr(), "<_MainThread(" + m->name() + ", started " +
                           std::to_string(threading::get_ident()) + ")>");
  auto c = std::make_shared<Counter>();
  EXPECT_EQ(c->repr().rfind("<(anonymous namespace)::Counter(", 0), 0u) << c->repr();
}

TEST(Thread, TargetReleasedByTheThreadThatRanIt) {
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  auto t = std::make_shared<Thread>([token] {});
  token.reset();
  EXPECT_FALSE(weak.expired());
  t->start();
  t->join();
  EXPECT_TRUE(weak.expired());  // THR-R3: run() drops its target
}

TEST(Thread, ManyShortThreadsStress) {
  const int n = 400 / kStressDivisor;
  std::atomic<int> sum{0};
  std::vector<std::shared_ptr<Thread>> ts;
  for (int i = 0; i < n; ++i) {
    ts.push_back(std::make_shared<Thread>([&sum, i] { sum += i; }));
    ts.back()->start();
    if (i % 3 == 0) ts.back().reset();  // some are never joined: detached by ~Thread
  }
  for (auto& t : ts) {
    if (t) t->join();
  }
  EXPECT_TRUE(wait_until([&] { return sum.load() == n * (n - 1) / 2; }));
  EXPECT_TRUE(wait_until([&] { return threading::active_count() == 1; }));
}

namespace {
bool listed(const std::shared_ptr<Thread>& t) {
  for (auto& x : threading::enumerate()) {
    if (x == t) return true;
  }
  return false;
}
}  // namespace

TEST(Thread, StartGivesTheStrongGuaranteeWhenRegistrationCannotAllocate) {
  // Each start() runs with allocation failing; the registry must grow now
  // and then (the threads stay alive), so some of them fail. A failed start()
  // must leave nothing behind: not alive, not listed, startable again.
  Event go;
  std::vector<std::shared_ptr<Thread>> ts;
  int failures = 0;
  for (int i = 0; i < 600 && failures < 4; ++i) {
    auto t = std::make_shared<Thread>([&] { go.wait(); });
    ts.push_back(t);
    bool threw = false;
    t_fail_new = true;
    try {
      t->start();
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    t_fail_new = false;
    if (threw) {
      ++failures;
      EXPECT_FALSE(t->is_alive()) << i;
      EXPECT_FALSE(t->ident().has_value()) << i;
      EXPECT_FALSE(listed(t)) << i;
      EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->join(0.0); }),
                "cannot join thread before it is started");
      EXPECT_EQ(error_of<threading::RuntimeError>([&] { t->start(); }), "")
          << i;  // startable again
    }
    EXPECT_TRUE(t->is_alive()) << i;
    EXPECT_TRUE(listed(t)) << i;
  }
  EXPECT_GE(failures, 4);
  go.set();
  for (auto& t : ts) t->join();
  EXPECT_TRUE(wait_until([&] { return threading::active_count() == 1; }));
}

namespace {
// Set by the destructor of a thread_local the joined thread created: the
// thread's thread_locals are gone, so its OS thread has been reaped.
std::atomic<int> g_tls_destroyed{0};
struct CountsItsDestruction {
  ~CountsItsDestruction() { g_tls_destroyed.fetch_add(1); }
};
thread_local CountsItsDestruction t_counted;
}  // namespace

TEST(Thread, HugeJoinTimeoutsOnAThreadThatFinishesWaitForIt) {
  // join(9e9) and join(TIMEOUT_MAX) are "forever" in practice: no overflow
  // (UBSan), and they return only once the thread has ended and its
  // thread_locals are destroyed, as an untimed join does.
  const std::vector<threading::Timeout> timeouts = {
      9e9,
      threading::TIMEOUT_MAX,
      std::chrono::hours(2000000),
      std::chrono::duration<double>(threading::TIMEOUT_MAX),
      1e9,
      3600.0};
  for (std::size_t i = 0; i < timeouts.size(); ++i) {
    Event go;
    g_tls_destroyed = 0;
    auto t = std::make_shared<Thread>([&] {
      (void)&t_counted;  // construct it in this thread
      go.wait();
    });
    t->start();
    std::thread releaser([&] { go.set(); });
    t->join(timeouts[i]);
    EXPECT_FALSE(t->is_alive()) << i;
    EXPECT_EQ(g_tls_destroyed.load(), 1) << i;
    releaser.join();
  }
  // Above TIMEOUT_MAX a running thread refuses it; a finished one returns.
  Event go;
  auto t = std::make_shared<Thread>([&] { go.wait(); });
  t->start();
  EXPECT_THROW(t->join(std::chrono::hours(2600000)), threading::OverflowError);
  EXPECT_THROW(t->join(std::chrono::nanoseconds::max()), threading::OverflowError);
  EXPECT_THROW(t->join(std::nextafter(threading::TIMEOUT_MAX, 1e300)), threading::OverflowError);
  EXPECT_TRUE(t->is_alive());
  go.set();
  t->join();
  t->join(std::chrono::nanoseconds::max());
  t->join(std::chrono::hours::max());
}

TEST(Thread, EmptyTargetsMeanNoTarget) {
  // Python's target=None, however it is spelled: the thread does nothing.
  std::atomic<int> reported{0};
  HookGuard hook([&](const threading::ExceptHookArgs&) { reported++; });
  std::vector<std::shared_ptr<Thread>> ts;
  ts.push_back(std::make_shared<Thread>(std::function<void()>{}));
  ts.push_back(std::make_shared<Thread>(std::function<void(int)>{}, 1));
  ts.push_back(std::make_shared<Thread>(static_cast<void (*)()>(nullptr)));
  ts.push_back(std::make_shared<Thread>(static_cast<void (*)(int, int)>(nullptr), 1, 2));
  ts.push_back(std::make_shared<Thread>(Thread::Options{.target = {}}));
  ts.push_back(std::make_shared<Thread>(Thread::Options{.target = std::function<void()>{}}));
  for (auto& t : ts) t->start();
  for (auto& t : ts) t->join();
  for (auto& t : ts) t->run();  // run() directly: nothing either
  EXPECT_EQ(reported.load(), 0);
}

TEST(Thread, OptionsStackSizeFollowsTheRulesOfStackSize) {
  // One validation for both: CPython's messages, checked at construction.
  for (std::size_t bad : {std::size_t{1}, std::size_t{100}, std::size_t{32767}}) {
    try {
      Thread t(Thread::Options{.stack_size = bad});
      ADD_FAILURE() << bad;
    } catch (const threading::ValueError& e) {
      EXPECT_EQ(std::string(e.what()), "size not valid: " + std::to_string(bad) + " bytes");
    }
    EXPECT_THROW(threading::stack_size(static_cast<long long>(bad)), threading::ValueError);
  }
  // Beyond ssize_t: CPython cannot even convert it.
  for (std::size_t huge : {std::size_t{SIZE_MAX}, std::size_t{LLONG_MAX} + 1}) {
    try {
      Thread t(Thread::Options{.stack_size = huge});
      ADD_FAILURE() << huge;
    } catch (const threading::OverflowError& e) {
      EXPECT_STREQ(e.what(), "Python int too large to convert to C ssize_t");
    }
  }
  // Accepted by both (an OS that cannot honour it fails at start()).
  Thread ok(Thread::Options{.stack_size = 32768});
  Thread big(Thread::Options{.stack_size = std::size_t{LLONG_MAX}});
  EXPECT_EQ(threading::stack_size(LLONG_MAX), 0u);
  EXPECT_EQ(threading::stack_size(0), static_cast<std::size_t>(LLONG_MAX));
}

TEST(Thread, ConstructedInAForeignThreadRegistersItsDummy) {
  // CPython's Thread.__init__ asks current_thread() for the daemon flag when
  // none is given: a foreign thread gets its dummy then, numbered after the
  // new Thread's name. With the daemon flag given it is not asked.
  std::size_t before = threading::active_count();
  std::size_t with_flag = 0, without_flag = 0;
  std::string thread_name, dummy_name;
  bool daemon = false;
  std::thread([&] {
    auto a = std::make_shared<Thread>(Thread::Options{.daemon = false});
    with_flag = threading::active_count();
    auto b = std::make_shared<Thread>();
    without_flag = threading::active_count();
    thread_name = b->name();
    daemon = b->daemon();
    dummy_name = threading::current_thread()->name();
  }).join();
  EXPECT_EQ(with_flag, before);
  EXPECT_EQ(without_flag, before + 1);
  EXPECT_TRUE(daemon);  // inherited from the (daemonic) dummy
  ASSERT_EQ(dummy_name.rfind("Dummy-", 0), 0u) << dummy_name;
  EXPECT_EQ(name_number(dummy_name), name_number(thread_name) + 1);
  EXPECT_TRUE(wait_until([&] { return threading::active_count() == before; }));
}

TEST(Thread, JoinerMayDestroyTheThreadTheInstantJoinReturns) {
  // The destruction guarantee: once join() has returned, the joiner may drop
  // the last handle (the running thread holds its own until it stops
  // touching the object). Under ASan any late access is a use-after-free.
  const int n = 2000 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    auto t = std::make_shared<Thread>([] {});
    t->start();
    if (i % 2 == 0) {
      t->join();
    } else {
      while (t->is_alive()) t->join(30.0);
    }
    t.reset();
  }
  for (int i = 0; i < n / 4; ++i) {
    auto t = std::make_shared<Thread>([] { throw std::runtime_error("x"); });
    HookGuard quiet([](const threading::ExceptHookArgs&) {});
    t->start();
    t->join(30.0);
    t.reset();
  }
  EXPECT_TRUE(wait_until([&] { return threading::active_count() == 1; }));
}

TEST(Thread, NativeIdStaysItsOwnWhenAnotherJoinerReapsItDuringStart) {
  // A thread that ends at once may be joined (reaped) by another thread while
  // start() is still running; start() must never read the kernel id through
  // a reaped pthread_t, which a new thread may already reuse.
  const int n = 300 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    std::atomic<threading::native_id_t> own{0};
    auto t = std::make_shared<Thread>([&] { own = threading::get_native_id(); });
    std::atomic<bool> go{false};
    std::thread reaper([&] {
      while (!go.load()) std::this_thread::yield();
      while (!t->ident()) std::this_thread::yield();
      while (true) {
        try {
          t->join();
          break;
        } catch (const threading::RuntimeError&) {  // not started as far as it can tell yet
          std::this_thread::yield();
        }
      }
      auto again = std::make_shared<Thread>([] {});  // may reuse the reaped thread's memory
      again->start();
      again->join();
    });
    go = true;
    t->start();
    reaper.join();
    EXPECT_EQ(*t->native_id(), own.load()) << i;
  }
}
