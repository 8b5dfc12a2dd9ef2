// fork() (SPEC §16): in the child only the forking thread remains, it becomes
// main_thread(), idents are updated, other Thread objects are stopped and
// join at once, and every internal lock works (new threads start and join).
// Each child runs its checks and reports through its exit status; a failing
// check prints its line on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "programs/child.hpp"
#include "programs/fork_sanitizers.hpp"
#include "support.hpp"
#include "threading/condition.hpp"
#include "threading/event.hpp"
#include "threading/local.hpp"
#include "threading/lock.hpp"
#include "threading/thread.hpp"
#include "threading/timer.hpp"

using threading::Event;
using threading::Thread;
using namespace test_support;

namespace {

// Runs `child` in a forked child (from the calling thread); returns its status.
template <class F>
int fork_and_wait(F child) {
  pid_t pid = fork();
  if (pid == 0) {
    child();
    _exit(0);
  }
  return wait_status(pid);
}

// Work the child does to show that the library's internal state is sound.
void use_the_library_in_child() {
  constexpr bool start_threads = kStartThreadsInChild;
  std::atomic<int> sum{0};
  threading::local<int> loc(10);
  threading::Lock lock;
  threading::Condition cond;
  std::vector<std::shared_ptr<Thread>> ts;
  if (!start_threads) {
    std::lock_guard g(lock);
    CHILD_CHECK(*loc == 10);
    CHILD_CHECK(threading::active_count() == 1);
    return;
  }
  for (int i = 0; i < 4; ++i) {
    ts.push_back(std::make_shared<Thread>([&, i] {
      std::lock_guard g(lock);
      sum += i + *loc;
      (void)threading::current_thread()->name();
    }));
    ts.back()->start();
  }
  for (auto& t : ts) t->join();
  CHILD_CHECK(sum.load() == 46);
  Event fired;
  auto timer = std::make_shared<threading::Timer>(0.01, [&] { fired.set(); });
  timer->start();
  timer->join();
  CHILD_CHECK(fired.is_set());
  {
    std::unique_lock g(cond);
    CHILD_CHECK(!cond.wait(0.01));
  }
  CHILD_CHECK(threading::active_count() == 1);
}

}  // namespace

TEST(Fork, FromMainThread) {
  Event go;
  threading::Lock held;
  Event holding;
  auto worker = std::make_shared<Thread>([&] {
    held.acquire();
    holding.set();
    go.wait();
    held.release();
  });
  auto daemon =
      std::make_shared<Thread>(Thread::Options{.target = [&] { go.wait(); }, .daemon = true});
  worker->start();
  daemon->start();
  holding.wait();
  auto main = threading::main_thread();
  int status = fork_and_wait([&] {
    auto me = threading::current_thread();
    CHILD_CHECK(me == main);
    CHILD_CHECK(threading::main_thread() == main);
    CHILD_CHECK(main->name() == "MainThread");
    CHILD_CHECK(main->is_alive());
    CHILD_CHECK(threading::active_count() == 1);  // FORK-01
    auto all = threading::enumerate();
    CHILD_CHECK(all.size() == 1 && all[0] == me);
    CHILD_CHECK(*me->ident() == threading::get_ident());  // FORK-04
    CHILD_CHECK(*me->native_id() == getpid());
    CHILD_CHECK(threading::get_native_id() == getpid());
    CHILD_CHECK(!worker->is_alive());  // FORK-03
    CHILD_CHECK(!daemon->is_alive());
    worker->join();
    daemon->join(1.0);
    CHILD_CHECK(held.locked());  // FORK-05: user locks are not reset
    use_the_library_in_child();
  });
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(worker->is_alive());  // the parent is untouched
  go.set();
  worker->join();
  daemon->join();
}

TEST(Fork, FromWorkerThread) {
  int status = -1;
  auto main = threading::main_thread();
  auto forker = std::make_shared<Thread>(Thread::Options{.name = "forker"});
  forker = std::make_shared<Thread>(
      Thread::Options{.target =
                          [&] {
                            status = fork_and_wait([&] {
                              auto me = threading::current_thread();
                              CHILD_CHECK(me == forker);
                              CHILD_CHECK(threading::main_thread() == me);  // FORK-02
                              CHILD_CHECK(me->name() == "forker");
                              CHILD_CHECK(me->is_alive());
                              CHILD_CHECK(*me->native_id() == getpid());
                              CHILD_CHECK(!main->is_alive());  // FORK-03, the old main too
                              main->join();
                              CHILD_CHECK(threading::active_count() == 1);
                              use_the_library_in_child();
                            });
                          },
                      .name = "forker"});
  forker->start();
  forker->join();
  EXPECT_EQ(status, 0);
}

TEST(Fork, FromForeignThreadWithAndWithoutDummy) {
  int with_dummy = -1, without = -1;
  std::thread([&] {
    auto d = threading::current_thread();
    with_dummy = fork_and_wait([&] {
      CHILD_CHECK(threading::current_thread() == d);  // FORK-07 (3.11: keeps Dummy-N)
      CHILD_CHECK(threading::main_thread() == d);
      CHILD_CHECK(threading::active_count() == 1);
      use_the_library_in_child();
    });
  }).join();
  std::thread([&] {
    without = fork_and_wait([&] {
      auto me = threading::current_thread();
      CHILD_CHECK(me == threading::main_thread());
      CHILD_CHECK(me->name() == "MainThread");
      CHILD_CHECK(!me->daemon());
      CHILD_CHECK(threading::active_count() == 1);
      use_the_library_in_child();
    });
  }).join();
  EXPECT_EQ(with_dummy, 0);
  EXPECT_EQ(without, 0);
}

TEST(Fork, WhileThreadsChurn) {
  // Fork repeatedly while other threads start, stop, rename and use locals,
  // so the internal locks are often held at the moment of fork.
  std::atomic<bool> stop{false};
  threading::local<int> loc(1);
  std::vector<std::shared_ptr<Thread>> churners;
  for (int i = 0; i < 2; ++i) {
    churners.push_back(std::make_shared<Thread>([&] {
      while (!stop.load()) {
        auto t = std::make_shared<Thread>([&] { *loc += 1; });
        t->start();
        t->name("renamed");
        t->join();
        (void)threading::enumerate();
      }
    }));
    churners.back()->start();
  }
  const int forks = 20 / kStressDivisor;
  for (int i = 0; i < forks; ++i) {
    int status = fork_and_wait([&] {
      CHILD_CHECK(threading::active_count() == 1);
      CHILD_CHECK(threading::current_thread() == threading::main_thread());
      if (kChildMayAllocateAfterBusyFork) use_the_library_in_child();
    });
    EXPECT_EQ(status, 0) << "fork " << i;
    if (status != 0) break;
  }
  stop = true;
  for (auto& t : churners) t->join();
}

TEST(Fork, ChildExitWaitsForItsNonDaemonThreads) {
  ChildResult r = run_child(std::string(PYTHREADING_PROGRAMS_DIR) + "/prog_fork_exit", {});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "child: worker done\nchild status 7\n");
  EXPECT_EQ(r.err, "");
}

TEST(Fork, ChildHandlerDoesNotAllocate) {
  // From the main thread, a started Thread, and a foreign thread that has no
  // dummy (the child needs a new main Thread object, made before the fork).
  ChildResult r = run_child(std::string(PYTHREADING_PROGRAMS_DIR) + "/prog_fork_alloc", {});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "main 0\nworker 0\nforeign 0\n") << r.err;
}
