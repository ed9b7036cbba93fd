// Stress tests of the persistent thread pool: every task index runs exactly once across thousands of dispatches
// for 1..6 threads, ranges tile the task space, workers wake from sleep, exceptions reach the caller, nested
// calls run inline, and pools shut down cleanly.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <unistd.h>

#include "core/error.h"
#include "cpu/thread-pool.h"

#include "test-check.h"

using namespace sovren;

namespace {

void test_every_task_runs_once(int n_threads) {
  ThreadPool pool(n_threads);
  check(pool.size() == n_threads, "pool of " + std::to_string(n_threads) + " reports its size");
  std::mt19937 rng(static_cast<unsigned>(n_threads));
  std::vector<std::atomic<int>> visits(1000);
  int bad_dispatches = 0;
  for (int call = 0; call < 1000; ++call) {
    const int64_t n_tasks = rng() % 1000;
    for (auto& v : visits) v.store(0, std::memory_order_relaxed);
    std::atomic<bool> bad_thread{false};
    pool.parallel_for(n_tasks, [&](int64_t begin, int64_t end, int thread_idx) {
      if (thread_idx < 0 || thread_idx >= n_threads || begin >= end) bad_thread = true;
      for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
    });
    bool ok = !bad_thread.load();
    for (int64_t i = 0; i < 1000; ++i) ok &= visits[static_cast<size_t>(i)].load() == (i < n_tasks ? 1 : 0);
    if (!ok) ++bad_dispatches;
    // Now and then let the workers fall asleep so the wake-up path is exercised too.
    if (call % 250 == 249) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  check(bad_dispatches == 0, std::to_string(n_threads) + " threads: " + std::to_string(bad_dispatches) +
                                 " of 1000 dispatches ran a task other than exactly once or on a bad thread");
}

void test_ranges_are_disjoint_and_ordered_per_thread() {
  ThreadPool pool(3);
  std::vector<std::vector<std::pair<int64_t, int64_t>>> ranges(3);
  pool.parallel_for(10007, [&](int64_t begin, int64_t end, int thread_idx) {
    ranges[static_cast<size_t>(thread_idx)].push_back({begin, end});  // each thread writes only its own list
  });
  std::vector<std::pair<int64_t, int64_t>> all;
  bool ascending = true;
  for (const auto& list : ranges) {
    for (size_t i = 1; i < list.size(); ++i) ascending &= list[i].first >= list[i - 1].second;
    all.insert(all.end(), list.begin(), list.end());
  }
  std::sort(all.begin(), all.end());
  bool tiled = !all.empty() && all.front().first == 0 && all.back().second == 10007;
  for (size_t i = 1; i < all.size(); ++i) tiled &= all[i].first == all[i - 1].second;
  check(tiled, "the ranges handed out tile [0, 10007) exactly");
  check(ascending, "each thread's ranges come in ascending order");
  check(all.size() > 3, "work is handed out in several ranges per thread (" + std::to_string(all.size()) + ")");
}

void test_exception_reaches_caller() {
  ThreadPool pool(3);
  bool caught = false;
  try {
    pool.parallel_for(30, [](int64_t begin, int64_t, int) {
      if (begin >= 10) throw EngineError("task failed on purpose");
    });
  } catch (const EngineError& e) {
    caught = std::string(e.what()) == "task failed on purpose";
  }
  check(caught, "an EngineError thrown in a worker's task is rethrown by parallel_for");
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) sum += i;
  });
  check(sum == 4950, "the pool keeps working after a task threw");
}

void test_nested_call_runs_inline() {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallel_for(4, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      pool.parallel_for(10, [&](int64_t b, int64_t e, int) { total += e - b; });
    }
  });
  check(total == 40, "parallel_for inside a task completes (runs inline)");
}

void test_default_and_shutdown() {
  {
    ThreadPool pool(0);
    check(pool.size() == usable_cpu_count(), "0 threads means one per usable CPU");
  }
  std::atomic<int> tasks_run{0};
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(1 + i % 4);  // odd iterations destroy a pool that never ran a job
    if (i % 2 == 0) pool.parallel_for(8, [&](int64_t b, int64_t e, int) { tasks_run += static_cast<int>(e - b); });
  }
  check(tasks_run == 25 * 8, "50 pools created, used and destroyed: every dispatched task ran");
}

// What taskset -c / numactl do to the engine: the calling thread's affinity narrowed to one CPU. A pool sized
// "one per CPU" must then start one thread, not one per online core that all fight over that CPU.
void test_default_follows_cpu_affinity() {
  cpu_set_t original;
  CPU_ZERO(&original);
  if (sched_getaffinity(0, sizeof(original), &original) != 0) {
    check(false, "sched_getaffinity works");
    return;
  }
  int first = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE && first < 0; ++cpu) {
    if (CPU_ISSET(cpu, &original)) first = cpu;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  check(sched_setaffinity(0, sizeof(one), &one) == 0, "pinning the test thread to one CPU");
  {
    ThreadPool pool(0);
    check(usable_cpu_count() == 1, "a thread pinned to one CPU may use 1 CPU (got " +
                                       std::to_string(usable_cpu_count()) + ", online " +
                                       std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ")");
    check(pool.size() == 1, "a default pool under a one-CPU affinity has 1 thread, got " + std::to_string(pool.size()));
  }
  sched_setaffinity(0, sizeof(original), &original);
  if (CPU_COUNT(&original) > 1) {
    ThreadPool pool(0);
    check(pool.size() >= 1 && pool.size() <= CPU_COUNT(&original),
          "with the affinity restored the default pool has at most one thread per allowed CPU");
  }
}

}  // namespace

int main() {
  try {
    for (int n = 1; n <= 6; ++n) test_every_task_runs_once(n);
    test_ranges_are_disjoint_and_ordered_per_thread();
    test_exception_reaches_caller();
    test_nested_call_runs_inline();
    test_default_and_shutdown();
    test_default_follows_cpu_affinity();
  } catch (const std::exception& e) {
    std::printf("FAIL: unexpected exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("test-cpu-thread-pool: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
