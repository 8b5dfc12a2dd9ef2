// The Condition example from Python's threading documentation: producers make items available,
// consumers wait for them.
//
//   # Consume one item                # Produce one item
//   with cv:                          with cv:
//       while not an_item_is_available():  make_an_item_available()
//           cv.wait()                      cv.notify()
//       get_an_available_item()
//
// and the same consumer written with wait_for:  cv.wait_for(an_item_is_available)
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "threading/threading.hpp"

int main() {
  threading::Condition cv;
  std::deque<int> items;
  bool done = false;
  int consumed[2] = {0, 0};

  auto consumer = [&](int id) {
    for (;;) {
      std::unique_lock with(cv);  // with cv:
      // while not an_item_is_available(): cv.wait()
      cv.wait_for([&] { return !items.empty() || done; });
      if (items.empty()) return;
      int item = items.front();
      items.pop_front();
      ++consumed[id];
      std::printf("consumer %d got item %d\n", id, item);
    }
  };
  std::vector<std::thread> consumers;
  for (int id = 0; id < 2; ++id) consumers.emplace_back(consumer, id);

  for (int item = 1; item <= 6; ++item) {
    std::lock_guard with(cv);
    items.push_back(item);  // make_an_item_available()
    cv.notify();            // cv.notify()
  }
  {
    std::lock_guard with(cv);
    done = true;
    cv.notify_all();
  }
  for (auto& t : consumers) t.join();
  std::printf("all 6 items consumed (%d + %d)\n", consumed[0], consumed[1]);
  return consumed[0] + consumed[1] == 6 ? 0 : 1;
}
