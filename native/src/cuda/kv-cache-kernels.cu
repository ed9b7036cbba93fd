// The paged KV cache's writes and prompt attention: kv_store scatters a batch's new K/V rows into their sequences'
// blocks; attention_prefill runs causal attention for many rows of many sequences, one warp per (row, head) with an
// online softmax over the cache rows. Simple on purpose: correct first, tuned on a GPU later.
#include <float.h>

#include "cuda/cuda-kernels.h"
#include "cuda/warp-reduce.cuh"

namespace sovren::cuda {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerLane = kMaxHeadDim / 32;

// grid (n_rows): the block copies row r's kv_dim floats of k and v to its slot.
__global__ void kv_store_kernel(float* k_pool, float* v_pool, const int32_t* tables, int block_rows, int max_blocks,
                                const float* k, const float* v, const int32_t* row_seq, const int32_t* pos,
                                int kv_dim) {
  const int r = blockIdx.x, p = pos[r];
  const int64_t blk = tables[static_cast<int64_t>(row_seq[r]) * max_blocks + p / block_rows];
  const int64_t dst = (blk * block_rows + p % block_rows) * kv_dim, src = static_cast<int64_t>(r) * kv_dim;
  for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    k_pool[dst + i] = k[src + i];
    v_pool[dst + i] = v[src + i];
  }
}

// grid (n_head, n_rows), one warp: lane owns dimensions lane, lane + 32, ...; scores never leave registers.
__global__ void attention_prefill_kernel(const float* q, sovren_cuda_paged_kv kv, const int32_t* row_seq,
                                         const int32_t* pos, int n_head, int n_head_kv, int head_dim, float scale,
                                         float* out) {
  const int h = blockIdx.x, r = blockIdx.y, lane = threadIdx.x;
  const int kvh = h / (n_head / n_head_kv), kv_dim = n_head_kv * head_dim;
  const int32_t* table = kv.block_table + static_cast<int64_t>(row_seq[r]) * kv.max_blocks;
  const float* qh = q + (static_cast<int64_t>(r) * n_head + h) * head_dim;
  float qv[kDimsPerLane], acc[kDimsPerLane];
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) {
    const int d = lane + 32 * j;
    qv[j] = d < head_dim ? qh[d] * scale : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -FLT_MAX, l = 0.0f;
  for (int p = 0; p <= pos[r]; ++p) {
    const int64_t at = (static_cast<int64_t>(table[p / kv.block_rows]) * kv.block_rows + p % kv.block_rows) * kv_dim +
                       static_cast<int64_t>(kvh) * head_dim;
    const float* k = kv.k_pool + at;
    const float* v = kv.v_pool + at;
    float dot = 0.0f;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
      const int d = lane + 32 * j;
      if (d < head_dim) dot += qv[j] * k[d];
    }
    dot = warp_sum(dot);
    const float m_new = fmaxf(m, dot);
    const float rescale = __expf(m - m_new), e = __expf(dot - m_new);
    l = l * rescale + e;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
      const int d = lane + 32 * j;
      if (d < head_dim) acc[j] = acc[j] * rescale + e * v[d];
    }
    m = m_new;
  }
  float* o = out + (static_cast<int64_t>(r) * n_head + h) * head_dim;
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) {
    const int d = lane + 32 * j;
    if (d < head_dim) o[d] = acc[j] / l;
  }
}

}  // namespace

cudaError_t launch_kv_store(cudaStream_t s, float* k_pool, float* v_pool, const int32_t* block_tables, int block_rows,
                            int max_blocks, const float* k, const float* v, const int32_t* row_seq, const int32_t* pos,
                            int n_rows, int kv_dim) {
  if (block_rows <= 0 || max_blocks <= 0 || kv_dim <= 0 || n_rows < 0) return cudaErrorInvalidValue;
  if (n_rows == 0) return cudaSuccess;
  kv_store_kernel<<<n_rows, 128, 0, s>>>(k_pool, v_pool, block_tables, block_rows, max_blocks, k, v, row_seq, pos,
                                         kv_dim);
  return cudaGetLastError();
}

cudaError_t launch_attention_prefill(cudaStream_t s, const float* q, const sovren_cuda_paged_kv& kv,
                                     const int32_t* row_seq, const int32_t* pos, int n_rows, int n_head, int n_head_kv,
                                     int head_dim, float scale, float* out) {
  if (head_dim <= 0 || head_dim > kMaxHeadDim || n_head_kv <= 0 || n_head % n_head_kv != 0 || kv.block_rows <= 0 ||
      n_rows < 0) {
    return cudaErrorInvalidValue;
  }
  if (n_rows == 0) return cudaSuccess;
  attention_prefill_kernel<<<dim3(n_head, n_rows), 32, 0, s>>>(q, kv, row_seq, pos, n_head, n_head_kv, head_dim, scale,
                                                               out);
  return cudaGetLastError();
}

}  // namespace sovren::cuda
