// The connection-pool example from Python's threading documentation, in C++:
//
//   maxconnections = 5
//   pool_sema = BoundedSemaphore(value=maxconnections)
//   ...
//   with pool_sema:
//       conn = connectdb()
//       try:
//           # ... use connection ...
//       finally:
//           conn.close()
//
// Twelve workers share a pool of five "database connections"; the bounded
// semaphore keeps at most five in use at once. At the end, a deliberate
// extra release shows why Python's documentation recommends a *bounded* semaphore.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "threading/errors.hpp"
#include "threading/lock.hpp"
#include "threading/semaphore.hpp"

namespace {

constexpr int kMaxConnections = 5;
threading::BoundedSemaphore pool_sema(kMaxConnections);

threading::Lock print_lock;  // one line at a time on stdout
std::atomic<int> in_use{0};
std::atomic<int> most_in_use{0};

struct Connection {
  int worker;
  explicit Connection(int w) : worker(w) {
    int now = in_use.fetch_add(1) + 1;
    int seen = most_in_use.load();
    while (now > seen && !most_in_use.compare_exchange_weak(seen, now)) {
    }
    std::lock_guard g(print_lock);
    std::printf("worker %2d connected     (%d of %d connections in use)\n", worker, now,
                kMaxConnections);
  }
  void close() {
    int now = in_use.fetch_sub(1) - 1;
    std::lock_guard g(print_lock);
    std::printf("worker %2d disconnected  (%d in use)\n", worker, now);
  }
};

void worker(int id) {
  std::lock_guard with(pool_sema);  // `with pool_sema:`
  Connection conn(id);              // conn = connectdb()
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 7 * (id % 4)));  // use it
  } catch (...) {
    conn.close();
    throw;
  }
  conn.close();  // finally: conn.close()
}

}  // namespace

int main() {
  std::vector<std::thread> workers;
  for (int i = 1; i <= 12; ++i) workers.emplace_back(worker, i);
  for (auto& t : workers) t.join();
  std::printf("\nat most %d connections were open at once (limit %d)\n", most_in_use.load(),
              kMaxConnections);

  // A programming error: one release too many. A plain Semaphore would
  // silently grow to 6 slots; the bounded one refuses.
  try {
    pool_sema.release();
  } catch (const threading::ValueError& e) {
    std::printf("extra release caught: ValueError: %s\n", e.what());
  }
  return most_in_use.load() <= kMaxConnections ? 0 : 1;
}
