// bench-matvec: CpuBackend::matmul throughput per weight type at realistic llama shapes.
//  - decode (1 token): GB/s of weights streamed, and that as a fraction of the measured read bandwidth
//    (weights are cycled through enough copies to exceed the caches, as in a real forward pass);
//  - prompt (--prompt N tokens, default 128): GFLOP/s, i.e. how well one pass over the weights serves N tokens.
// Usage: bench-matvec [--threads N] [--isa scalar|avx2|avx512] [--types Q8_0,F16,...] [--prompt N] [--big]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/cpu-backend.h"
#include "cpu/cpu-isa.h"
#include "cpu/fp16.h"
#include "cpu/thread-pool.h"
#include "memory-bandwidth.h"

using namespace sovren;

namespace {

struct Shape {
  int64_t rows, cols;
  const char* what;
};

// Random blocks with finite, realistic f16 scales (random bytes elsewhere).
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const auto& traits = tensor_type_traits(type);
  const size_t bytes = *tensor_row_bytes(type, static_cast<uint64_t>(cols)) * static_cast<size_t>(rows);
  std::vector<uint8_t> data(bytes);
  for (size_t i = 0; i + 4 <= bytes; i += 4) {
    const uint32_t r = static_cast<uint32_t>(rng());
    std::memcpy(data.data() + i, &r, 4);
  }
  const auto put_f16 = [&](size_t at, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(data.data() + at, &h, 2);
  };
  const size_t n_blocks = bytes / traits.block_bytes;
  switch (type) {
    case TensorType::F32:
      for (size_t i = 0; i < n_blocks; ++i) store_f32(data.data() + 4 * i, static_cast<float>(rng() % 2001) / 1000 - 1);
      break;
    case TensorType::F16:
      for (size_t i = 0; i < n_blocks; ++i) put_f16(2 * i, static_cast<float>(rng() % 2001) / 1000 - 1);
      break;
    case TensorType::BF16:
      for (size_t i = 0; i < n_blocks; ++i) {
        const uint16_t h = fp32_to_bf16(static_cast<float>(rng() % 2001) / 1000 - 1);
        std::memcpy(data.data() + 2 * i, &h, 2);
      }
      break;
    case TensorType::Q4_0:
    case TensorType::Q8_0:
      for (size_t b = 0; b < n_blocks; ++b) put_f16(b * traits.block_bytes, 0.01f);
      break;
    case TensorType::Q4_K:
      for (size_t b = 0; b < n_blocks; ++b) {
        put_f16(b * 144, 0.002f);
        put_f16(b * 144 + 2, 0.001f);
      }
      break;
    case TensorType::Q6_K:
      for (size_t b = 0; b < n_blocks; ++b) put_f16(b * 210 + 208, 0.001f);
      break;
  }
  return data;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, prompt = 128;
  bool big = false;
  std::string isa_name, type_list = "F32,F16,BF16,Q8_0,Q4_0,Q4_K,Q6_K";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 < argc && arg == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (i + 1 < argc && arg == "--isa") {
      isa_name = argv[++i];
    } else if (i + 1 < argc && arg == "--types") {
      type_list = argv[++i];
    } else if (i + 1 < argc && arg == "--prompt") {
      prompt = std::atoi(argv[++i]);
    } else if (arg == "--big") {
      big = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench-matvec [--threads N] [--isa scalar|avx2|avx512] [--types Q8_0,F16,...] "
                   "[--prompt N] [--big]\nunknown argument: %s\n",
                   arg.c_str());
      return 2;
    }
  }
  try {
    if (!isa_name.empty()) setenv("SOVREN_CPU_ISA", isa_name.c_str(), 1);
    const CpuIsa isa = select_cpu_isa();
    auto backend = make_cpu_backend_with_isa(threads, isa);
    ThreadPool bandwidth_pool(backend->n_threads());
    const double bandwidth = bench::measure_read_bandwidth(bandwidth_pool, size_t{1} << 30, 5);
    std::printf("backend %s, %d threads; measured read bandwidth %.1f GB/s (1 GiB buffer)\n\n", backend->name().c_str(),
                backend->n_threads(), bandwidth);

    std::vector<Shape> shapes = {{2048, 2048, "attn q/o (1B)"}, {8192, 2048, "ffn up/gate (1B)"},
                                 {2048, 8192, "ffn down (1B)"}};
    if (big) shapes.push_back({128256, 2048, "output (Llama 3 vocab)"});
    std::printf("%-6s %-22s %13s %10s %9s %11s %14s\n", "type", "shape", "rows x cols", "decode ms", "GB/s",
                "% of bw", "prompt GFLOP/s");
    std::mt19937 rng(7);
    size_t pos = 0;
    while (pos <= type_list.size()) {
      const size_t comma = std::min(type_list.find(',', pos), type_list.size());
      const std::string name = type_list.substr(pos, comma - pos);
      pos = comma + 1;
      if (name.empty()) continue;
      std::optional<TensorType> type;
      for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
                           TensorType::Q4_K, TensorType::Q6_K}) {
        if (tensor_type_name(t) == name) type = t;
      }
      if (!type) throw EngineError("unknown type '" + name + "' in --types");
      for (const Shape& s : shapes) {
        const size_t matrix_bytes = *tensor_row_bytes(*type, static_cast<uint64_t>(s.cols)) * static_cast<size_t>(s.rows);
        // Enough copies to exceed ~256 MiB so decode reads come from memory, as across a model's layers.
        const size_t copies = std::clamp<size_t>((size_t{256} << 20) / matrix_bytes + 1, 1, 64);
        std::vector<std::vector<uint8_t>> matrices;
        for (size_t c = 0; c < copies; ++c) matrices.push_back(random_matrix(*type, s.rows, s.cols, rng));
        std::vector<float> x(static_cast<size_t>(s.cols) * std::max(prompt, 1)), y(static_cast<size_t>(s.rows) * std::max(prompt, 1));
        for (auto& v : x) v = static_cast<float>(rng() % 2001) / 1000 - 1;

        // Decode: cycle through the copies, best of several rounds of at least ~0.2 s.
        double best_decode = 1e30;
        for (int round = 0; round < 5; ++round) {
          int calls = 0;
          const auto start = std::chrono::steady_clock::now();
          do {
            for (auto& m : matrices) {
              backend->matmul(WeightView{*type, s.rows, s.cols, m.data()}, x.data(), 1, y.data());
              ++calls;
            }
          } while (seconds_since(start) < 0.2);
          best_decode = std::min(best_decode, seconds_since(start) / calls);
        }
        const double gbs = static_cast<double>(matrix_bytes) / best_decode / 1e9;

        double gflops = 0;
        if (prompt > 1 && s.rows * s.cols <= int64_t{8192} * 8192) {
          double best_prompt = 1e30;
          for (int round = 0; round < 2; ++round) {
            const auto start = std::chrono::steady_clock::now();
            backend->matmul(WeightView{*type, s.rows, s.cols, matrices[0].data()}, x.data(), prompt, y.data());
            best_prompt = std::min(best_prompt, seconds_since(start));
          }
          gflops = 2.0 * static_cast<double>(s.rows) * s.cols * prompt / best_prompt / 1e9;
        }
        char shape[32];
        std::snprintf(shape, sizeof shape, "%lldx%lld", static_cast<long long>(s.rows), static_cast<long long>(s.cols));
        std::printf("%-6s %-22s %13s %10.3f %9.1f %10.0f%% %14.1f\n", name.c_str(), s.what, shape, best_decode * 1e3,
                    gbs, 100.0 * gbs / bandwidth, gflops);
        std::fflush(stdout);
      }
    }
  } catch (const EngineError& e) {
    std::fprintf(stderr, "bench-matvec: %s\n", e.what());
    return 1;
  }
  return 0;
}
