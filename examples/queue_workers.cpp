// Python's documented producer/consumer, rewritten with a Queue, and a worker pool
// with task_done()/join(), as Python's queue documentation shows:
//
//   q = queue.Queue(maxsize=4)                 queue::Queue<int> q(4);
//   def worker():                              auto worker = [&] {
//       while True:                              for (;;) {
//           item = q.get()                         int item = q.get();
//           ...                                    ...
//           q.task_done()                          q.task_done();
//   for item in range(n): q.put(item)          for (...) q.put(item);
//   q.join()                                   q.join();
#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

#include "threading/threading.hpp"

namespace queue = threading::queue;

int main() {
  // 1. Producer/consumer: the bounded queue does all the waiting that the
  //    Condition version spelled out by hand.
  queue::Queue<int> items(4);
  long long consumed = 0;
  auto consumer = std::make_shared<threading::Thread>([&] {
    for (;;) {
      int item = items.get();
      if (item < 0) return;  // the producer's "no more" marker
      consumed += item;
    }
  });
  consumer->start();
  for (int i = 1; i <= 100; ++i) items.put(i);
  items.put(-1);
  consumer->join();
  std::printf("producer/consumer: consumed %lld (expected 5050)\n", consumed);

  // 2. A worker pool: daemon workers, join() waits until every task is done,
  //    then shutdown() releases the workers (Python 3.13).
  queue::Queue<int> tasks;
  std::atomic<int> done{0};
  auto worker = [&] {
    for (;;) {
      try {
        tasks.get();
      } catch (const queue::ShutDown&) {
        return;  // the pool is closed
      }
      done++;
      tasks.task_done();
    }
  };
  std::vector<std::shared_ptr<threading::Thread>> workers;
  for (int w = 0; w < 3; ++w) {
    workers.push_back(std::make_shared<threading::Thread>(
        threading::Thread::Options{.target = worker, .daemon = true}));
    workers.back()->start();
  }
  for (int item = 0; item < 30; ++item) tasks.put(item);
  tasks.join();
  std::printf("worker pool: all %d tasks done\n", done.load());
  tasks.shutdown();
  for (auto& w : workers) w->join();
  return consumed == 5050 && done == 30 ? 0 : 1;
}
