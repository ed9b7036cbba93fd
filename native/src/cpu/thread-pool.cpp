// Persistent thread pool: spin-then-sleep workers taking task ranges from a shared counter.
#include "cpu/thread-pool.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.h"

namespace sovren {
namespace {

// Workers spin this long after a job before sleeping: long enough to cover the gap between the matmuls of one
// forward pass, short enough not to burn a core while the engine is idle.
constexpr auto kSpinDuration = std::chrono::microseconds(200);

// Ranges per thread and job: enough for a thread the OS delays to fall behind without holding up the job,
// few enough that the shared counter stays cheap.
constexpr int64_t kChunksPerThread = 8;

thread_local bool tls_inside_pool_task = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int online_cpu_count() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n >= 1) return static_cast<int>(n);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw >= 1 ? static_cast<int>(hw) : 1;
}

// CPUs in the calling thread's affinity mask, or 0 when it cannot be read. The mask is sized for the configured
// CPUs (not a fixed 1024), so machines with more CPUs than CPU_SETSIZE are counted too.
int affinity_cpu_count() {
  const long configured = sysconf(_SC_NPROCESSORS_CONF);
  const int max_cpus = static_cast<int>(std::max<long>(configured, 1024));
  cpu_set_t* set = CPU_ALLOC(max_cpus);
  if (set == nullptr) return 0;
  const size_t size = CPU_ALLOC_SIZE(max_cpus);
  CPU_ZERO_S(size, set);
  const int count = sched_getaffinity(0, size, set) == 0 ? CPU_COUNT_S(size, set) : 0;
  CPU_FREE(set);
  return count;
}

// The tightest cgroup v2 CPU quota on the path from this process's cgroup to the root, in whole CPUs (rounded up),
// or INT_MAX when there is none (cgroup v1, no quota, or files not readable).
int cgroup_quota_cpu_count() {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  std::string path;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);  // the v2 unified hierarchy entry
  }
  if (path.empty() || path[0] != '/') return INT_MAX;
  int limit = INT_MAX;
  for (;;) {
    std::ifstream max_file("/sys/fs/cgroup" + (path == "/" ? std::string() : path) + "/cpu.max");
    std::string quota;
    long long period = 0;
    if (max_file >> quota >> period && quota != "max" && period > 0) {
      const long long q = std::atoll(quota.c_str());
      if (q > 0) limit = std::min<long long>(limit, std::max<long long>(1, (q + period - 1) / period));
    }
    if (path == "/") break;
    const size_t slash = path.find_last_of('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return limit;
}

}  // namespace

int usable_cpu_count() {
  const int affinity = affinity_cpu_count();
  const int cpus = affinity >= 1 ? affinity : online_cpu_count();
  return std::max(1, std::min(cpus, cgroup_quota_cpu_count()));
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads <= 0 ? usable_cpu_count() : n_threads) {
  if (n_threads_ > 1024) throw EngineError("ThreadPool: " + std::to_string(n_threads_) + " threads is too many");
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  try {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
  } catch (const std::system_error& e) {
    // Stop the threads already started before reporting.
    stopping_.store(true);
    generation_.fetch_add(1);
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    throw EngineError(std::string("ThreadPool: cannot start worker thread: ") + e.what());
  }
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  generation_.fetch_add(1);
  { std::lock_guard<std::mutex> lock(sleep_mutex_); }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::execute_share(int thread_idx) {
  tls_inside_pool_task = true;
  try {
    for (;;) {
      const int64_t begin = next_task_.fetch_add(job_chunk_, std::memory_order_relaxed);
      if (begin >= job_tasks_) break;
      job_fn_(job_ctx_, begin, std::min(job_tasks_, begin + job_chunk_), thread_idx);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
  tls_inside_pool_task = false;
}

void ThreadPool::worker_main(int thread_idx) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    if (current == seen) {
      const auto spin_until = std::chrono::steady_clock::now() + kSpinDuration;
      for (int i = 0; current == seen; ++i) {
        cpu_relax();
        current = generation_.load(std::memory_order_acquire);
        if ((i & 255) == 255) {
          if (std::chrono::steady_clock::now() > spin_until) break;
          std::this_thread::yield();  // on a busy machine, let a thread with real work have this core
        }
      }
    }
    if (current == seen) {
      // Sleep. sleepers_ is raised before re-checking generation_ and the dispatcher stores generation_ before
      // reading sleepers_ (both seq_cst), so a dispatch either sees this sleeper or this check sees the dispatch.
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stopping_.load(std::memory_order_acquire)) return;
    execute_share(thread_idx);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t n_tasks, RangeFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1 || tls_inside_pool_task) {
    fn(ctx, 0, n_tasks, 0);
    return;
  }
  std::lock_guard<std::mutex> dispatch_lock(dispatch_mutex_);
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_tasks_ = n_tasks;
  job_chunk_ = std::max<int64_t>(1, n_tasks / (static_cast<int64_t>(n_threads_) * kChunksPerThread));
  next_task_.store(0, std::memory_order_relaxed);
  error_ = nullptr;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: publishes the job and pairs with the sleepers_ check below
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    wake_.notify_all();
  }
  execute_share(0);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < 4096) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // a worker is waking up from sleep: give it the core
    }
  }
  if (error_) std::rethrow_exception(error_);
}

}  // namespace sovren
