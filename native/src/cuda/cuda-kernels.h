// Launchers of the CUDA kernels (one .cu per concern), called by cuda-plugin.cu on the backend's stream.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda/cuda-plugin-abi.h"

namespace sovren::cuda {

// GGUF type ids (tensor/tensor-type.h), repeated here so device code needs no host headers.
enum : uint32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ6_K = 14, kBF16 = 30 };

// Bytes of a row of `cols` elements of `type` (cols a whole number of blocks), 0 for an unknown type.
int64_t row_bytes(uint32_t type, int64_t cols);

cudaError_t launch_get_rows(cudaStream_t, uint32_t type, const void* w, int64_t cols, const int32_t* ids, int n,
                            float* out);
cudaError_t launch_rms_norm(cudaStream_t, const float* x, const float* weight, int n_tokens, int dim, float eps,
                            float* out);
cudaError_t launch_rope(cudaStream_t, float* x, const float* bias, const int32_t* pos, int n_tokens, int n_heads,
                        int head_dim, const sovren_cuda_rope& p);
cudaError_t launch_silu_mul(cudaStream_t, float* gate, const float* up, size_t n);
cudaError_t launch_add(cudaStream_t, float* x, const float* y, size_t n);
cudaError_t launch_add_bias(cudaStream_t, float* x, const float* bias, int n_tokens, int dim);

// Batch-1..4 matrix-vector products (warp per row; quantised weights dotted with Q8_0 / Q8_K activations prepared in
// act_scratch, at least matvec_scratch_bytes). Returns cudaErrorInvalidValue for n_tokens > kMaxMatvecTokens.
constexpr int kMaxMatvecTokens = 4;
size_t matvec_scratch_bytes(uint32_t type, int64_t cols, int n_tokens);
cudaError_t launch_matvec(cudaStream_t, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
                          int n_tokens, float* y, void* act_scratch);

// Prompt GEMM: tensor cores (WMMA, fp32 accumulate) for F16/BF16 when shapes allow, else a shared-memory tiled kernel
// that dequantises weight tiles with the block maths. Scratch: gemm_scratch_bytes.
size_t gemm_scratch_bytes(uint32_t type, int64_t rows, int64_t cols, int n_tokens);
cudaError_t launch_gemm(cudaStream_t, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
                        int n_tokens, float* y, void* scratch);

// Split-K paged decode attention; scratch: attention_scratch_bytes.
size_t attention_scratch_bytes(int max_n_kv, int n_seq, int n_head, int head_dim);
cudaError_t launch_attention_decode(cudaStream_t, const float* q, const sovren_cuda_paged_kv& kv, const int32_t* n_kv,
                                    int max_n_kv, int n_seq, int n_head, int n_head_kv, int head_dim, float scale,
                                    float* out, void* scratch);

// The paged cache's row scatter and causal prompt attention (kv-cache-kernels.cu); contracts in cuda-plugin-abi.h.
cudaError_t launch_kv_store(cudaStream_t, float* k_pool, float* v_pool, const int32_t* block_tables, int block_rows,
                            int max_blocks, const float* k, const float* v, const int32_t* row_seq, const int32_t* pos,
                            int n_rows, int kv_dim);
cudaError_t launch_attention_prefill(cudaStream_t, const float* q, const sovren_cuda_paged_kv& kv,
                                     const int32_t* row_seq, const int32_t* pos, int n_rows, int n_head, int n_head_kv,
                                     int head_dim, float scale, float* out);

}  // namespace sovren::cuda
