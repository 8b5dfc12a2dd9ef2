// Thread dump, deadlock cycles, lock-order inversions and the signal dump
// (diagnostics.hpp). Each scenario runs in a child process
// (tests/programs/diag_scenarios.cpp) that leaves threads blocked on purpose.
// g++ 12 with -fsanitize=address warns inside <regex>'s own std::function
// (a false maybe-uninitialized), not about this file's code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <string>

#include "programs/child.hpp"
#include "threading/diagnostics.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"

using test_support::ChildResult;
using test_support::run_child;

namespace {

ChildResult run(const std::string& mode) {
  return run_child(std::string(PYTHREADING_PROGRAMS_DIR) + "/prog_diag_scenarios", {mode});
}

bool has(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

constexpr const char* kAddr = "0x[0-9a-f]+";

TEST(Diagnostics, DumpShowsRLockWaitAndItsOwner) {
  ChildResult r = run("rlock");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"MainThread\" ident=[0-9]+ native_id=[0-9]+ main\n    running"))
      << r.out;
  EXPECT_TRUE(has(r.out, "\"holder\" ident=[0-9]+ native_id=[0-9]+\n    waiting on Event 0x"))
      << r.out;
  EXPECT_TRUE(has(r.out, std::string("\"waiter\" ident=[0-9]+ native_id=[0-9]+\n    waiting to "
                                     "acquire RLock ") +
                             kAddr + " held by \"holder\" \\(ident=[0-9]+\\) for [0-9.]+ s\n"))
      << r.out;
  // Once the waits are over, nobody is waiting.
  std::string after = r.out.substr(r.out.find("after:"));
  EXPECT_FALSE(has(after, "waiting")) << after;
}

TEST(Diagnostics, TimedWaitShowsTimeoutLeft) {
  ChildResult r = run("rlock-timed");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out,
                  "waiting to acquire RLock .* held by \"holder\" .*for [0-9.]+ s, timeout "
                  "in [0-9]+\\.[0-9]+ s"))
      << r.out;
}

TEST(Diagnostics, LockHasNoOwnerWithoutDebugMode) {
  ChildResult r = run("lock");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, std::string("\"waiter\" .*\n    waiting to acquire Lock ") + kAddr +
                             " for [0-9.]+ s\n"))
      << r.out;
}

TEST(Diagnostics, DebugModeKnowsTheLockHolder) {
  ChildResult r = run("lock-debug");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "waiting to acquire Lock 0x[0-9a-f]+ held by \"holder\"")) << r.out;
}

TEST(Diagnostics, Semaphore) {
  ChildResult r = run("semaphore");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"waiter\" .*\n    waiting to acquire Semaphore 0x[0-9a-f]+ for"))
      << r.out;
  r = run("semaphore-debug");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      has(r.out, "waiting to acquire Semaphore 0x[0-9a-f]+ last acquired by \"MainThread\""))
      << r.out;
}

TEST(Diagnostics, ConditionWaitThenNotifiedWaitForTheLock) {
  ChildResult r = run("condition");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "waiting on Condition 0x[0-9a-f]+ \\(lock: RLock 0x[0-9a-f]+\\) for"))
      << r.out;
  EXPECT_TRUE(has(r.out,
                  "waiting on Condition 0x[0-9a-f]+, notified, re-acquiring its RLock "
                  "0x[0-9a-f]+ held by \"MainThread\""))
      << r.out;
}

TEST(Diagnostics, Event) {
  ChildResult r = run("event");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      has(r.out, "\"waiter\" .*\n    waiting on Event 0x[0-9a-f]+ for [0-9.]+ s, timeout in"))
      << r.out;
}

TEST(Diagnostics, BarrierShowsArrivals) {
  ChildResult r = run("barrier");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"first\" .*\n    waiting on Barrier 0x[0-9a-f]+ \\(2 of 3 arrived\\)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "\"second\" .*\n    waiting on Barrier 0x[0-9a-f]+ \\(2 of 3 arrived\\)"))
      << r.out;
}

TEST(Diagnostics, JoinShowsTheTarget) {
  ChildResult r = run("join");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"joiner\" .*\n    waiting to join \"target\" \\(ident=[0-9]+\\) for"))
      << r.out;
}

TEST(Diagnostics, QueueGetAndPut) {
  ChildResult r = run("queue");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"getter\" .*\n    waiting in Queue.get on 0x[0-9a-f]+")) << r.out;
  EXPECT_TRUE(has(r.out, "\"putter\" .*\n    waiting in Queue.put on 0x[0-9a-f]+")) << r.out;
}

TEST(Diagnostics, FindsRLockDeadlock) {
  ChildResult r = run("deadlock-rlock");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "cycles=1\ncycle: (left right|right left)\n")) << r.out;
  EXPECT_TRUE(has(r.out, "Found a deadlock \\(2 threads\\):\n  \"(left|right)\" ")) << r.out;
}

TEST(Diagnostics, FindsJoinDeadlock) {
  ChildResult r = run("deadlock-join");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "cycle: (j1 j2|j2 j1)\n")) << r.out;
}

TEST(Diagnostics, LockDeadlockNeedsDebugMode) {
  ChildResult r = run("deadlock-lock");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "cycles=0\n")) << r.out;
  r = run("deadlock-lock-debug");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "cycles=1\ncycle: (left right|right left)\n")) << r.out;
}

TEST(Diagnostics, LockOrderInversionReportedOnce) {
  ChildResult r = run("inversion");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out,
                  "report edges=2\nedge second Lock while holding RLock\nedge first RLock "
                  "while holding Lock\n"))
      << r.out;
  EXPECT_TRUE(has(r.out, "reports=1\ndebug=1\n")) << r.out;
}

TEST(Diagnostics, LockOrderInversionDefaultHandlerPrints) {
  ChildResult r = run("inversion-default");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.err,
                  "lock-order inversion \\(potential deadlock\\), 2 locks in a cycle:\n"
                  "  thread \"second\" \\(ident=[0-9]+\\) acquired Lock 0x[0-9a-f]+ while "
                  "holding RLock 0x[0-9a-f]+  <- now\n"
                  "  thread \"first\" \\(ident=[0-9]+\\) acquired RLock 0x[0-9a-f]+ while "
                  "holding Lock 0x[0-9a-f]+  <- earlier\n"))
      << r.err;
  // Exactly one report.
  EXPECT_EQ(r.err.find("lock-order"), r.err.rfind("lock-order")) << r.err;
}

TEST(Diagnostics, NoInversionReportWithoutDebugMode) {
  ChildResult r = run("inversion-off");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "reports=0\ndebug=0\n");
  EXPECT_EQ(r.err, "");
}

TEST(Diagnostics, RecordGivenBackAfterALateFirstWait) {
  // A first wait in a pthread key destructor (after the thread's C++
  // thread_local destructors): 4104 such threads used to use up the table.
  ChildResult r = run("late-first-wait");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "probe shown\n") << r.err;
}

TEST(Diagnostics, ProgramWithoutDiagnosticsIsUnchanged) {
  ChildResult r = run("plain");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "debug=0\n");
  EXPECT_EQ(r.err, "");
}

TEST(Diagnostics, SignalDump) {
  ChildResult r = run("signal");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.err, "Thread dump \\(pythreading, on a signal\\):\n")) << r.err;
  EXPECT_TRUE(has(r.err, "\"MainThread\" native_id=[0-9]+( ident=[0-9]+)?\n    running\n"))
      << r.err;
  EXPECT_TRUE(has(r.err,
                  "\"sig-waiter\" native_id=[0-9]+ ident=[0-9]+\n    waiting on RLock "
                  "0x[0-9a-f]+ held by ident=[0-9]+ \"sig-holder\" for [0-9]+\\.[0-9]{3} s\n"))
      << r.err;
}

TEST(Diagnostics, InProcessApi) {
  EXPECT_TRUE(threading::find_deadlocks().empty());
  std::string d = threading::dump_threads_string();
  EXPECT_TRUE(has(d, "^Thread dump \\(pythreading\\), [0-9]+ threads:\n\"MainThread\"")) << d;
  EXPECT_THROW(threading::dump_threads_on_signal(SIGKILL), threading::ValueError);
  EXPECT_THROW(threading::dump_threads_on_signal(0), threading::ValueError);
  EXPECT_THROW(threading::dump_threads_on_signal(100000), threading::ValueError);
  EXPECT_FALSE(threading::debug_locks());
  auto old = threading::set_lock_order_handler([](const threading::LockOrderReport&) {});
  EXPECT_FALSE(old);
  EXPECT_TRUE(threading::set_lock_order_handler(nullptr));
}

}  // namespace
