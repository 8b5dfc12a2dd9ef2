// local<T>'s registry: folly ThreadLocalPtr's design (ANCHORS §4). Each local
// gets a small integer id; each thread keeps an array of value pointers
// indexed by id. A registry, under one Lock, knows every id's destroy function
// and every thread's record, so a local's destructor can destroy all threads'
// values and a thread's exit can destroy all of its own.
//
// Lifetimes: a thread's record lives on the heap, never in its stack or TLS,
// and is freed only by its own thread, after unlinking it at exit. So a record
// left linked after its thread has gone (its exit gave up on destructors that
// kept making values, or it made values after the OS's last destructor round)
// is leaked memory that stays valid, never memory that a later thread reuses
// or that is unmapped. After fork() the child unlinks every record but the
// forking thread's.
#include "threading/local.hpp"

#include <pthread.h>

#include <atomic>
#include <climits>  // PTHREAD_DESTRUCTOR_ITERATIONS
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>  // std::lock_guard only
#include <new>
#include <vector>

#include "fatal.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/lock.hpp"

namespace threading::detail {

namespace {
constexpr std::size_t kNoId = static_cast<std::size_t>(-1);
}  // namespace

struct LocalRecord {
  void** slots = nullptr;  // by id; other threads only null entries, under the registry lock
  std::size_t capacity = 0;
  LocalRecord* prev = nullptr;  // Registry::threads, under the registry lock
  LocalRecord* next = nullptr;
  // The id whose value this thread's exit is destroying right now (under the
  // registry lock): that local's destructor waits for it, unless it runs in
  // this very thread (a value destroying its own local).
  std::size_t destroying = kNoId;
};

constinit thread_local LocalSlots tls_local_slots{nullptr, 0, nullptr};

namespace {

// Passes over an exiting thread's values (each pass destroys what it finds,
// values made behind it wait for the next) before the rest are given up: as
// many as the OS gives pthread key destructors.
#ifdef PTHREAD_DESTRUCTOR_ITERATIONS
constexpr int kExitPasses = PTHREAD_DESTRUCTOR_ITERATIONS;
#else
constexpr int kExitPasses = 4;  // POSIX's minimum
#endif

// Values a local's destructor takes per visit of the registry (on the stack:
// a destructor has no way to report bad_alloc).
constexpr std::size_t kBatch = 32;

struct Meta {
  void (*destroy)(void*) = nullptr;  // null while the id is free
  std::size_t next_free = kNoId;     // the free list, threaded through metas
};

struct Registry {
  Lock lock;
  std::vector<Meta> metas;         // by id
  std::size_t free_ids = kNoId;    // head of the free list
  LocalRecord* threads = nullptr;  // every record a local's destructor must visit
  // Records of threads that vanished in a fork (and their values): leaked on
  // purpose, listed only so that they stay reachable (LeakSanitizer).
  LocalRecord* forsaken = nullptr;
  LocalRecord* forking = nullptr;  // the forking thread's record, prepare to parent/child
  std::uint32_t waiters = 0;       // local destructors parked on `word`
  // Bumped when an exiting thread stops destroying a value while someone
  // waits, so a local's destructor can park until its id is no longer busy.
  std::atomic<std::uint32_t> word{0};
  pthread_key_t key{};

  Registry();
};

void on_thread_exit(void* p);
void prepare_fork();
void parent_after_fork();
void child_after_fork();

// Never destroyed: daemon threads may still exit (and run on_thread_exit)
// while static destructors run.
Registry& reg() {
  static Registry* const r = new Registry;
  return *r;
}

Registry::Registry() {
  if (int e = pthread_key_create(&key, &on_thread_exit); e != 0) {
    fatal_os_error("pthread_key_create", e);
  }
  if (int e = pthread_atfork(&prepare_fork, &parent_after_fork, &child_after_fork); e != 0) {
    fatal_os_error("pthread_atfork", e);
  }
}

void prepare_fork() {
  Registry& r = reg();
  r.lock.acquire();  // the child inherits a consistent registry
  r.forking = tls_local_slots.record;
}

void parent_after_fork() {
  Registry& r = reg();
  r.forking = nullptr;
  r.lock.release();
}

// Async-signal-safe (the child of a multi-threaded fork): pointer moves only.
void child_after_fork() {
  Registry& r = reg();  // initialised: prepare_fork ran
  new (&r.lock) Lock;
  LocalRecord* keep = r.forking;
  r.forking = nullptr;
  // Every other thread is gone, perhaps in the middle of using its values;
  // nothing may touch them again (their stacks are soon reused or unmapped).
  for (LocalRecord* rec = r.threads; rec != nullptr;) {
    LocalRecord* next = rec->next;
    if (rec != keep) {
      rec->prev = nullptr;
      rec->next = r.forsaken;
      r.forsaken = rec;
    }
    rec = next;
  }
  r.threads = keep;
  if (keep != nullptr) keep->prev = keep->next = nullptr;
  r.waiters = 0;  // they were threads of the parent
}

void link(Registry& r, LocalRecord& rec) {
  rec.prev = nullptr;
  rec.next = r.threads;
  if (r.threads != nullptr) r.threads->prev = &rec;
  r.threads = &rec;
}

void unlink(Registry& r, LocalRecord& rec) {
  if (rec.prev != nullptr) rec.prev->next = rec.next;
  if (rec.next != nullptr) rec.next->prev = rec.prev;
  if (r.threads == &rec) r.threads = rec.next;
  rec.prev = rec.next = nullptr;
}

// The first id >= from with a value in `rec`, or rec.capacity.
std::size_t next_value(const LocalRecord& rec, std::size_t from) {
  while (from < rec.capacity && rec.slots[from] == nullptr) ++from;
  return from < rec.capacity ? from : rec.capacity;
}

void wake_waiters(Registry& r) {
  // Relaxed: what a waiter rechecks is under the registry lock; the word only
  // closes the race with park(), whose validate reads it under the bucket lock.
  r.word.fetch_add(1, std::memory_order_relaxed);
  parking_lot::unpark_all(&r.word);
}

// The calling thread is exiting and this is its record. Its values are taken
// one at a time (a value's destructor may destroy another local the thread
// has a value in: that local then takes the value itself instead of waiting
// for this thread, which would never come back to it).
void on_thread_exit(void* p) {
  auto* rec = static_cast<LocalRecord*>(p);
  Registry& r = reg();
  int passes = 0;
  std::size_t cursor = kNoId;  // start with a new pass
  bool settled = false;
  for (;;) {
    void* value = nullptr;
    void (*destroy)(void*) = nullptr;
    bool wake = false;
    bool stop = false;
    {
      std::lock_guard g(r.lock);
      if (rec->destroying != kNoId) {
        rec->destroying = kNoId;
        wake = r.waiters != 0;
      }
      std::size_t id = cursor == kNoId ? rec->capacity : next_value(*rec, cursor);
      if (id == rec->capacity) {  // a pass is over: values made behind it need another
        id = next_value(*rec, 0);
        if (id == rec->capacity) {
          unlink(r, *rec);
          settled = stop = true;
        } else if (++passes > kExitPasses) {
          // Destructors that never settle: give up. The record stays linked
          // (it is on the heap), and its values go with their locals.
          stop = true;
        }
      }
      if (!stop) {
        value = rec->slots[id];
        rec->slots[id] = nullptr;
        rec->destroying = id;
        destroy = r.metas[id].destroy;
        cursor = id + 1;  // a value its destructor re-creates waits for the next pass
      }
    }
    if (wake) wake_waiters(r);
    if (stop) break;
    destroy(value);  // outside the lock: a T's destructor may use locals, locks, anything
  }
  if (settled) {
    // Unlinked: nothing else can reach the record. A destructor of another
    // key that uses a local after this makes a new record (and asks for
    // another round).
    tls_local_slots = LocalSlots{nullptr, 0, nullptr};
    delete[] rec->slots;
    delete rec;
  }
}

}  // namespace

LocalBase::LocalBase(void (*destroy)(void*)) {
  Registry& r = reg();
  std::lock_guard g(r.lock);
  if (r.free_ids != kNoId) {
    id_ = r.free_ids;
    r.free_ids = r.metas[id_].next_free;
  } else {
    id_ = r.metas.size();
    r.metas.emplace_back();
  }
  r.metas[id_] = Meta{destroy, kNoId};
}

LocalBase::~LocalBase() {
  Registry& r = reg();
  LocalRecord* const mine = tls_local_slots.record;
  for (;;) {
    void* batch[kBatch];
    std::size_t n = 0;
    void (*destroy)(void*) = nullptr;
    std::uint32_t word = 0;
    {
      std::lock_guard g(r.lock);
      destroy = r.metas[id_].destroy;
      bool busy = false;  // another thread's exit is destroying a value of ours
      for (LocalRecord* rec = r.threads; rec != nullptr; rec = rec->next) {
        if (n < kBatch && id_ < rec->capacity && rec->slots[id_] != nullptr) {
          batch[n++] = rec->slots[id_];
          rec->slots[id_] = nullptr;
        }
        if (rec->destroying == id_ && rec != mine) busy = true;
      }
      if (n == 0) {
        if (!busy) {
          r.metas[id_] = Meta{nullptr, r.free_ids};  // no thread holds a value for it any more
          r.free_ids = id_;
          return;
        }
        ++r.waiters;
        word = r.word.load(std::memory_order_relaxed);  // see wake_waiters
      }
    }
    if (n != 0) {
      for (std::size_t i = 0; i < n; ++i) destroy(batch[i]);
      continue;
    }
    // Relaxed: read under the bucket lock, which orders it with
    // wake_waiters()' increment (see there).
    parking_lot::park(
        &r.word, [&] { return r.word.load(std::memory_order_relaxed) == word; }, nullptr);
    std::lock_guard g(r.lock);
    --r.waiters;
  }
}

void LocalBase::install(void* value) {
  Registry& r = reg();
  LocalSlots& tls = tls_local_slots;
  if (tls.record == nullptr) {
    auto* rec = new LocalRecord;
    // Arms on_thread_exit for this record. Fails only for lack of memory.
    if (pthread_setspecific(r.key, rec) != 0) {
      delete rec;
      throw std::bad_alloc();
    }
    std::lock_guard g(r.lock);
    link(r, *rec);
    tls.record = rec;
  }
  LocalRecord& rec = *tls.record;
  void** grown = nullptr;
  std::size_t cap = tls.capacity;
  if (id_ >= cap) {
    cap = cap * 2 > id_ + 1 ? cap * 2 : id_ + 1;
    if (cap < 8) cap = 8;
    grown = new void*[cap]();  // before the lock; on bad_alloc the caller keeps the value
  }
  void** old = nullptr;
  {
    std::lock_guard g(r.lock);  // a local's destructor may be reading (and nulling) rec.slots
    if (grown != nullptr) {
      for (std::size_t i = 0; i < rec.capacity; ++i) grown[i] = rec.slots[i];
      old = rec.slots;
      rec.slots = tls.slots = grown;
      rec.capacity = tls.capacity = cap;
    }
    rec.slots[id_] = value;
  }
  delete[] old;
}

}  // namespace threading::detail
