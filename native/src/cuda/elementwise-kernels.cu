// Embedding gather, RMSNorm fused with its weight, RoPE (normal / NeoX, optional QKV bias), SiLU·gate, add, bias.
#include <math.h>

#include "cuda/cuda-kernels.h"
#include "cuda/warp-reduce.cuh"
#include "cuda/row-value.cuh"

namespace sovren::cuda {

int64_t row_bytes(uint32_t type, int64_t cols) {
  switch (type) {
    case kF32:
      return cols * 4;
    case kF16:
    case kBF16:
      return cols * 2;
    case kQ4_0:
      return cols / 32 * block::kQ4_0Bytes;
    case kQ8_0:
      return cols / 32 * block::kQ8_0Bytes;
    case kQ4_K:
      return cols / 256 * block::kQ4_KBytes;
    case kQ6_K:
      return cols / 256 * block::kQ6_KBytes;
  }
  return 0;
}

__global__ void get_rows_kernel(uint32_t type, const uint8_t* w, int64_t cols, int64_t rb, const int32_t* ids,
                                float* out) {
  const uint8_t* row = w + static_cast<int64_t>(ids[blockIdx.x]) * rb;
  float* o = out + static_cast<int64_t>(blockIdx.x) * cols;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) o[i] = row_value(type, row, i);
}

cudaError_t launch_get_rows(cudaStream_t s, uint32_t type, const void* w, int64_t cols, const int32_t* ids, int n,
                            float* out) {
  const int64_t rb = row_bytes(type, cols);
  if (rb == 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  get_rows_kernel<<<n, 256, 0, s>>>(type, static_cast<const uint8_t*>(w), cols, rb, ids, out);
  return cudaGetLastError();
}

// Sum over a block of 256 threads (8 warps).
__device__ __forceinline__ float block_sum_256(float v) {
  __shared__ float partial[8];
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  v = threadIdx.x < 8 ? partial[threadIdx.x] : 0.0f;
  if (threadIdx.x < 32) v = warp_sum(v);
  __shared__ float total;
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  return total;
}

__global__ void rms_norm_kernel(const float* x, const float* weight, int dim, float eps, float* out) {
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  float* o = out + static_cast<int64_t>(blockIdx.x) * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  const float scale = rsqrtf(block_sum_256(ss) / static_cast<float>(dim) + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = xr[i] * scale * weight[i];
}

cudaError_t launch_rms_norm(cudaStream_t s, const float* x, const float* weight, int n_tokens, int dim, float eps,
                            float* out) {
  if (n_tokens == 0) return cudaSuccess;
  rms_norm_kernel<<<n_tokens, 256, 0, s>>>(x, weight, dim, eps, out);
  return cudaGetLastError();
}

// One thread per rotated pair; blockIdx.y = token, blockIdx.x * blockDim.x + threadIdx.x = head * n_rot/2 + pair.
// The bias (Qwen2's q/k bias) is added to every element of the head before rotation.
__global__ void rope_kernel(float* x, const float* bias, const int32_t* pos, int n_heads, int head_dim,
                            sovren_cuda_rope p) {
  const int t = blockIdx.y;
  const int half = p.n_rot / 2;
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_heads * half) return;
  const int h = idx / half, i = idx % half;
  float* head = x + (static_cast<int64_t>(t) * n_heads + h) * head_dim;
  const int a = p.neox ? i : 2 * i, b = p.neox ? i + half : 2 * i + 1;
  if (bias != nullptr) {  // each element once: the pair this thread rotates, then its share of the unrotated tail
    const float* hb = bias + h * head_dim;
    head[a] += hb[a];
    head[b] += hb[b];
    for (int j = p.n_rot + i; j < head_dim; j += half) head[j] += hb[j];
  }
  // Angle in double as the CPU backend computes it: at positions in the thousands a float angle is off by ~1e-4 rad.
  double theta = static_cast<double>(pos[t]) * p.freq_scale * pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
  if (p.freq_factors != nullptr) theta /= p.freq_factors[i];
  double sn_d, cs_d;
  sincos(theta, &sn_d, &cs_d);
  const auto sn = static_cast<float>(sn_d), cs = static_cast<float>(cs_d);
  const float x0 = head[a], x1 = head[b];
  head[a] = x0 * cs - x1 * sn;
  head[b] = x0 * sn + x1 * cs;
}

cudaError_t launch_rope(cudaStream_t s, float* x, const float* bias, const int32_t* pos, int n_tokens, int n_heads,
                        int head_dim, const sovren_cuda_rope& p) {
  if (p.n_rot <= 0 || p.n_rot > head_dim || p.n_rot % 2 != 0) return cudaErrorInvalidValue;
  if (n_tokens == 0) return cudaSuccess;
  const int pairs = n_heads * (p.n_rot / 2);
  rope_kernel<<<dim3((pairs + 127) / 128, n_tokens), 128, 0, s>>>(x, bias, pos, n_heads, head_dim, p);
  return cudaGetLastError();
}

__global__ void silu_mul_kernel(float* gate, const float* up, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

__global__ void add_kernel(float* x, const float* y, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    x[i] += y[i];
  }
}

__global__ void add_bias_kernel(float* x, const float* bias, size_t n, int dim) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    x[i] += bias[i % dim];
  }
}

static unsigned grid_for(size_t n) { return static_cast<unsigned>(n / 256 + 1 < 65535 ? n / 256 + 1 : 65535); }

cudaError_t launch_silu_mul(cudaStream_t s, float* gate, const float* up, size_t n) {
  if (n == 0) return cudaSuccess;
  silu_mul_kernel<<<grid_for(n), 256, 0, s>>>(gate, up, n);
  return cudaGetLastError();
}

cudaError_t launch_add(cudaStream_t s, float* x, const float* y, size_t n) {
  if (n == 0) return cudaSuccess;
  add_kernel<<<grid_for(n), 256, 0, s>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t launch_add_bias(cudaStream_t s, float* x, const float* bias, int n_tokens, int dim) {
  if (n_tokens < 0 || dim <= 0) return cudaErrorInvalidValue;
  const size_t n = static_cast<size_t>(n_tokens) * dim;
  if (n == 0) return cudaSuccess;
  add_bias_kernel<<<grid_for(n), 256, 0, s>>>(x, bias, n, dim);
  return cudaGetLastError();
}

}  // namespace sovren::cuda
