// The Barrier example from Python's threading documentation: a client and a server thread
// synchronise once the server is ready, then talk.
//
//   b = Barrier(2, timeout=5)
//
//   def server():
//       start_server()
//       b.wait()
//       while True:
//           connection = accept_connection()
//           process_server_connection(connection)
//
//   def client():
//       b.wait()
//       while True:
//           connection = make_connection()
//           process_client_connection(connection)
//
// Here the "connections" are three requests through a Condition-guarded
// queue, so the program ends.
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "threading/barrier.hpp"
#include "threading/condition.hpp"
#include "threading/thread.hpp"

namespace {

threading::Barrier b(2, {}, 5.0);
threading::Condition cond;
std::deque<std::string> requests;  // guarded by cond
bool serving = false;

void start_server() {
  serving = true;
  std::printf("[%s] listening\n", threading::current_thread()->name().c_str());
}

void server() {
  start_server();
  b.wait();
  for (int handled = 0; handled < 3; ++handled) {
    std::unique_lock g(cond);
    cond.wait_for([] { return !requests.empty(); });
    std::string request = std::move(requests.front());
    requests.pop_front();
    std::printf("[server] handled %s\n", request.c_str());
  }
}

void client() {
  b.wait();  // returns only once the server is listening
  std::printf("[client] server ready: %s\n", serving ? "yes" : "no");
  for (int i = 1; i <= 3; ++i) {
    std::lock_guard g(cond);
    requests.push_back("request " + std::to_string(i));
    cond.notify();
  }
}

}  // namespace

int main() {
  auto s = std::make_shared<threading::Thread>(
      threading::Thread::Options{.target = server, .name = "server"});
  auto c = std::make_shared<threading::Thread>(
      threading::Thread::Options{.target = client, .name = "client"});
  s->start();
  c->start();
  c->join();
  s->join();
}
