// Process exit (SPEC §15) and excepthook's default output, run as child
// processes (tests/programs/) whose stdout, stderr and exit status are checked.
#include <gtest/gtest.h>

#include <string>

#include "programs/child.hpp"
#include "support.hpp"

using namespace test_support;

namespace {

ChildResult run(const std::string& program, const std::string& mode) {
  return run_child(std::string(PYTHREADING_PROGRAMS_DIR) + "/prog_" + program, {mode});
}

}  // namespace

TEST(Exit, NonDaemonThreadOutlivesMainReturn) {
  ChildResult r = run("exit_scenarios", "return");
  EXPECT_EQ(r.status, 3) << r.err;  // EXIT-02: the status is kept
  // EXIT-01/04/06: main is marked stopped, the worker finishes, and only then
  // do atexit handlers and static destructors run (even those registered
  // after start()).
  EXPECT_EQ(r.out,
            "main done\n"
            "worker sees main alive=0\n"
            "worker done\n"
            "static destroyed\n"
            "atexit registered after start\n"
            "atexit registered before start\n");
  EXPECT_EQ(r.err, "");
}

TEST(Exit, NonDaemonThreadOutlivesStdExit) {
  ChildResult r = run("exit_scenarios", "exit");
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_EQ(r.out,
            "main done\n"
            "worker sees main alive=0\n"
            "worker done\n"
            "static destroyed\n"
            "atexit registered after start\n"
            "atexit registered before start\n");
}

TEST(Exit, StdExitFromAWorkerWaitsForTheOthers) {
  ChildResult r = run("exit_scenarios", "thread-exit");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.out, "B exiting\nA done\natexit\n");
}

TEST(Exit, ThreadsStartedDuringTheWaitAreWaitedFor) {
  ChildResult r = run("exit_scenarios", "nested");
  EXPECT_EQ(r.status, 0) << r.err;  // EXIT-03
  EXPECT_EQ(r.out.substr(0, 10), "main done\n");
  EXPECT_NE(r.out.find("w1 done\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("w2 done\n"), std::string::npos) << r.out;
}

TEST(Exit, JoiningMainIsReleasedAtExit) {
  ChildResult r = run("exit_scenarios", "join-main");
  EXPECT_EQ(r.status, 0) << r.err;  // THR-J12
  EXPECT_EQ(r.out, "main done\nmain joined\n");
}

TEST(Exit, DaemonThreadsAreAbandoned) {
  ChildResult r = run("exit_scenarios", "daemon");
  EXPECT_EQ(r.status, 0) << r.err;  // EXIT-05: no wait, no cleanup
  EXPECT_EQ(r.out, "main done\n");
  EXPECT_EQ(r.err, "");
}

TEST(Exit, ExceptionInThreadDefaultOutputAndStatus) {
  ChildResult r = run("exit_scenarios", "exception");
  EXPECT_EQ(r.status, 0);  // EXIT-09
  EXPECT_EQ(r.out, "main done\n");
  EXPECT_EQ(r.err,
            "Exception in thread Thread-1:\n"
            "std::runtime_error: boom\n"
            "Exception in thread named worker:\n"
            "std::out_of_range: index 7\n");  // THR-X2, as C++ can say it
}

TEST(Exit, FiftyExitsWhileDaemonsHammerTheLibrary) {
  const int runs = 50 / kStressDivisor;
  const char* modes[] = {"return", "exit", "quick"};
  for (int i = 0; i < runs; ++i) {
    const char* mode = modes[i % 3];
    ChildResult r = run("daemon_stress", mode);
    ASSERT_EQ(r.status, 0) << "run " << i << " (" << mode << ") stderr:\n" << r.err;
    ASSERT_EQ(r.out, "ok\n") << "run " << i;
    ASSERT_EQ(r.err, "") << "run " << i;
  }
}

TEST(Exit, JoinerCancelledInsideJoinLeavesTheThreadJoinable) {
#if defined(__SANITIZE_THREAD__)
  // TSan's pthread_join interceptor cannot be cancelled: it leaves its
  // "ignore" scope open and reports the thread "finished with ignores".
  GTEST_SKIP() << "ThreadSanitizer does not support cancelling pthread_join";
#endif
  for (const char* mode : {"untimed", "timed"}) {
    ChildResult r = run("join_cancel", mode);
    EXPECT_EQ(r.status, 0) << mode << ": " << r.err;  // 142: a join hung
    EXPECT_EQ(r.out, "joined\n") << mode;
  }
}

TEST(Exit, FailedOsCallsAreFatalErrorsNamingTheCall) {
  ChildResult key = run("fatal_errors", "key");
  EXPECT_EQ(key.status, 128 + 6) << key.out << key.err;  // SIGABRT
  EXPECT_NE(key.err.find("Fatal error"), std::string::npos) << key.err;
  EXPECT_NE(key.err.find("pthread_key_create"), std::string::npos) << key.err;
  EXPECT_NE(key.err.find("EAGAIN"), std::string::npos) << key.err;
  EXPECT_EQ(key.out, "");

  ChildResult atfork = run("fatal_errors", "atfork");
  EXPECT_EQ(atfork.status, 128 + 6) << atfork.out << atfork.err;
  EXPECT_NE(atfork.err.find("pthread_atfork"), std::string::npos) << atfork.err;
  EXPECT_NE(atfork.err.find("ENOMEM"), std::string::npos) << atfork.err;

  ChildResult none = run("fatal_errors", "none");
  EXPECT_EQ(none.status, 0) << none.err;
  EXPECT_EQ(none.out, "no error\n");
}
