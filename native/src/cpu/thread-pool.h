// Persistent worker threads for the CPU kernels: created once, each parallel_for wakes them with one atomic
// store (workers spin briefly, then sleep on a condition variable), so dispatch costs microseconds, not a spawn.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace sovren {

class ThreadPool {
 public:
  // n_threads <= 0: one thread per CPU this process may use (usable_cpu_count()). The calling thread is thread 0,
  // so n_threads - 1 are spawned.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_idx) on disjoint ranges covering [0, n_tasks) and returns when all are done.
  // Threads take ranges (about 8 per thread, in ascending order) from a shared counter, so a thread the OS
  // delays does less of the work instead of holding everyone up. A thread may get several ranges;
  // thread_idx < size() identifies per-thread scratch. A call made from inside a task runs inline. If a task
  // throws, the first exception is rethrown here.
  template <class Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    using Callable = std::remove_reference_t<Fn>;
    run(
        n_tasks,
        [](void* ctx, int64_t begin, int64_t end, int thread_idx) {
          (*static_cast<Callable*>(ctx))(begin, end, thread_idx);
        },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end, int thread_idx);
  void run(int64_t n_tasks, RangeFn fn, void* ctx);

 private:
  void worker_main(int thread_idx);
  void execute_share(int thread_idx);

  int n_threads_;
  std::vector<std::thread> workers_;

  // The current job, published by the generation_ increment (release) and read after it (acquire).
  RangeFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_tasks_ = 0;
  int64_t job_chunk_ = 1;
  alignas(64) std::atomic<int64_t> next_task_{0};

  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};

  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::mutex dispatch_mutex_;  // one job at a time even if several threads share the pool
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// CPUs the calling thread may run on (at least 1): its affinity mask (taskset, numactl, systemd CPUAffinity=),
// further capped by a cgroup v2 CPU quota (cpu.max of its cgroup or any parent, rounded up), e.g. CPUQuota=.
// Falls back to the online count when the mask cannot be read.
int usable_cpu_count();

}  // namespace sovren
