// Decode attention over a paged KV cache with split-K ("flash-decoding"): each (sequence, head, chunk of kChunk cache
// rows) block computes its chunk's max score, exp-sum and weighted V sum; a second kernel merges the chunks with the
// usual log-sum-exp rescaling. Long contexts thus fill the GPU even with one sequence.
#include <float.h>

#include "cuda/cuda-kernels.h"
#include "cuda/warp-reduce.cuh"

namespace sovren::cuda {
namespace {

constexpr int kChunk = 256;    // cache rows per split
constexpr int kThreads = 128;  // 4 warps
constexpr int kMaxHeadDim = 256;

__device__ __forceinline__ const float* kv_row(const float* pool, const int32_t* table, int block_rows, int row,
                                               int n_head_kv, int head_dim, int kv_head) {
  const int64_t blk = table[row / block_rows];
  return pool + ((blk * block_rows + row % block_rows) * n_head_kv + kv_head) * head_dim;
}

// grid (n_head, n_seq, n_split). partial: [n_seq][n_head][n_split] of {m, l, o[head_dim]}.
__global__ void attention_chunk_kernel(const float* q, sovren_cuda_paged_kv kv, const int32_t* n_kv, int n_head,
                                       int n_head_kv, int head_dim, float scale, float* partial) {
  const int h = blockIdx.x, s = blockIdx.y, split = blockIdx.z, n_split = gridDim.z;
  const int kvh = h / (n_head / n_head_kv);
  const int n = n_kv[s];
  const int row0 = split * kChunk, row1 = min(row0 + kChunk, n);
  float* part = partial + ((static_cast<int64_t>(s) * n_head + h) * n_split + split) * (2 + head_dim);
  __shared__ float qs[kMaxHeadDim];
  __shared__ float scores[kChunk];
  __shared__ float red[kThreads / 32];
  const float* qh = q + (static_cast<int64_t>(s) * n_head + h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) qs[d] = qh[d] * scale;
  __syncthreads();
  if (row0 >= row1) {  // nothing of this sequence in the chunk
    if (threadIdx.x == 0) part[0] = -FLT_MAX, part[1] = 0.0f;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) part[2 + d] = 0.0f;
    return;
  }
  const int32_t* table = kv.block_table + static_cast<int64_t>(s) * kv.max_blocks;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int r = row0 + warp; r < row1; r += kThreads / 32) {  // one warp per cache row: q . k
    const float* k = kv_row(kv.k_pool, table, kv.block_rows, r, n_head_kv, head_dim, kvh);
    float dot = 0.0f;
    for (int d = lane; d < head_dim; d += 32) dot += qs[d] * k[d];
    dot = warp_sum(dot);
    if (lane == 0) scores[r - row0] = dot;
  }
  __syncthreads();
  float m = -FLT_MAX;
  for (int i = threadIdx.x; i < row1 - row0; i += blockDim.x) m = fmaxf(m, scores[i]);
  m = warp_max(m);
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = red[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  float l = 0.0f;
  for (int i = threadIdx.x; i < row1 - row0; i += blockDim.x) {
    scores[i] = __expf(scores[i] - m);
    l += scores[i];
  }
  l = warp_sum(l);
  if (lane == 0) red[warp] = l;
  __syncthreads();
  l = 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) l += red[w];
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {  // one thread per output dimension
    float o = 0.0f;
    for (int r = row0; r < row1; ++r) {
      o += scores[r - row0] * kv_row(kv.v_pool, table, kv.block_rows, r, n_head_kv, head_dim, kvh)[d];
    }
    part[2 + d] = o;
  }
  if (threadIdx.x == 0) part[0] = m, part[1] = l;
}

// grid (n_head, n_seq): out = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c.
__global__ void attention_merge_kernel(const float* partial, int n_split, int n_head, int head_dim, float* out) {
  const int h = blockIdx.x, s = blockIdx.y;
  const float* base = partial + (static_cast<int64_t>(s) * n_head + h) * n_split * (2 + head_dim);
  float big = -FLT_MAX;
  for (int c = 0; c < n_split; ++c) big = fmaxf(big, base[c * (2 + head_dim)]);
  float denom = 0.0f;
  for (int c = 0; c < n_split; ++c) {
    const float* p = base + c * (2 + head_dim);
    if (p[1] > 0.0f) denom += __expf(p[0] - big) * p[1];
  }
  float* o = out + (static_cast<int64_t>(s) * n_head + h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int c = 0; c < n_split; ++c) {
      const float* p = base + c * (2 + head_dim);
      if (p[1] > 0.0f) acc += __expf(p[0] - big) * p[2 + d];
    }
    o[d] = denom > 0.0f ? acc / denom : 0.0f;
  }
}

int splits_for(int max_n_kv) { return (max_n_kv + kChunk - 1) / kChunk; }

}  // namespace

size_t attention_scratch_bytes(int max_n_kv, int n_seq, int n_head, int head_dim) {
  return static_cast<size_t>(splits_for(max_n_kv)) * n_seq * n_head * (2 + head_dim) * sizeof(float);
}

cudaError_t launch_attention_decode(cudaStream_t s, const float* q, const sovren_cuda_paged_kv& kv, const int32_t* n_kv,
                                    int max_n_kv, int n_seq, int n_head, int n_head_kv, int head_dim, float scale,
                                    float* out, void* scratch) {
  if (head_dim > kMaxHeadDim || n_head_kv <= 0 || n_head % n_head_kv != 0 || max_n_kv <= 0 || kv.block_rows <= 0) {
    return cudaErrorInvalidValue;
  }
  if (n_seq == 0) return cudaSuccess;
  const int n_split = splits_for(max_n_kv);
  auto* partial = static_cast<float*>(scratch);
  attention_chunk_kernel<<<dim3(n_head, n_seq, n_split), kThreads, 0, s>>>(q, kv, n_kv, n_head, n_head_kv, head_dim,
                                                                           scale, partial);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  attention_merge_kernel<<<dim3(n_head, n_seq), 128, 0, s>>>(partial, n_split, n_head, head_dim, out);
  return cudaGetLastError();
}

}  // namespace sovren::cuda
