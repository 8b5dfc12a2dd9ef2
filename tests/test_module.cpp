// The module functions (SPEC §1), the main thread (MT-*) and dummy threads
// (DM-*): current_thread, main_thread, enumerate, active_count, get_ident,
// get_native_id, stack_size, settrace/setprofile, excepthook, aliases.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "threading/detail/exit_wait.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/local.hpp"
#include "threading/lock.hpp"
#include "threading/thread.hpp"

using threading::Event;
using threading::Thread;
using namespace test_support;

namespace {

bool listed(const std::shared_ptr<Thread>& t) {
  auto all = threading::enumerate();
  return std::find(all.begin(), all.end(), t) != all.end();
}

}  // namespace

TEST(MainThread, Identity) {
  auto m = threading::main_thread();
  ASSERT_TRUE(m);
  EXPECT_EQ(m, threading::current_thread());  // MT-03
  EXPECT_EQ(m, threading::currentThread());
  EXPECT_EQ(m->name(), "MainThread");
  EXPECT_FALSE(m->daemon());
  EXPECT_TRUE(m->is_alive());
  EXPECT_EQ(*m->ident(), threading::get_ident());
  EXPECT_EQ(*m->native_id(), static_cast<threading::native_id_t>(getpid()));  // MT-02
  EXPECT_EQ(threading::get_native_id(), static_cast<threading::native_id_t>(getpid()));
  EXPECT_EQ(threading::current_thread(), threading::current_thread());  // MOD-03
}

TEST(MainThread, CannotStartJoinOrChangeDaemon) {
  auto m = threading::main_thread();
  EXPECT_EQ(error_of([&] { m->start(); }), "threads can only be started once");
  EXPECT_EQ(error_of([&] { m->join(); }), "cannot join current thread");
  EXPECT_EQ(error_of([&] { m->daemon(true); }), "cannot set daemon status of active thread");
  m->name("Renamed");
  EXPECT_EQ(threading::main_thread()->name(), "Renamed");
  m->name("MainThread");
}

TEST(MainThread, SameFromEveryThread) {
  std::shared_ptr<Thread> from_worker, from_foreign;
  auto t = std::make_shared<Thread>([&] { from_worker = threading::main_thread(); });
  t->start();
  t->join();
  std::thread([&] { from_foreign = threading::main_thread(); }).join();
  EXPECT_EQ(from_worker, threading::main_thread());
  EXPECT_EQ(from_foreign, threading::main_thread());
  EXPECT_NE(from_worker, t);
}

TEST(MainThread, JoinFromWorkerTimesOut) {
  // The main thread is alive until process exit (tested in test_exit).
  std::atomic<bool> alive{false};
  auto t = std::make_shared<Thread>([&] {
    threading::main_thread()->join(0.05);
    alive = threading::main_thread()->is_alive();
  });
  t->start();
  t->join();
  EXPECT_TRUE(alive);
}

TEST(Enumerate, MainFirstThenActivationOrder) {
  Event go;
  auto a = std::make_shared<Thread>([&] { go.wait(); });
  auto b = std::make_shared<Thread>([&] { go.wait(); });
  auto unstarted = std::make_shared<Thread>();
  b->start();  // created second, started first
  a->start();
  auto all = threading::enumerate();
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[0], threading::main_thread());
  auto pos_a = std::find(all.begin(), all.end(), a);
  auto pos_b = std::find(all.begin(), all.end(), b);
  ASSERT_NE(pos_a, all.end());
  ASSERT_NE(pos_b, all.end());
  EXPECT_LT(pos_b, pos_a);
  EXPECT_EQ(std::find(all.begin(), all.end(), unstarted), all.end());
  EXPECT_EQ(threading::active_count(), all.size());  // MOD-01
  EXPECT_EQ(threading::activeCount(), all.size());
  go.set();
  a->join();
  b->join();
  EXPECT_FALSE(listed(a));
  EXPECT_FALSE(listed(b));
  EXPECT_EQ(threading::active_count(), 1u);
}

TEST(Enumerate, ReturnsANewList) {
  auto x = threading::enumerate();
  x.clear();
  EXPECT_FALSE(threading::enumerate().empty());
}

TEST(Ident, DistinctForConcurrentThreadsAndNonZero) {
  constexpr int kN = 4;
  Event go;
  std::vector<threading::ident_t> ids(kN);
  std::vector<threading::native_id_t> natives(kN);
  std::vector<std::shared_ptr<Thread>> ts;
  for (int i = 0; i < kN; ++i) {
    ts.push_back(std::make_shared<Thread>([&, i] {
      ids[i] = threading::get_ident();
      natives[i] = threading::get_native_id();
      go.wait();
    }));
    ts.back()->start();
  }
  go.set();
  for (auto& t : ts) t->join();
  std::set<threading::ident_t> unique(ids.begin(), ids.end());
  std::set<threading::native_id_t> unique_native(natives.begin(), natives.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(unique_native.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(unique.count(0), 0u);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(*ts[i]->ident(), ids[i]);
  // RLock and the lock objects use the same identity.
  EXPECT_EQ(threading::get_ident(), static_cast<threading::ident_t>(pthread_self()));
}

TEST(Dummy, ForeignThreadGetsADummy) {
  std::shared_ptr<Thread> d;
  std::string join_error, daemon_error;
  bool same = false, in_enum = false;
  threading::ident_t ident = 0;
  threading::native_id_t native = 0;
  std::size_t count_before = threading::active_count();
  std::size_t count_inside = 0;
  std::thread([&] {
    d = threading::current_thread();
    same = threading::current_thread() == d;
    in_enum = listed(d);
    count_inside = threading::active_count();
    ident = threading::get_ident();
    native = threading::get_native_id();
    join_error = error_of([&] { d->join(); });
    daemon_error = error_of([&] { d->daemon(false); });
    EXPECT_TRUE(d->is_alive());
  }).join();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name().rfind("Dummy-", 0), 0u) << d->name();
  EXPECT_TRUE(d->daemon());
  EXPECT_TRUE(same);
  EXPECT_TRUE(in_enum);  // DM-07
  EXPECT_EQ(count_inside, count_before + 1);
  EXPECT_EQ(*d->ident(), ident);
  EXPECT_EQ(*d->native_id(), native);
  EXPECT_EQ(join_error, "cannot join a dummy thread");  // DM-04 (3.13 type)
  EXPECT_EQ(daemon_error, "cannot set daemon status of active thread");
  EXPECT_EQ(d->repr().rfind("<_DummyThread(Dummy-", 0), 0u) << d->repr();
  // Beyond CPython 3.11 (as 3.13): the dummy leaves when its thread exits.
  EXPECT_FALSE(d->is_alive());
  EXPECT_FALSE(listed(d));
  EXPECT_EQ(threading::active_count(), count_before);
  EXPECT_EQ(error_of([&] { d->join(); }), "cannot join a dummy thread");
}

TEST(Dummy, OnlyCurrentThreadCreatesOne) {
  std::size_t before = threading::active_count();
  std::size_t inside = 0;
  threading::local<int> loc(5);
  std::thread([&] {
    threading::Lock lock;
    lock.acquire();
    lock.release();
    Event e;
    e.set();
    e.wait();
    *loc += 1;
    (void)threading::main_thread();
    (void)threading::enumerate();
    inside = threading::active_count();
  }).join();
  EXPECT_EQ(inside, before);  // DM-01
}

TEST(Dummy, ThreadsStartedFromADummy) {
  bool daemon = false;
  std::string joined;
  std::thread([&] {
    (void)threading::current_thread();
    auto t = std::make_shared<Thread>([&] { joined = "ran"; });
    daemon = t->daemon();
    t->start();
    t->join();
  }).join();
  EXPECT_TRUE(daemon);  // DM-10
  EXPECT_EQ(joined, "ran");
}

TEST(Dummy, ManyForeignThreadsLeaveNoneBehind) {
  std::size_t before = threading::active_count();
  const int n = 100 / kStressDivisor;
  for (int i = 0; i < n; ++i) {
    std::thread a([] { (void)threading::current_thread(); });
    std::thread b([] { (void)threading::current_thread()->name(); });
    a.join();
    b.join();
  }
  EXPECT_EQ(threading::active_count(), before);
}

TEST(StackSize, ReadResetsAndSetReturnsOld) {
  EXPECT_EQ(threading::stack_size(), 0u);
  EXPECT_EQ(threading::stack_size(65536), 0u);
  EXPECT_EQ(threading::stack_size(1 << 20), 65536u);  // MOD-17
  EXPECT_EQ(threading::stack_size(), static_cast<std::size_t>(1 << 20));
  EXPECT_EQ(threading::stack_size(), 0u);  // MOD-16: the no-argument call reset it
  EXPECT_EQ(threading::stack_size(0), 0u);
}

TEST(StackSize, Validation) {
  EXPECT_EQ(error_of([] { threading::stack_size(100); }), "size not valid: 100 bytes");
  EXPECT_EQ(error_of([] { threading::stack_size(32767); }), "size not valid: 32767 bytes");
  EXPECT_EQ(error_of([] { threading::stack_size(-1); }), "size must be 0 or a positive value");
  EXPECT_THROW(threading::stack_size(true), threading::ValueError);  // MOD-21: true is 1
  EXPECT_EQ(threading::stack_size(), 0u);                            // unchanged by the failures
  EXPECT_EQ(threading::stack_size(32769), 0u);  // MOD-22: not a page multiple is fine on Linux
  threading::stack_size(0);
}

TEST(StackSize, AppliesToThreadsStartedAfterwards) {
  // Above glibc's 8 MiB default: glibc may hand out a cached stack up to 4x
  // larger than asked, so only the lower bound is meaningful.
  constexpr std::size_t kSize = 16 << 20;
  std::size_t seen = 0;
  auto probe = [&] {
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstacksize(&attr, &seen);
    pthread_attr_destroy(&attr);
  };
  auto t = std::make_shared<Thread>(probe);  // created before the change
  threading::stack_size(kSize);
  t->start();
  t->join();
  threading::stack_size(0);
  EXPECT_GE(seen, kSize);
  auto u = std::make_shared<Thread>(Thread::Options{.target = probe, .stack_size = 24 << 20});
  u->start();
  u->join();
  EXPECT_GE(seen, static_cast<std::size_t>(24 << 20));
}

TEST(Trace, HooksRunInNewThreadsBeforeRun) {
  threading::Lock lock;
  std::vector<std::string> events;
  auto record = [&](std::string e) {
    std::lock_guard g(lock);
    events.push_back(std::move(e));
  };
  EXPECT_FALSE(threading::gettrace());
  EXPECT_FALSE(threading::getprofile());
  threading::settrace([&] { record("trace " + threading::current_thread()->name()); });
  threading::setprofile([&] { record("profile " + threading::current_thread()->name()); });
  EXPECT_TRUE(threading::gettrace());
  EXPECT_TRUE(threading::getprofile());
  EXPECT_TRUE(events.empty());  // MOD-11: not the calling thread
  auto t = std::make_shared<Thread>(Thread::Options{.target = [&] { record("run"); }, .name = "T"});
  t->start();
  t->join();
  EXPECT_EQ(events, (std::vector<std::string>{"trace T", "profile T", "run"}));
  // Not run in foreign threads (MOD-11: only Thread.start installs them).
  std::thread([] {}).join();
  EXPECT_EQ(events.size(), 3u);
  threading::settrace({});  // MOD-12
  threading::setprofile(nullptr);
  EXPECT_FALSE(threading::gettrace());
  events.clear();
  auto u = std::make_shared<Thread>([&] { record("run"); });
  u->start();
  u->join();
  EXPECT_EQ(events, (std::vector<std::string>{"run"}));
}

TEST(Trace, ThrowingHookGoesToExcepthook) {
  std::atomic<int> hooked{0};
  std::atomic<bool> ran{false};
  auto old = threading::excepthook([&](const threading::ExceptHookArgs&) { hooked++; });
  threading::settrace([] { throw std::runtime_error("trace failed"); });
  auto t = std::make_shared<Thread>([&] { ran = true; });
  t->start();
  t->join();
  threading::settrace({});
  threading::excepthook(old);
  EXPECT_EQ(hooked.load(), 1);
  EXPECT_FALSE(ran);
}

TEST(Excepthook, GetSetCallAndDefault) {
  std::atomic<int> calls{0};
  threading::ExceptHook mine = [&](const threading::ExceptHookArgs&) { calls++; };
  auto old = threading::excepthook(mine);
  ASSERT_TRUE(old);  // the default, callable
  threading::ExceptHookArgs args;
  args.exc_value = std::make_exception_ptr(std::runtime_error("direct"));
  args.exc_type = &typeid(std::runtime_error);
  threading::excepthook(args);  // threading.excepthook(args)
  threading::excepthook()(args);
  EXPECT_EQ(calls.load(), 2);
  threading::excepthook(nullptr);  // restore the default
  testing::internal::CaptureStderr();
  threading::excepthook(args);  // THR-X10: no thread -> the ident
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "Exception in thread " +
                                                        std::to_string(threading::get_ident()) +
                                                        ":\nstd::runtime_error: direct\n");
  testing::internal::CaptureStderr();
  args.thread = threading::main_thread();
  threading::default_excepthook(args);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "Exception in thread MainThread:\nstd::runtime_error: direct\n");
  threading::excepthook(old);
}

TEST(Shutdown, ExplicitShutdownOutsideMainWaitsForNonDaemonThreads) {
  // The exit wait (detail::exit_wait(), CPython's _shutdown()) from a worker joins the other
  // non-daemon threads (not daemons, not itself) and does not stop the main thread.
  Event release;
  std::atomic<bool> finished{false};
  auto worker = std::make_shared<Thread>([&] {
    release.wait();
    finished = true;
  });
  auto daemon =
      std::make_shared<Thread>(Thread::Options{.target = [&] { release.wait(); }, .daemon = true});
  worker->start();
  daemon->start();
  std::atomic<bool> done{false};
  auto shutter = std::make_shared<Thread>([&] {
    threading::detail::exit_wait();
    done = true;
  });
  shutter->start();
  shutter->join(0.05);
  EXPECT_TRUE(shutter->is_alive());  // waiting for `worker`
  release.set();
  shutter->join();
  EXPECT_TRUE(done);
  EXPECT_TRUE(finished);
  EXPECT_TRUE(threading::main_thread()->is_alive());
  daemon->join();
}
