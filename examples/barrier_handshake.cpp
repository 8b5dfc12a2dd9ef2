// The Barrier example from Python's threading documentation, in C++: synchronise a client and a
// server.
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
// The "network" is an in-process queue: a Lock guards it, a Semaphore counts
// the pending connections, and each connection carries an Event the server
// sets once it has answered. The loops stop after three connections.
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "threading/barrier.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/lock.hpp"
#include "threading/semaphore.hpp"

namespace {

constexpr int kConnections = 3;
threading::Barrier b(2, {}, 5.0);  // Barrier(2, timeout=5)

struct Connection {
  std::string request;
  std::string reply;
  threading::Event answered;
};

// The listening socket: a queue of incoming connections.
threading::Lock backlog_lock;
std::deque<Connection*> backlog;
threading::Semaphore pending(0);
bool listening = false;

threading::Lock print_lock;
void say(const char* who, const std::string& what) {
  std::lock_guard g(print_lock);
  std::printf("%-6s %s\n", who, what.c_str());
}

void start_server() {
  std::lock_guard g(backlog_lock);
  listening = true;
  say("server", "listening");
}

Connection* accept_connection() {
  pending.acquire();  // blocks until a client connects
  std::lock_guard g(backlog_lock);
  Connection* c = backlog.front();
  backlog.pop_front();
  return c;
}

void process_server_connection(Connection* c) {
  say("server", "got \"" + c->request + "\"");
  c->reply = "hello, " + c->request;
  c->answered.set();
}

void make_connection(Connection* c, int n) {
  c->request = "client #" + std::to_string(n);
  {
    std::lock_guard g(backlog_lock);
    if (!listening) throw threading::RuntimeError("connection refused");  // never: the barrier
    backlog.push_back(c);
  }
  pending.release();
}

void process_client_connection(Connection* c) {
  c->answered.wait();
  say("client", "got \"" + c->reply + "\"");
}

void server() {
  start_server();
  std::size_t i = b.wait();
  say("server", "passed the barrier (index " + std::to_string(i) + ")");
  for (int n = 0; n < kConnections; ++n) process_server_connection(accept_connection());
}

void client() {
  std::size_t i = b.wait();  // never connects before the server listens
  say("client", "passed the barrier (index " + std::to_string(i) + ")");
  for (int n = 1; n <= kConnections; ++n) {
    Connection c;
    make_connection(&c, n);
    process_client_connection(&c);
  }
}

}  // namespace

int main() {
  std::thread c(client);  // started first on purpose: it must wait for the server
  std::thread s(server);
  c.join();
  s.join();
  std::printf("done: %zu parties, %zu waiting, broken=%s\n", b.parties(), b.n_waiting(),
              b.broken() ? "true" : "false");
}
