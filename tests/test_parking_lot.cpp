// The parking core on its own: park/unpark, validation, timeouts, the
// timeout-vs-unpark race, requeue, FIFO order, and a lost-wake-up stress.
// Also the OS wall beneath it (src/os/futex.hpp and its implementations):
// sleeping across fork, a deadline of TIMEOUT_MAX, and a futex the OS refuses.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../src/os/futex.hpp"
#include "programs/child.hpp"
#include "support.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/lock.hpp"

namespace pl = threading::detail::parking_lot;
using threading::detail::Deadline;
using namespace test_support;

TEST(ParkingLot, InvalidWhenValidateFails) {
  int key = 0;
  auto r = pl::park(
      &key, [] { return false; }, nullptr);
  EXPECT_EQ(r.status, pl::ParkStatus::kInvalid);
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

TEST(ParkingLot, UnparkOneWithNobodyRunsCallback) {
  int key = 0;
  bool called = false;
  auto r = pl::unpark_one(&key, [&](pl::UnparkResult u) {
    called = true;
    EXPECT_EQ(u.unparked_threads, 0u);
    EXPECT_FALSE(u.have_more_threads);
    return pl::Token{0};
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(r.unparked_threads, 0u);
}

TEST(ParkingLot, TimedParkNeverEarly) {
  int key = 0;
  for (double t : {0.0, 0.001, 0.02, 0.1}) {
    auto start = Clock::now();
    Deadline d = Deadline::after(t);
    auto r = pl::park(
        &key, [] { return true; }, &d);
    EXPECT_EQ(r.status, pl::ParkStatus::kTimedOut);
    expect_timeout(seconds_since(start), t);
  }
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

TEST(ParkingLot, UnparkHandsToken) {
  int key = 0;
  std::atomic<pl::Token> got{0};
  std::thread t([&] {
    auto r = pl::park(
        &key, [] { return true; }, nullptr);
    EXPECT_EQ(r.status, pl::ParkStatus::kUnparked);
    got = r.token;
  });
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&key) == 1; }));
  auto r = pl::unpark_one(&key, [](pl::UnparkResult u) {
    EXPECT_EQ(u.unparked_threads, 1u);
    EXPECT_FALSE(u.have_more_threads);
    return pl::Token{42};
  });
  EXPECT_EQ(r.unparked_threads, 1u);
  t.join();
  EXPECT_EQ(got.load(), 42u);
}

TEST(ParkingLot, FifoOrderAndUnparkN) {
  int key = 0;
  constexpr int kN = 6;
  std::vector<std::thread> threads;
  std::atomic<int> order{0};
  std::vector<int> woke_at(kN, -1);
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      pl::park(
          &key, [] { return true; }, nullptr);
      woke_at[i] = order.fetch_add(1);
    });
    // Enqueue strictly one after another so the queue order is known.
    ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&key) == static_cast<size_t>(i + 1); }));
  }
  auto r = pl::unpark_n(&key, 2, [](pl::UnparkResult u) {
    EXPECT_TRUE(u.have_more_threads);
    return pl::Token{0};
  });
  EXPECT_EQ(r.unparked_threads, 2u);
  ASSERT_TRUE(wait_until([&] { return order.load() == 2; }));
  EXPECT_EQ(pl::waiter_count(&key), 4u);
  EXPECT_EQ(pl::unpark_all(&key), 4u);
  for (auto& t : threads) t.join();
  // The first two parked were the first two woken.
  EXPECT_LT(woke_at[0], 2);
  EXPECT_LT(woke_at[1], 2);
}

TEST(ParkingLot, RequeueMovesWithoutWaking) {
  int from = 0, to = 0;
  constexpr int kN = 4;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&] {
      pl::park(
          &from, [] { return true; }, nullptr);
      woken.fetch_add(1);
    });
  }
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&from) == kN; }));
  auto r = pl::unpark_requeue(
      &from, &to, 3, [] { return pl::RequeueOp::kUnparkOneRequeueRest; },
      [](pl::RequeueOp, pl::UnparkResult u) {
        EXPECT_EQ(u.unparked_threads, 1u);
        EXPECT_EQ(u.requeued_threads, 2u);
        return pl::Token{0};
      });
  EXPECT_EQ(r.unparked_threads, 1u);
  EXPECT_EQ(r.requeued_threads, 2u);
  ASSERT_TRUE(wait_until([&] { return woken.load() == 1; }));
  EXPECT_EQ(pl::waiter_count(&from), 1u);
  EXPECT_EQ(pl::waiter_count(&to), 2u);
  EXPECT_EQ(pl::unpark_all(&to), 2u);
  EXPECT_EQ(pl::unpark_all(&from), 1u);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kN);
}

TEST(ParkingLot, RequeuedWaiterTimesOutOnNewKey) {
  int from = 0, to = 0;
  std::atomic<const void*> timed_out_key{nullptr};
  std::thread t([&] {
    Deadline d = Deadline::after(0.2);
    auto r = pl::park(
        &from, [] { return true; }, [] {},
        [&](const void* key, bool was_last) {
          timed_out_key = key;
          EXPECT_TRUE(was_last);
        },
        0, &d);
    EXPECT_EQ(r.status, pl::ParkStatus::kTimedOut);
  });
  ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&from) == 1; }));
  pl::unpark_requeue(
      &from, &to, SIZE_MAX, [] { return pl::RequeueOp::kRequeueAll; },
      [](pl::RequeueOp, pl::UnparkResult) { return pl::Token{0}; });
  t.join();
  EXPECT_EQ(timed_out_key.load(), static_cast<const void*>(&to));
  EXPECT_EQ(pl::waiter_count(&to), 0u);
}

// Each unpark is either reported by exactly one park or was never needed:
// with timeouts racing unparks, the number of kUnparked results must equal
// the number of threads the unparkers report having woken.
TEST(ParkingLot, TimeoutRacingUnparkIsNeverLost) {
  int key = 0;
  constexpr int kThreads = 4;
  constexpr int kRounds = 3000;
  std::atomic<long> reported{0}, unparked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> parkers;
  for (int i = 0; i < kThreads; ++i) {
    parkers.emplace_back([&] {
      for (int j = 0; j < kRounds; ++j) {
        Deadline d = Deadline::after(0.00001 * (j % 7));
        auto r = pl::park(
            &key, [] { return true; }, &d);
        if (r.status == pl::ParkStatus::kUnparked) reported.fetch_add(1);
      }
    });
  }
  std::thread unparker([&] {
    while (!stop.load()) {
      unparked.fetch_add(
          pl::unpark_one(&key, [](pl::UnparkResult) { return pl::Token{0}; }).unparked_threads);
    }
  });
  for (auto& t : parkers) t.join();
  stop = true;
  unparker.join();
  EXPECT_EQ(reported.load(), unparked.load());
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

// 10^6 hand-offs between two threads through a word + park/unpark: a lost
// wake-up would hang the test (ctest's timeout catches it).
TEST(ParkingLot, MillionHandoffsNoLostWakeup) {
  std::atomic<std::uint32_t> turn{0};
  constexpr int kHandoffs = 1000000 / kStressDivisor;
  auto player = [&](std::uint32_t me) {
    for (int i = 0; i < kHandoffs / 2; ++i) {
      while (turn.load(std::memory_order_acquire) != me) {
        pl::park(
            &turn, [&] { return turn.load(std::memory_order_relaxed) != me; }, nullptr);
      }
      turn.store(1 - me, std::memory_order_release);
      pl::unpark_all(&turn);
    }
  };
  std::thread a(player, 0), b(player, 1);
  a.join();
  b.join();
  EXPECT_EQ(pl::waiter_count(&turn), 0u);
}

// unpark_requeue onto its own key: the waiters stay where they are (a move
// onto the same queue changes nothing) and the call returns.
TEST(ParkingLot, RequeueOntoItselfIsANoOpMove) {
  int key = 0;
  constexpr int kN = 4;
  std::atomic<int> woken_count{0};
  std::atomic<bool> woken[kN] = {};
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      pl::park(
          &key, [] { return true; }, nullptr);
      woken[i] = true;
      woken_count.fetch_add(1);
    });
    ASSERT_TRUE(wait_until([&] { return pl::waiter_count(&key) == static_cast<size_t>(i + 1); }));
  }
  auto all = pl::unpark_requeue(
      &key, &key, SIZE_MAX, [] { return pl::RequeueOp::kRequeueAll; },
      [](pl::RequeueOp, pl::UnparkResult u) {
        EXPECT_EQ(u.unparked_threads, 0u);
        EXPECT_EQ(u.requeued_threads, static_cast<size_t>(kN));
        return pl::Token{0};
      });
  EXPECT_EQ(all.unparked_threads, 0u);
  EXPECT_EQ(all.requeued_threads, static_cast<size_t>(kN));
  EXPECT_TRUE(all.have_more_threads);
  EXPECT_EQ(pl::waiter_count(&key), static_cast<size_t>(kN));

  auto one = pl::unpark_requeue(
      &key, &key, SIZE_MAX, [] { return pl::RequeueOp::kUnparkOneRequeueRest; },
      [](pl::RequeueOp, pl::UnparkResult) { return pl::Token{0}; });
  EXPECT_EQ(one.unparked_threads, 1u);
  EXPECT_EQ(one.requeued_threads, static_cast<size_t>(kN - 1));
  ASSERT_TRUE(wait_until([&] { return woken_count.load() == 1; }));
  EXPECT_TRUE(woken[0].load());  // the oldest
  // The others kept their FIFO order.
  for (int i = 1; i < kN; ++i) {
    EXPECT_EQ(pl::unpark_one(&key, [](pl::UnparkResult) { return pl::Token{0}; }).unparked_threads,
              1u);
    ASSERT_TRUE(wait_until([&] { return woken_count.load() == i + 1; }));
    EXPECT_TRUE(woken[i].load());
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(pl::waiter_count(&key), 0u);
}

namespace {

// The scheduler state of one of our threads: 'R' running, 'S' asleep in the
// kernel, ... (the field after the command name in /proc/self/task/TID/stat).
char thread_state(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

pid_t my_tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

std::atomic<std::uint32_t> g_fork_word{0};

}  // namespace

// A thread of the parent is asleep on a word when the process forks; the
// child then sleeps on and wakes that same word. The sleeper's OS state (on
// the portable path: a condvar with a waiter that does not exist in the
// child) must not make the child hang.
TEST(ParkingLotFork, ChildSleepsAndWakesWhereParentSlept) {
  namespace d = threading::detail;
  g_fork_word.store(0);
  std::atomic<pid_t> tid{0};
  std::thread sleeper([&] {
    tid = my_tid();
    while (g_fork_word.load() == 0) d::futex_wait(&g_fork_word, 0, nullptr);
  });
  ASSERT_TRUE(wait_until([&] { return tid.load() != 0 && thread_state(tid.load()) == 'S'; }));

  pid_t pid = fork();
  if (pid == 0) {
    alarm(60);  // a hang ends as SIGALRM
    // A wake-up with no sleeper of the child's own, then a timed sleep.
    d::futex_wake(&g_fork_word, 1);
    d::Deadline soon = d::Deadline::after(0.01);
    while (d::futex_wait(&g_fork_word, 0, &soon)) {
    }
    CHILD_CHECK(soon.expired());
#if !defined(__SANITIZE_THREAD__)  // TSan cannot start threads after a multi-threaded fork
    // A sleeper of the child's own, woken by the child.
    std::atomic<pid_t> child_tid{0};
    std::thread child_sleeper([&] {
      child_tid = my_tid();
      while (g_fork_word.load() == 0) d::futex_wait(&g_fork_word, 0, nullptr);
    });
    CHILD_CHECK(
        wait_until([&] { return child_tid.load() != 0 && thread_state(child_tid) == 'S'; }, 30s));
    g_fork_word.store(1);
    d::futex_wake(&g_fork_word, 1);
    child_sleeper.join();
#endif
    _exit(0);
  }
  int status = test_support::wait_status(pid);
  g_fork_word.store(1);
  d::futex_wake(&g_fork_word, 1);
  sleeper.join();
  EXPECT_EQ(status, 0) << (status == 128 + SIGALRM ? "the child hung" : "the child failed");
}

// Lock.acquire(timeout=TIMEOUT_MAX) sleeps in the kernel like an untimed
// acquire; it must not turn into a loop of instant time-outs.
TEST(ParkingLot, TimeoutMaxSleeps) {
  threading::Lock lock;
  lock.acquire();
  std::atomic<pid_t> tid{0};
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    tid = my_tid();
    got = lock.acquire(true, threading::TIMEOUT_MAX);
    lock.release();
  });
  EXPECT_TRUE(wait_until([&] { return tid.load() != 0 && thread_state(tid.load()) == 'S'; }))
      << "the waiter never went to sleep";
  lock.release();
  waiter.join();
  EXPECT_TRUE(got.load());
}

// A futex the OS refuses (here a seccomp filter makes it fail with ENOSYS or
// EPERM) is a fatal error that names the call and the errno: never a wait
// that returns at once and spins.
class FutexRefused : public ::testing::TestWithParam<int> {};

namespace {
// Installs a filter that fails every futex system call with `err`.
bool refuse_futex(int err) {
  sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
#if defined(__x86_64__)
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
#elif defined(__aarch64__)
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_AARCH64, 1, 0),
#else
#error "add this architecture's AUDIT_ARCH value"
#endif
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}
}  // namespace

// Runs `body` in a child whose futex calls fail with `err`; returns the
// child's status and what it wrote on stderr.
template <class F>
std::pair<int, std::string> run_with_futex_refused(int err, F body) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, "pipe failed"};
  pid_t pid = fork();
  if (pid == 0) {
    alarm(60);  // a spin (or a hang) ends as SIGALRM
    dup2(fds[1], 2);
    close(fds[0]);
    if (!refuse_futex(err)) _exit(3);
    body();
    _exit(4);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  return {test_support::wait_status(pid), out};
}

TEST_P(FutexRefused, BlockingWaitIsFatal) {
  int err = GetParam();
  auto [status, out] = run_with_futex_refused(err, [] {
    int key = 0;
    pl::park(
        &key, [] { return true; }, nullptr);  // nobody unparks: sleeps, or dies
  });
  ASSERT_NE(status, 3) << "could not install the seccomp filter";
  EXPECT_EQ(status, 128 + SIGABRT) << "stderr: " << out;
  EXPECT_NE(out.find("futex"), std::string::npos) << out;
#if PYTHREADING_USE_FUTEX
  // Our own message names the call and the errno (on the portable path glibc
  // dies first, with its own message about the futex).
  EXPECT_NE(out.find("FUTEX_WAIT"), std::string::npos) << out;
  EXPECT_NE(out.find(err == ENOSYS ? "ENOSYS" : "EPERM"), std::string::npos) << out;
#endif
}

TEST_P(FutexRefused, WakeIsFatal) {
#if !PYTHREADING_USE_FUTEX
  GTEST_SKIP() << "the portable path wakes through a condvar, which needs no futex call here";
#else
  int err = GetParam();
  auto [status, out] = run_with_futex_refused(err, [] {
    std::atomic<std::uint32_t> word{0};
    threading::detail::futex_wake(&word, 1);
  });
  ASSERT_NE(status, 3) << "could not install the seccomp filter";
  EXPECT_EQ(status, 128 + SIGABRT) << "stderr: " << out;
  EXPECT_NE(out.find("FUTEX_WAKE"), std::string::npos) << out;
  EXPECT_NE(out.find(err == ENOSYS ? "ENOSYS" : "EPERM"), std::string::npos) << out;
#endif
}

INSTANTIATE_TEST_SUITE_P(Errno, FutexRefused, ::testing::Values(ENOSYS, EPERM),
                         [](const auto& param_info) {
                           return param_info.param == ENOSYS ? "ENOSYS" : "EPERM";
                         });
