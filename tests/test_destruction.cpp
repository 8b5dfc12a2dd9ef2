// Self-synchronising destruction (issue 8, defect 1): once acquire()/wait()
// has returned in a thread, that thread may destroy the object even though
// the thread that released/set/notified it has not yet returned from that
// call. Each test below has a waiter delete a heap-allocated object the
// instant its wait returns, many thousands of times, while a long-lived
// worker thread performs the release. Under AddressSanitizer any access to
// the object by the releaser after the state change that let the waiter go
// shows up as a heap-use-after-free (it did, for Semaphore::release).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "support.hpp"
#include "threading/barrier.hpp"
#include "threading/condition.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/semaphore.hpp"

using namespace test_support;

namespace {

constexpr int kIterations = 20000 / kStressDivisor;

// A worker thread that runs, for each object the test publishes, `release`
// on it. The test thread waits on the object and deletes it at once.
template <class T>
class Race {
 public:
  explicit Race(std::function<void(T&)> release)
      : release_(std::move(release)), worker_([this] { work(); }) {}
  ~Race() {
    stop_.store(true, std::memory_order_release);
    worker_.join();
  }

  // One round: `make` builds the object (the waiter may prepare it, e.g.
  // lock it), the worker is handed it, `wait` must return only once the
  // worker has released it; then the object is destroyed immediately.
  void round(std::function<T*()> make, std::function<void(T&)> wait) {
    T* obj = make();
    slot_.store(obj, std::memory_order_release);
    wait(*obj);
    delete obj;
  }

 private:
  void work() {
    while (!stop_.load(std::memory_order_acquire)) {
      T* obj = slot_.exchange(nullptr, std::memory_order_acq_rel);
      if (obj == nullptr) {
        std::this_thread::yield();
        continue;
      }
      release_(*obj);
    }
  }

  std::function<void(T&)> release_;
  std::atomic<T*> slot_{nullptr};
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

}  // namespace

TEST(Destruction, Lock) {
  Race<threading::Lock> race([](threading::Lock& l) { l.release(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] {
          auto* l = new threading::Lock;
          l->acquire();
          return l;
        },
        [](threading::Lock& l) { l.acquire(); });
  }
}

TEST(Destruction, LockTimed) {
  Race<threading::Lock> race([](threading::Lock& l) { l.release(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] {
          auto* l = new threading::Lock;
          l->acquire();
          return l;
        },
        [](threading::Lock& l) { ASSERT_TRUE(l.acquire(true, 60.0)); });
  }
}

// The worker owns the RLock first (an RLock is released by its owner).
TEST(Destruction, RLock) {
  struct Obj {
    threading::RLock r;
    std::atomic<bool> held{false};
  };
  Race<Obj> race([](Obj& o) {
    o.r.acquire();
    o.held.store(true, std::memory_order_release);
    o.r.release();
  });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new Obj; },
               [](Obj& o) {
                 while (!o.held.load(std::memory_order_acquire)) std::this_thread::yield();
                 o.r.acquire();
               });
  }
}

TEST(Destruction, ConditionOwnRLock) {
  Race<threading::Condition> race([](threading::Condition& cv) {
    cv.acquire();  // only possible once the waiter is inside wait()
    cv.notify();
    cv.release();
  });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] {
          auto* cv = new threading::Condition;
          cv->acquire();
          return cv;
        },
        [](threading::Condition& cv) {
          ASSERT_TRUE(cv.wait());
          cv.release();
        });
  }
}

TEST(Destruction, ConditionOverLock) {
  struct Obj {
    threading::Lock lock;
    threading::Condition cv{lock};
  };
  Race<Obj> race([](Obj& o) {
    o.cv.acquire();
    o.cv.notify_all();
    o.cv.release();
  });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] {
          auto* o = new Obj;
          o->cv.acquire();
          return o;
        },
        [](Obj& o) {
          ASSERT_TRUE(o.cv.wait(60.0));
          o.cv.release();
        });
  }
}

TEST(Destruction, Semaphore) {
  Race<threading::Semaphore> race([](threading::Semaphore& s) { s.release(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Semaphore(0); },
               [](threading::Semaphore& s) { s.acquire(); });
  }
}

// The window of defect 1, opened wide on purpose: a "jammer" holds the
// parking-core bucket of the semaphore's word (by running a long unpark
// callback on its key) while the waiter, having set the parked bit, queues
// for that bucket lock to validate, and the releaser queues for it to wake
// the waiter. When the jammer lets go and the waiter gets the lock first, it
// finds the unit, returns and deletes the semaphore: the releaser must not
// touch the semaphore after that. (White box: the semaphore's only member is
// its state word, bit 0 the parked bit, bits 2.. the counter.)
TEST(Destruction, SemaphoreReleaseWhileWaiterValidates) {
  namespace pl = threading::detail::parking_lot;
  for (int i = 0; i < 2000 / kStressDivisor; ++i) {
    auto* sem = new threading::Semaphore(0);
    auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(sem);
    std::atomic<bool> jammed{false}, go_release{false}, releasing{false};
    std::thread jammer([&] {
      pl::unpark_n(sem, 0, [&](pl::UnparkResult) {
        jammed.store(true);
        // The waiter has set the parked bit: it is on its way to this lock.
        wait_until([&] { return (word->load() & 1) != 0; });
        go_release.store(true);
        wait_until([&] { return releasing.load(); });
        // Let the releaser publish its unit (old code) and reach this lock.
        auto until = Clock::now() + 200us;
        while ((word->load() >> 2) == 0 && Clock::now() < until) {
        }
        until = Clock::now() + 50us;
        while (Clock::now() < until) {
        }
        return pl::kDefaultToken;
      });
    });
    std::thread releaser([&] {
      wait_until([&] { return go_release.load(); });
      releasing.store(true);
      sem->release();
    });
    wait_until([&] { return jammed.load(); });
    sem->acquire();
    delete sem;
    jammer.join();
    releaser.join();
  }
}

TEST(Destruction, SemaphoreReleaseMany) {
  Race<threading::Semaphore> race([](threading::Semaphore& s) { s.release(3); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Semaphore(0); },
               [](threading::Semaphore& s) { ASSERT_TRUE(s.acquire(true, 60.0)); });
  }
}

TEST(Destruction, BoundedSemaphore) {
  Race<threading::BoundedSemaphore> race([](threading::BoundedSemaphore& s) { s.release(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] {
          auto* s = new threading::BoundedSemaphore(1);
          s->acquire();
          return s;
        },
        [](threading::BoundedSemaphore& s) { s.acquire(); });
  }
}

TEST(Destruction, Event) {
  Race<threading::Event> race([](threading::Event& e) { e.set(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Event; }, [](threading::Event& e) { e.wait(); });
  }
}

TEST(Destruction, EventTimed) {
  Race<threading::Event> race([](threading::Event& e) { e.set(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Event; },
               [](threading::Event& e) { ASSERT_TRUE(e.wait(60.0)); });
  }
}

// Either party may trip the barrier; the one that returns first destroys it
// while the other may still be inside wait().
TEST(Destruction, Barrier) {
  Race<threading::Barrier> race([](threading::Barrier& b) { b.wait(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Barrier(2); }, [](threading::Barrier& b) { b.wait(); });
  }
}

TEST(Destruction, BarrierWithAction) {
  Race<threading::Barrier> race([](threading::Barrier& b) { b.wait(60.0); });
  for (int i = 0; i < kIterations; ++i) {
    race.round([] { return new threading::Barrier(2, [] {}); },
               [](threading::Barrier& b) { b.wait(60.0); });
  }
}

// abort() lets a waiter go with BrokenBarrierError.
TEST(Destruction, BarrierAbort) {
  Race<threading::Barrier> race([](threading::Barrier& b) { b.abort(); });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] { return new threading::Barrier(2); },
        [](threading::Barrier& b) { EXPECT_THROW(b.wait(), threading::BrokenBarrierError); });
  }
}

// reset() also lets a waiter go with BrokenBarrierError; the worker waits
// until the waiter is counted (reset() on an idle barrier does nothing).
TEST(Destruction, BarrierReset) {
  Race<threading::Barrier> race([](threading::Barrier& b) {
    while (b.n_waiting() == 0) std::this_thread::yield();
    b.reset();
  });
  for (int i = 0; i < kIterations; ++i) {
    race.round(
        [] { return new threading::Barrier(2); },
        [](threading::Barrier& b) { EXPECT_THROW(b.wait(), threading::BrokenBarrierError); });
  }
}

// A waiter whose timeout breaks the barrier lets a new arrival go with
// BrokenBarrierError; that arrival destroys the barrier while the breaker is
// still waking the others.
TEST(Destruction, BarrierBrokenByTimeout) {
  struct Obj {
    threading::Barrier b{3};
    std::atomic<bool> waiting{false};
  };
  Race<Obj> race([](Obj& o) {
    o.waiting.store(true, std::memory_order_release);
    EXPECT_THROW(o.b.wait(0.0001), threading::BrokenBarrierError);
  });
  for (int i = 0; i < kIterations / 4; ++i) {
    race.round([] { return new Obj; },
               [](Obj& o) {
                 while (!o.waiting.load(std::memory_order_acquire)) std::this_thread::yield();
                 // Until the worker has broken it, this may count us as a waiter;
                 // either way we leave with BrokenBarrierError.
                 EXPECT_THROW(o.b.wait(), threading::BrokenBarrierError);
               });
  }
}

// The window of the timeout-breaker, opened wide on purpose. A waiter whose
// timeout expires breaks the barrier; a "jammer" polls the barrier's word
// under its parking-core bucket lock and, as soon as the word reads broken,
// lets a new arrival in (it raises BrokenBarrierError and destroys the
// barrier at once) while still holding that lock, so the breaker, if it
// still has to take the lock to wake the others, does so only after the
// barrier is gone. The breaker must not touch the barrier after the word
// reads broken. (White box: the offset of the word is found by parking a
// thread on it; bit 0 of the word is the broken flag.)
TEST(Destruction, BarrierBreakerWhileArrivalThrows) {
  namespace pl = threading::detail::parking_lot;
  std::size_t offset = 0;
  {
    threading::Barrier probe(2);
    std::thread t([&] { EXPECT_THROW(probe.wait(), threading::BrokenBarrierError); });
    auto* base = reinterpret_cast<const char*>(&probe);
    ASSERT_TRUE(wait_until([&] {
      for (offset = 0; offset < sizeof probe; ++offset) {
        if (pl::waiter_count(base + offset) != 0) return true;
      }
      return false;
    }));
    probe.abort();
    t.join();
  }
  for (int i = 0; i < 250 / kStressDivisor; ++i) {
    auto* b = new threading::Barrier(2);
    auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<char*>(b) + offset);
    std::atomic<bool> go{false}, destroyed{false};
    std::thread breaker([&] { EXPECT_THROW(b->wait(0.001), threading::BrokenBarrierError); });
    std::thread jammer([&] {
      bool seen = false;
      while (!seen) {
        pl::unpark_n(word, 0, [&](pl::UnparkResult) {
          if ((word->load() & 1) != 0) {
            seen = true;
            go.store(true);
            wait_until([&] { return destroyed.load(); });
          }
          return pl::kDefaultToken;
        });
      }
    });
    ASSERT_TRUE(wait_until([&] { return go.load(); }));
    EXPECT_THROW(b->wait(), threading::BrokenBarrierError);
    delete b;
    destroyed.store(true);
    jammer.join();
    breaker.join();
  }
}
