// Batch-1..4 matrix-vector products that read every weight byte once: one warp per weight row, the row's blocks cut
// into slices that the 32 lanes share (llama.cpp's MMVQ idea), integer dots with Q8_0 / Q8_K activations prepared
// once per call, every token of the call served by each weight load, then a warp reduction.
#include "cuda/cuda-kernels.h"
#include "cuda/warp-reduce.cuh"
#include "quant/block-maths.h"

namespace sovren::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per thread block

bool uses_q8_k(uint32_t type) { return type == kQ4_K || type == kQ6_K; }
bool is_quantised(uint32_t type) { return type == kQ4_0 || type == kQ8_0 || uses_q8_k(type); }

__global__ void quantize_act_kernel(const float* x, int64_t cols, int n_blocks_per_row, bool q8_k, uint8_t* out) {
  const int t = blockIdx.y;
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= n_blocks_per_row) return;
  const int elements = q8_k ? 256 : 32, bytes = q8_k ? block::kActQ8_KBytes : block::kActQ8_0Bytes;
  const float* xb = x + t * cols + static_cast<int64_t>(b) * elements;
  uint8_t* ob = out + (static_cast<int64_t>(t) * n_blocks_per_row + b) * bytes;
  if (q8_k) {
    block::quantize_act_q8_k(xb, ob);
  } else {
    block::quantize_act_q8_0(xb, ob);
  }
}

// The float value of one slice of a quantised block against activation block a. Slices per block: Q4_0 4 (4 pairs
// each), Q8_0 4 (8 values), Q4_K 4 (one 32-byte chunk = 2 sub-blocks), Q6_K 16 (one sub-block of 16).
template <uint32_t Type>
struct Slices;
template <>
struct Slices<kQ4_0> {
  static constexpr int kPerBlock = 4, kWeightBytes = block::kQ4_0Bytes, kActBytes = block::kActQ8_0Bytes;
  __device__ static float dot(const uint8_t* w, const uint8_t* a, int s) {
    return block::f16_to_f32(block::load_u16(w)) * block::load_f32(a) *
           static_cast<float>(block::q4_0_isum(w, a, 4 * s, 4));
  }
};
template <>
struct Slices<kQ8_0> {
  static constexpr int kPerBlock = 4, kWeightBytes = block::kQ8_0Bytes, kActBytes = block::kActQ8_0Bytes;
  __device__ static float dot(const uint8_t* w, const uint8_t* a, int s) {
    return block::f16_to_f32(block::load_u16(w)) * block::load_f32(a) *
           static_cast<float>(block::q8_0_isum(w, a, 8 * s, 8));
  }
};
template <>
struct Slices<kQ4_K> {
  static constexpr int kPerBlock = 4, kWeightBytes = block::kQ4_KBytes, kActBytes = block::kActQ8_KBytes;
  __device__ static float dot(const uint8_t* w, const uint8_t* a, int s) {
    int isum = 0, msum = 0;
    block::q4_k_chunk_sums(w, a, s, &isum, &msum);
    return block::q4_k_scale_sums(w, a, isum, msum);
  }
};
template <>
struct Slices<kQ6_K> {
  static constexpr int kPerBlock = 16, kWeightBytes = block::kQ6_KBytes, kActBytes = block::kActQ8_KBytes;
  __device__ static float dot(const uint8_t* w, const uint8_t* a, int s) {
    return block::q6_k_scale_isum(w, a, block::q6_k_sub_isum(w, a, s));
  }
};

template <uint32_t Type, int NTok>
__global__ void matvec_quant_kernel(const uint8_t* w, int64_t rows, int n_blocks, const uint8_t* act, float* y) {
  using S = Slices<Type>;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const int lane = threadIdx.x & 31;
  const uint8_t* row = w + r * n_blocks * S::kWeightBytes;
  float acc[NTok] = {};
  for (int u = lane; u < n_blocks * S::kPerBlock; u += 32) {
    const int b = u / S::kPerBlock, s = u % S::kPerBlock;
    const uint8_t* wb = row + static_cast<int64_t>(b) * S::kWeightBytes;
#pragma unroll
    for (int t = 0; t < NTok; ++t) {
      acc[t] += S::dot(wb, act + (static_cast<int64_t>(t) * n_blocks + b) * S::kActBytes, s);
    }
  }
#pragma unroll
  for (int t = 0; t < NTok; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) y[t * rows + r] = v;
  }
}

// Float weights with float activations: lanes walk the row in pairs of elements.
template <uint32_t Type>
__device__ __forceinline__ float float_value(const uint8_t* row, int64_t i) {
  if constexpr (Type == kF32) return block::load_f32(row + 4 * i);
  if constexpr (Type == kF16) return block::f16_to_f32(block::load_u16(row + 2 * i));
  return block::bf16_to_f32(block::load_u16(row + 2 * i));
}

template <uint32_t Type, int NTok>
__global__ void matvec_float_kernel(const uint8_t* w, int64_t rows, int64_t cols, const float* x, float* y) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const int lane = threadIdx.x & 31;
  const uint8_t* row = w + r * cols * (Type == kF32 ? 4 : 2);
  float acc[NTok] = {};
  for (int64_t i = lane; i < cols; i += 32) {
    const float v = float_value<Type>(row, i);
#pragma unroll
    for (int t = 0; t < NTok; ++t) acc[t] += v * x[t * cols + i];
  }
#pragma unroll
  for (int t = 0; t < NTok; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) y[t * rows + r] = v;
  }
}

template <int NTok>
cudaError_t launch_for_tokens(cudaStream_t s, uint32_t type, const uint8_t* w, int64_t rows, int64_t cols,
                              const float* x, float* y, const uint8_t* act) {
  const dim3 grid(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock)), block(32 * kRowsPerBlock);
  switch (type) {
    case kF32:
      matvec_float_kernel<kF32, NTok><<<grid, block, 0, s>>>(w, rows, cols, x, y);
      break;
    case kF16:
      matvec_float_kernel<kF16, NTok><<<grid, block, 0, s>>>(w, rows, cols, x, y);
      break;
    case kBF16:
      matvec_float_kernel<kBF16, NTok><<<grid, block, 0, s>>>(w, rows, cols, x, y);
      break;
    case kQ4_0:
      matvec_quant_kernel<kQ4_0, NTok><<<grid, block, 0, s>>>(w, rows, static_cast<int>(cols / 32), act, y);
      break;
    case kQ8_0:
      matvec_quant_kernel<kQ8_0, NTok><<<grid, block, 0, s>>>(w, rows, static_cast<int>(cols / 32), act, y);
      break;
    case kQ4_K:
      matvec_quant_kernel<kQ4_K, NTok><<<grid, block, 0, s>>>(w, rows, static_cast<int>(cols / 256), act, y);
      break;
    case kQ6_K:
      matvec_quant_kernel<kQ6_K, NTok><<<grid, block, 0, s>>>(w, rows, static_cast<int>(cols / 256), act, y);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

size_t matvec_scratch_bytes(uint32_t type, int64_t cols, int n_tokens) {
  if (!is_quantised(type)) return 0;
  const bool q8_k = uses_q8_k(type);
  return static_cast<size_t>(n_tokens) * (cols / (q8_k ? 256 : 32)) *
         (q8_k ? block::kActQ8_KBytes : block::kActQ8_0Bytes);
}

cudaError_t launch_matvec(cudaStream_t s, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
                          int n_tokens, float* y, void* act_scratch) {
  if (n_tokens < 1 || n_tokens > kMaxMatvecTokens || row_bytes(type, cols) == 0) return cudaErrorInvalidValue;
  auto* act = static_cast<uint8_t*>(act_scratch);
  if (is_quantised(type)) {
    const bool q8_k = uses_q8_k(type);
    const int n_blocks = static_cast<int>(cols / (q8_k ? 256 : 32));
    quantize_act_kernel<<<dim3((n_blocks + 63) / 64, n_tokens), 64, 0, s>>>(x, cols, n_blocks, q8_k, act);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  switch (n_tokens) {
    case 1:
      return launch_for_tokens<1>(s, type, wb, rows, cols, x, y, act);
    case 2:
      return launch_for_tokens<2>(s, type, wb, rows, cols, x, y, act);
    case 3:
      return launch_for_tokens<3>(s, type, wb, rows, cols, x, y, act);
    default:
      return launch_for_tokens<4>(s, type, wb, rows, cols, x, y, act);
  }
}

}  // namespace sovren::cuda
