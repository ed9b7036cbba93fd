// bench-bandwidth: the machine's multi-threaded memory read bandwidth (the ceiling for batch-1 generation, which
// streams every weight once per token). Usage: bench-bandwidth [--threads N] [--mib SIZE] [--repeats R]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "cpu/thread-pool.h"
#include "memory-bandwidth.h"

int main(int argc, char** argv) {
  int threads = 0, repeats = 5;
  long mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 < argc && arg == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (i + 1 < argc && arg == "--mib") {
      mib = std::atol(argv[++i]);
    } else if (i + 1 < argc && arg == "--repeats") {
      repeats = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench-bandwidth [--threads N] [--mib SIZE] [--repeats R]\nunknown argument: %s\n",
                   arg.c_str());
      return 2;
    }
  }
  if (mib < 1 || repeats < 1) {
    std::fprintf(stderr, "bench-bandwidth: --mib and --repeats must be positive\n");
    return 2;
  }
  try {
    sovren::ThreadPool pool(threads);
    for (int t = 1; t <= pool.size(); ++t) {
      sovren::ThreadPool sub(t);
      const double gbs = sovren::bench::measure_read_bandwidth(sub, static_cast<size_t>(mib) << 20, repeats);
      if (gbs <= 0) {
        std::fprintf(stderr, "bench-bandwidth: cannot allocate %ld MiB\n", mib);
        return 1;
      }
      std::printf("read bandwidth, %d thread%s, %ld MiB buffer: %.1f GB/s\n", t, t == 1 ? "" : "s", mib, gbs);
    }
  } catch (const sovren::EngineError& e) {
    std::fprintf(stderr, "bench-bandwidth: %s\n", e.what());
    return 1;
  }
  return 0;
}
