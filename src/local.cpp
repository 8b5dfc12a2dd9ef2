// local<T>'s registry: folly ThreadLocalPtr's design (ANCHORS §4). Each local
// gets a small integer id; each thread keeps an array of value pointers
// indexed by id in static TLS. A registry, under one Lock, knows every id's
// destroy function and every thread that holds values, so a local's
// destructor can destroy all threads' values and a thread's exit can destroy
// all of its own.
#include "threading/local.hpp"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>  // std::lock_guard only
#include <new>
#include <vector>

#include "threading/detail/parking_lot.hpp"
#include "threading/lock.hpp"

namespace threading::detail {

constinit thread_local LocalSlots tls_local_slots{nullptr, 0, nullptr, nullptr, false};

namespace {

struct Meta {
  void (*destroy)(void*) = nullptr;
  std::uint32_t pending = 0;  // values an exiting thread is destroying right now
};

struct Registry {
  Lock lock;
  std::vector<Meta> metas;  // by id
  std::vector<std::size_t> free_ids;
  LocalSlots* threads = nullptr;  // threads that hold (or held) values
  pthread_key_t key{};
  // Bumped (after the lock is released) whenever a `pending` count drops, so a
  // local's destructor can park until the count it waits for reaches 0.
  std::atomic<std::uint32_t> pending_word{0};

  Registry();
};

void on_thread_exit(void* p);

// Never destroyed: daemon threads may still exit (and run on_thread_exit)
// while static destructors run.
Registry& reg() {
  static Registry* const r = new Registry;
  return *r;
}

Registry::Registry() {
  pthread_key_create(&key, &on_thread_exit);
  pthread_atfork([] { reg().lock.acquire(); }, [] { reg().lock.release(); },
                 [] {
                   Registry& r = reg();
                   new (&r.lock) Lock;
                   // Values other threads were destroying stay half-done; do not
                   // let a local's destructor wait for them.
                   for (Meta& m : r.metas) m.pending = 0;
                 });
}

void unlink(Registry& r, LocalSlots& s) {
  if (s.prev != nullptr) s.prev->next = s.next;
  if (s.next != nullptr) s.next->prev = s.prev;
  if (r.threads == &s) r.threads = s.next;
  s.prev = s.next = nullptr;
  s.registered = false;
}

void on_thread_exit(void* p) {
  auto& s = *static_cast<LocalSlots*>(p);
  Registry& r = reg();
  struct Item {
    void* value;
    std::size_t id;
    void (*destroy)(void*);
  };
  std::vector<Item> items;
  {
    std::lock_guard g(r.lock);
    for (std::size_t id = 0; id < s.capacity; ++id) {
      if (s.slots[id] == nullptr) continue;
      items.push_back({s.slots[id], id, r.metas[id].destroy});
      s.slots[id] = nullptr;
      ++r.metas[id].pending;
    }
  }
  // Outside the lock: a T's destructor may use locals, locks, anything.
  for (Item& it : items) it.destroy(it.value);
  bool again = false;
  {
    std::lock_guard g(r.lock);
    for (Item& it : items) --r.metas[it.id].pending;
    for (std::size_t id = 0; id < s.capacity && !again; ++id) again = s.slots[id] != nullptr;
    if (!again) {
      unlink(r, s);
      delete[] s.slots;
      s.slots = nullptr;
      s.capacity = 0;
    }
  }
  if (!items.empty()) {
    r.pending_word.fetch_add(1, std::memory_order_release);
    parking_lot::unpark_all(&r.pending_word);
  }
  // A destructor made new values: ask for another round (glibc gives
  // PTHREAD_DESTRUCTOR_ITERATIONS); values made after the last round leak.
  if (again) pthread_setspecific(r.key, &s);
}

}  // namespace

LocalBase::LocalBase(void (*destroy)(void*)) {
  Registry& r = reg();
  std::lock_guard g(r.lock);
  if (!r.free_ids.empty()) {
    id_ = r.free_ids.back();
    r.free_ids.pop_back();
  } else {
    id_ = r.metas.size();
    r.metas.emplace_back();
  }
  r.metas[id_] = Meta{destroy, 0};
}

LocalBase::~LocalBase() {
  Registry& r = reg();
  std::vector<void*> values;
  void (*destroy)(void*);
  {
    std::lock_guard g(r.lock);
    destroy = r.metas[id_].destroy;
    for (LocalSlots* s = r.threads; s != nullptr; s = s->next) {
      if (id_ < s->capacity && s->slots[id_] != nullptr) {
        values.push_back(s->slots[id_]);
        s->slots[id_] = nullptr;
      }
    }
  }
  for (void* v : values) destroy(v);
  // Wait for values that exiting threads took before we got the lock.
  for (;;) {
    std::uint32_t word;
    {
      std::lock_guard g(r.lock);
      if (r.metas[id_].pending == 0) {
        r.metas[id_] = Meta{};
        r.free_ids.push_back(id_);  // no thread holds a value for it any more
        return;
      }
      word = r.pending_word.load(std::memory_order_acquire);
    }
    parking_lot::park(
        &r.pending_word, [&] { return r.pending_word.load(std::memory_order_acquire) == word; },
        nullptr);
  }
}

void LocalBase::install(void* value) {
  Registry& r = reg();
  LocalSlots& s = tls_local_slots;
  bool first = false;
  {
    std::lock_guard g(r.lock);  // a local's destructor may be reading s.slots
    if (id_ >= s.capacity) {
      std::size_t cap = s.capacity * 2 > id_ + 1 ? s.capacity * 2 : id_ + 1;
      if (cap < 8) cap = 8;
      void** grown = new void*[cap]();
      for (std::size_t i = 0; i < s.capacity; ++i) grown[i] = s.slots[i];
      delete[] s.slots;
      s.slots = grown;
      s.capacity = cap;
    }
    if (!s.registered) {
      s.prev = nullptr;
      s.next = r.threads;
      if (r.threads != nullptr) r.threads->prev = &s;
      r.threads = &s;
      s.registered = true;
      first = true;
    }
    s.slots[id_] = value;
  }
  if (first) pthread_setspecific(r.key, &s);
}

}  // namespace threading::detail
