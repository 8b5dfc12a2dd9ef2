// sizeof of every pythreading object beside its standard-library (and
// Abseil, Boost, POSIX) counterparts. Prints a Markdown table; with
// `--json FILE` also writes the numbers for scripts/plot_bench.py.
#include <pthread.h>
#include <semaphore.h>

#include <barrier>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "threading/condition.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#if defined(PYTHREADING_BENCH_HAVE_SEMAPHORE)
#include "threading/semaphore.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_EVENT)
#include "threading/event.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_BARRIER)
#include "threading/barrier.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_THREAD)
#include "threading/thread.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_TIMER)
#include "threading/timer.hpp"
#endif
#if defined(PYTHREADING_BENCH_HAVE_LOCAL)
#include "threading/local.hpp"
#endif
#if defined(PYTHREADING_BENCH_ABSL)
#include <absl/synchronization/barrier.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>
#endif
#if defined(PYTHREADING_BENCH_BOOST)
#include <boost/thread/barrier.hpp>
#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#include <boost/thread/recursive_mutex.hpp>
#include <boost/thread/thread.hpp>
#include <boost/thread/tss.hpp>
#endif

namespace {

struct Row {
  std::string object;
  long ours;  // -1 = not built yet
  long std_size;
  std::string std_name;
  long absl;
  std::string absl_name;
  long boost;
  std::string boost_name;
  long posix;
  std::string posix_name;
  std::string note;
};

struct MutexCvEvent {  // the usual std "event"
  std::mutex m;
  std::condition_variable cv;
  bool flag;
};

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = argv[i + 1];
  }
  constexpr long kNone = -1;
#if defined(PYTHREADING_BENCH_ABSL)
#define ABSL_SZ(T) static_cast<long>(sizeof(T)), #T
#else
#define ABSL_SZ(T) kNone, ""
#endif
#if defined(PYTHREADING_BENCH_BOOST)
#define BOOST_SZ(T) static_cast<long>(sizeof(T)), #T
#else
#define BOOST_SZ(T) kNone, ""
#endif
  std::vector<Row> rows = {
      {"Lock", sizeof(threading::Lock), sizeof(std::mutex), "std::mutex", ABSL_SZ(absl::Mutex),
       BOOST_SZ(boost::mutex), sizeof(pthread_mutex_t), "pthread_mutex_t", ""},
      {"RLock", sizeof(threading::RLock), sizeof(std::recursive_mutex), "std::recursive_mutex",
       kNone, "", BOOST_SZ(boost::recursive_mutex), sizeof(pthread_mutex_t), "pthread_mutex_t", ""},
      {"Condition", sizeof(threading::Condition), sizeof(std::condition_variable),
       "std::condition_variable", ABSL_SZ(absl::CondVar), BOOST_SZ(boost::condition_variable),
       sizeof(pthread_cond_t), "pthread_cond_t", "plus its lock (Condition() allocates an RLock)"},
      {"Semaphore",
#if defined(PYTHREADING_BENCH_HAVE_SEMAPHORE)
       sizeof(threading::Semaphore),
#else
       kNone,
#endif
       sizeof(std::counting_semaphore<>), "std::counting_semaphore<>", kNone, "", kNone, "",
       sizeof(sem_t), "sem_t", ""},
      {"BoundedSemaphore",
#if defined(PYTHREADING_BENCH_HAVE_SEMAPHORE)
       sizeof(threading::BoundedSemaphore),
#else
       kNone,
#endif
       sizeof(std::counting_semaphore<>), "std::counting_semaphore<>", kNone, "", kNone, "",
       sizeof(sem_t), "sem_t", "keeps its initial value for the bound"},
      {"Event",
#if defined(PYTHREADING_BENCH_HAVE_EVENT)
       sizeof(threading::Event),
#else
       kNone,
#endif
       sizeof(MutexCvEvent), "mutex+condition_variable+bool", ABSL_SZ(absl::Notification), kNone,
       "", kNone, "", "absl::Notification is single-use"},
      {"Barrier",
#if defined(PYTHREADING_BENCH_HAVE_BARRIER)
       sizeof(threading::Barrier),
#else
       kNone,
#endif
       sizeof(std::barrier<>), "std::barrier<>", ABSL_SZ(absl::Barrier), BOOST_SZ(boost::barrier),
       sizeof(pthread_barrier_t), "pthread_barrier_t",
       "std::barrier<> also heap-allocates its state; threading::Barrier holds a std::function "
       "action"},
      {"Thread",
#if defined(PYTHREADING_BENCH_HAVE_THREAD)
       sizeof(threading::Thread),
#else
       kNone,
#endif
       sizeof(std::thread), "std::thread", kNone, "", BOOST_SZ(boost::thread), sizeof(pthread_t),
       "pthread_t", "a Thread is a heap object owned by shared_ptr; std::thread is a handle"},
      {"Timer",
#if defined(PYTHREADING_BENCH_HAVE_TIMER)
       sizeof(threading::Timer),
#else
       kNone,
#endif
       kNone, "", kNone, "", kNone, "", kNone, "", ""},
      {"local<long>",
#if defined(PYTHREADING_BENCH_HAVE_LOCAL)
       sizeof(threading::local<long>),
#else
       kNone,
#endif
       0, "thread_local long (no object)", kNone, "", BOOST_SZ(boost::thread_specific_ptr<long>),
       sizeof(pthread_key_t), "pthread_key_t", ""},
  };

  auto cell = [](long v, const std::string& n) {
    return v < 0 ? std::string("—") : std::to_string(v) + (n.empty() ? "" : " (" + n + ")");
  };
  std::printf("| object | pythreading | std | Abseil | Boost | POSIX | note |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.object.c_str(),
                r.ours < 0 ? "—" : std::to_string(r.ours).c_str(),
                cell(r.std_size, r.std_name).c_str(), cell(r.absl, r.absl_name).c_str(),
                cell(r.boost, r.boost_name).c_str(), cell(r.posix, r.posix_name).c_str(),
                r.note.c_str());
  }
  if (json) {
    std::FILE* f = std::fopen(json, "w");
    if (!f) {
      std::perror(json);
      return 1;
    }
    std::fprintf(f, "{\"sizes\": [\n");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "  {\"object\": \"%s\", \"pythreading\": %ld, \"std\": %ld, \"std_name\": "
                   "\"%s\", \"absl\": %ld, \"absl_name\": \"%s\", \"boost\": %ld, "
                   "\"boost_name\": \"%s\", \"posix\": %ld, \"posix_name\": \"%s\"}%s\n",
                   r.object.c_str(), r.ours, r.std_size, r.std_name.c_str(), r.absl,
                   r.absl_name.c_str(), r.boost, r.boost_name.c_str(), r.posix,
                   r.posix_name.c_str(), i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}
