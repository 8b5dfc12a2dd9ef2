// The README's quickstart: Python's threading, spelled in C++.
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <threading/threading.hpp>

threading::Condition cv;  // cv = threading.Condition()
std::deque<int> items;

void consume() {
  std::unique_lock with(cv);  // with cv:
  // cv.wait_for(lambda: items, timeout=2.0)
  if (!cv.wait_for([] { return !items.empty(); }, 2.0)) {
    std::puts("timed out");
    return;
  }
  std::printf("%s consumed %d\n", threading::current_thread()->name().c_str(), items.front());
  items.pop_front();
}

void produce(int x) {
  std::lock_guard with(cv);
  items.push_back(x);
  cv.notify();  // cv.notify()
}

int main() {
  // t = threading.Thread(target=consume, name="consumer"); t.start()
  auto t = std::make_shared<threading::Thread>(
      threading::Thread::Options{.target = consume, .name = "consumer"});
  t->start();
  produce(42);
  t->join(5.0);  // t.join(timeout=5.0)

  threading::Lock lock;           // lock = threading.Lock()
  if (lock.acquire(true, 0.5)) {  // lock.acquire(timeout=0.5)
    std::printf("locked: %d\n", lock.locked());
    lock.release();  // any thread may release it
  }

  // q = queue.Queue(maxsize=2); q.put("job"); q.get(); q.task_done(); q.join()
  threading::queue::Queue<std::string> q(2);
  q.put("job");
  std::printf("got %s\n", q.get().c_str());
  q.task_done();
  q.join();

  // threading.Timer(0.1, hello).start(); like Python, exit waits for it.
  auto timer = std::make_shared<threading::Timer>(0.1, [] { std::puts("hello, world"); });
  timer->start();
  std::printf("%zu threads alive\n", threading::active_count());
}
