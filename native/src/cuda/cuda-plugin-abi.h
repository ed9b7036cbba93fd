/* The C ABI between the addon (host code, never linked against the CUDA runtime) and libsovren-cuda.so, which the
   addon dlopen()s only when asked for a GPU. Plain C so either side can be rebuilt alone; the version guards layout. */
#ifndef SOVREN_CUDA_PLUGIN_ABI_H
#define SOVREN_CUDA_PLUGIN_ABI_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOVREN_CUDA_ABI_VERSION 2u
#define SOVREN_CUDA_PLUGIN_SYMBOL "sovren_cuda_plugin_api"

typedef struct sovren_cuda_backend sovren_cuda_backend; /* one device, one stream, its allocations */

/* Weight types use the GGUF ids of tensor/tensor-type.h (F32 0, F16 1, Q4_0 2, Q8_0 8, Q4_K 12, Q6_K 14, BF16 30). */
typedef struct {
  int n_rot;
  float freq_base, freq_scale;
  int neox;                  /* 0: adjacent pairs; 1: (i, i + n_rot/2) as Qwen2 / NeoX */
  const float* freq_factors; /* device pointer or NULL, n_rot / 2 */
} sovren_cuda_rope;

/* Paged KV cache: a sequence's row p lives in block block_table[p / block_rows] at row p % block_rows; each block is
   [block_rows][n_head_kv][head_dim] floats (K and V pools separate). */
typedef struct {
  const float* k_pool;
  const float* v_pool;
  const int32_t* block_table; /* device, per sequence: max_blocks entries */
  int block_rows, max_blocks;
} sovren_cuda_paged_kv;

typedef struct {
  uint32_t abi_version; /* SOVREN_CUDA_ABI_VERSION: the addon refuses any other */
  /* Devices visible to this process (0 when no driver or no GPU: never an error). */
  int (*device_count)(void);
  /* NULL on failure with the reason in err. */
  sovren_cuda_backend* (*create)(int device, char* err, size_t err_len);
  void (*destroy)(sovren_cuda_backend*);
  /* Every call below returns 0 on success, else non-zero with the reason from last_error. */
  const char* (*last_error)(const sovren_cuda_backend*);
  int (*device_bytes)(sovren_cuda_backend*, uint64_t* used, uint64_t* total);
  int (*alloc)(sovren_cuda_backend*, size_t bytes, void** device_ptr);
  int (*free)(sovren_cuda_backend*, void* device_ptr);
  int (*upload)(sovren_cuda_backend*, void* device_dst, const void* host_src, size_t bytes);
  int (*download)(sovren_cuda_backend*, void* host_dst, const void* device_src, size_t bytes); /* synchronises */
  /* Ops on device pointers, queued on the backend's stream (same contracts as backend/backend.h). */
  int (*get_rows)(sovren_cuda_backend*, uint32_t type, const void* w, int64_t cols, const int32_t* ids, int n,
                  float* out);
  int (*rms_norm)(sovren_cuda_backend*, const float* x, const float* weight, int n_tokens, int dim, float eps,
                  float* out);
  /* bias (NULL allowed) is added before rotation: Qwen2's QKV bias. */
  int (*rope)(sovren_cuda_backend*, float* x, const float* bias, const int32_t* pos, int n_tokens, int n_heads,
              int head_dim, const sovren_cuda_rope* p);
  int (*silu_mul)(sovren_cuda_backend*, float* gate, const float* up, size_t n);
  int (*add)(sovren_cuda_backend*, float* x, const float* y, size_t n);
  /* y[t * rows + r] = dot(row r, x + t * cols): matvec kernels for n_tokens <= 4, tiled GEMM beyond. */
  int (*matmul)(sovren_cuda_backend*, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
                int n_tokens, float* y);
  /* Decode attention, one query row per sequence: q/out [n_seq][n_head][head_dim], seq s attends to rows 0..n_kv[s]-1
     of its paged cache (block_table + s * max_blocks). n_kv is a device array; max_n_kv (host) bounds it and sets
     the split-K fan-out. */
  int (*attention_decode)(sovren_cuda_backend*, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* n_kv,
                          int max_n_kv, int n_seq, int n_head, int n_head_kv, int head_dim, float scale, float* out);
  int (*synchronize)(sovren_cuda_backend*);

  /* Version 2: what the model's device forward pass (model/device-forward.h) needs beside the kernels above. */
  /* x[t][i] += bias[i]: the V bias of Qwen2 (Q and K take theirs through rope). */
  int (*add_bias)(sovren_cuda_backend*, float* x, const float* bias, int n_tokens, int dim);
  /* Device-to-device copy on the stream: KV blocks for fork / copy_prefix, gathering the rows that want logits. */
  int (*copy)(sovren_cuda_backend*, void* device_dst, const void* device_src, size_t bytes);
  /* Writes row r of k and v ([n_rows][kv_dim], kv_dim = n_head_kv * head_dim) into the paged pools at position pos[r]
     of sequence row_seq[r], whose block table is block_tables + row_seq[r] * max_blocks; its blocks must be there. */
  int (*kv_store)(sovren_cuda_backend*, float* k_pool, float* v_pool, const int32_t* block_tables, int block_rows,
                  int max_blocks, const float* k, const float* v, const int32_t* row_seq, const int32_t* pos,
                  int n_rows, int kv_dim);
  /* Causal attention for prompt rows of one or more sequences: row r of q ([n_rows][n_head][head_dim]) attends to
     rows 0..pos[r] of sequence row_seq[r]'s paged cache (kv->block_table + row_seq[r] * kv->max_blocks). */
  int (*attention_prefill)(sovren_cuda_backend*, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* row_seq,
                           const int32_t* pos, int n_rows, int n_head, int n_head_kv, int head_dim, float scale,
                           float* out);
  /* Page-locked host memory to stage weight uploads in: copies from it run at full bus speed but asynchronously, so
     the caller synchronizes before writing to it again. Freed with host_free (which synchronizes first). */
  int (*host_alloc)(sovren_cuda_backend*, size_t bytes, void** host_ptr);
  int (*host_free)(sovren_cuda_backend*, void* host_ptr);
} sovren_cuda_api;

typedef const sovren_cuda_api* (*sovren_cuda_plugin_api_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
