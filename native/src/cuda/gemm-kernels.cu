// Prompt matmul y[t][r] = dot(W row r, x[t]). F16 / BF16 weights with rows and cols multiples of 16 go through the
// tensor cores (WMMA 16x16x16, float accumulate: the activations are rounded once to the weight's 16-bit type, as
// llama.cpp's cuBLAS path does); every other type through a shared-memory tiled kernel that dequantises each weight
// tile once with the shared block maths and accumulates in float.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "cuda/cuda-kernels.h"
#include "cuda/row-value.cuh"

namespace sovren::cuda {
namespace {

using namespace nvcuda;

constexpr int kTile = 16;

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// x (n_tokens x cols, float) -> xh (padded_tokens x cols, T), rows past n_tokens zero.
template <typename T>
__global__ void convert_activations(const float* x, int n_tokens, int64_t cols, int64_t total, T* xh) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    xh[i] = from_float<T>(i / cols < n_tokens ? x[i] : 0.0f);
  }
}

// One warp per 16 tokens x 16 rows output tile. A = activations (row-major, ld = cols); B = W^T, i.e. W row-major
// read as a column-major K x rows matrix (ld = cols). Output tiles past n_tokens go to a padded scratch row block.
template <typename T>
__global__ void gemm_wmma_kernel(const T* xh, const T* w, int64_t rows, int64_t cols, int n_tokens, float* y,
                                 float* tail) {
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32) * kTile;
  const int t0 = blockIdx.y * kTile;
  if (r0 >= rows) return;
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, T, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, T, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> c;
  wmma::fill_fragment(c, 0.0f);
  for (int64_t k = 0; k < cols; k += kTile) {
    wmma::load_matrix_sync(a, xh + t0 * cols + k, static_cast<unsigned>(cols));
    wmma::load_matrix_sync(b, w + r0 * cols + k, static_cast<unsigned>(cols));
    wmma::mma_sync(c, a, b, c);
  }
  if (t0 + kTile <= n_tokens) {
    wmma::store_matrix_sync(y + t0 * rows + r0, c, static_cast<unsigned>(rows), wmma::mem_row_major);
    return;
  }
  // Last, partial token tile: store to this warp's scratch tile, then copy the valid rows.
  float* scratch = tail + (r0 / kTile) * kTile * kTile;
  wmma::store_matrix_sync(scratch, c, kTile, wmma::mem_row_major);
  __syncwarp();
  const int lane = threadIdx.x & 31;
  for (int i = lane; i < kTile * kTile; i += 32) {
    const int t = t0 + i / kTile;
    if (t < n_tokens) y[t * rows + r0 + i % kTile] = scratch[i];
  }
}

// Generic tiled kernel: 32 rows x 32 tokens per 256-thread block, K in steps of 32 staged in shared memory.
constexpr int kGemmTile = 32, kGemmK = 32;

__global__ void gemm_tiled_kernel(uint32_t type, const uint8_t* w, int64_t rb, int64_t rows, int64_t cols,
                                  const float* x, int n_tokens, float* y) {
  __shared__ float ws[kGemmTile][kGemmK + 1];
  __shared__ float xs[kGemmTile][kGemmK + 1];
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kGemmTile;
  const int t0 = blockIdx.y * kGemmTile;
  const int tx = threadIdx.x % kGemmTile, ty = threadIdx.x / kGemmTile;  // ty 0..7: 4 tokens each
  float acc[4] = {};
  for (int64_t k0 = 0; k0 < cols; k0 += kGemmK) {
    for (int i = threadIdx.x; i < kGemmTile * kGemmK; i += blockDim.x) {
      const int rr = i / kGemmK, kk = i % kGemmK;
      const int64_t r = r0 + rr, k = k0 + kk;
      ws[rr][kk] = (r < rows && k < cols) ? row_value(type, w + r * rb, k) : 0.0f;
      const int t = t0 + rr;
      xs[rr][kk] = (t < n_tokens && k < cols) ? x[t * cols + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kGemmK; ++kk) {
      const float wv = ws[tx][kk];
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[j] += wv * xs[ty * 4 + j][kk];
    }
    __syncthreads();
  }
  const int64_t r = r0 + tx;
  for (int j = 0; j < 4; ++j) {
    const int t = t0 + ty * 4 + j;
    if (r < rows && t < n_tokens) y[t * rows + r] = acc[j];
  }
}

bool uses_wmma(uint32_t type, int64_t rows, int64_t cols) {
  return (type == kF16 || type == kBF16) && rows % kTile == 0 && cols % kTile == 0;
}

int64_t padded_tokens(int n_tokens) { return (n_tokens + kTile - 1) / kTile * kTile; }

template <typename T>
cudaError_t launch_wmma(cudaStream_t s, const void* w, int64_t rows, int64_t cols, const float* x, int n_tokens,
                        float* y, void* scratch) {
  const int64_t padded = padded_tokens(n_tokens);
  auto* xh = static_cast<T*>(scratch);
  auto* tail = reinterpret_cast<float*>(xh + padded * cols);
  const int64_t total = padded * cols;
  convert_activations<T><<<static_cast<unsigned>(total / 256 + 1 < 65535 ? total / 256 + 1 : 65535), 256, 0, s>>>(
      x, n_tokens, cols, total, xh);
  constexpr int kWarps = 4;
  const dim3 grid(static_cast<unsigned>((rows / kTile + kWarps - 1) / kWarps), static_cast<unsigned>(padded / kTile));
  gemm_wmma_kernel<T><<<grid, 32 * kWarps, 0, s>>>(xh, static_cast<const T*>(w), rows, cols, n_tokens, y, tail);
  return cudaGetLastError();
}

}  // namespace

size_t gemm_scratch_bytes(uint32_t type, int64_t rows, int64_t cols, int n_tokens) {
  if (!uses_wmma(type, rows, cols)) return 0;
  // Padded 16-bit activations, then one 16x16 float tile per 16 weight rows for the last partial token tile.
  return static_cast<size_t>(padded_tokens(n_tokens) * cols * 2 + rows * kTile * 4);
}

cudaError_t launch_gemm(cudaStream_t s, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
                        int n_tokens, float* y, void* scratch) {
  const int64_t rb = row_bytes(type, cols);
  if (rb == 0 || n_tokens < 1) return cudaErrorInvalidValue;
  // WMMA loads and stores need 32-byte aligned tiles: weights and outputs at other offsets take the tiled kernel.
  const bool aligned = reinterpret_cast<uintptr_t>(w) % 32 == 0 && reinterpret_cast<uintptr_t>(y) % 32 == 0;
  if (aligned && uses_wmma(type, rows, cols)) {
    return type == kF16 ? launch_wmma<__half>(s, w, rows, cols, x, n_tokens, y, scratch)
                        : launch_wmma<__nv_bfloat16>(s, w, rows, cols, x, n_tokens, y, scratch);
  }
  const dim3 grid(static_cast<unsigned>((rows + kGemmTile - 1) / kGemmTile),
                  static_cast<unsigned>((n_tokens + kGemmTile - 1) / kGemmTile));
  gemm_tiled_kernel<<<grid, 256, 0, s>>>(type, static_cast<const uint8_t*>(w), rb, rows, cols, x, n_tokens, y);
  return cudaGetLastError();
}

}  // namespace sovren::cuda
