// Measures the machine's sustained memory read bandwidth: every thread of a ThreadPool streams through its slice
// of a buffer far larger than the last-level cache, summing it so the loads cannot be optimised away.
#pragma once
#include <emmintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/thread-pool.h"

namespace sovren::bench {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Returns the best of `repeats` passes, in GB/s (1e9 bytes per second).
inline double measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int repeats) {
  buffer_bytes = buffer_bytes / 4096 * 4096;
  std::unique_ptr<uint8_t, FreeDeleter> buffer(static_cast<uint8_t*>(std::aligned_alloc(4096, buffer_bytes)));
  if (!buffer) return 0.0;
  uint8_t* data = buffer.get();
  const int64_t n_pages = static_cast<int64_t>(buffer_bytes / 4096);
  // First touch from the threads that will read it (page placement), with non-zero content.
  pool.parallel_for(n_pages, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) std::memset(data + p * 4096, static_cast<int>(p & 0xff), 4096);
  });
  std::vector<uint64_t> sink(static_cast<size_t>(pool.size()) * 8, 0);
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(n_pages, [&](int64_t begin, int64_t end, int thread_idx) {
      const auto* p = reinterpret_cast<const __m128i*>(data + begin * 4096);
      const auto* stop = reinterpret_cast<const __m128i*>(data + end * 4096);
      __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
      for (; p < stop; p += 4) {  // one 64-byte line per iteration, four independent accumulators
        a = _mm_add_epi64(a, _mm_load_si128(p));
        b = _mm_add_epi64(b, _mm_load_si128(p + 1));
        c = _mm_add_epi64(c, _mm_load_si128(p + 2));
        d = _mm_add_epi64(d, _mm_load_si128(p + 3));
      }
      const __m128i s = _mm_add_epi64(_mm_add_epi64(a, b), _mm_add_epi64(c, d));
      uint64_t lanes[2];
      std::memcpy(lanes, &s, sizeof lanes);
      sink[static_cast<size_t>(thread_idx) * 8] += lanes[0] + lanes[1];
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(buffer_bytes) / seconds / 1e9);
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sink) keep = keep + v;
  (void)keep;
  return best;
}

}  // namespace sovren::bench
