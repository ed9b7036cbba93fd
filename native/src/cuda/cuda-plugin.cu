// libsovren-cuda.so: the C ABI of cuda-plugin-abi.h over the kernels. One backend = one device and one stream; every
// entry point catches CUDA errors into a message (never an exception across the ABI) and returns non-zero.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "cuda/cuda-kernels.h"
#include "cuda/cuda-plugin-abi.h"

struct sovren_cuda_backend {
  int device = 0;
  cudaStream_t stream = nullptr;
  void* scratch = nullptr;  // grown on demand: quantised activations, GEMM staging, split-K partials
  size_t scratch_bytes = 0;
  std::string error;
};

namespace {

using sovren::cuda::kMaxMatvecTokens;

int fail(sovren_cuda_backend* b, const char* what, cudaError_t e) {
  b->error = std::string(what) + ": " + cudaGetErrorString(e);
  return 1;
}

#define SOVREN_CUDA_TRY(b, what, call)                                                                  \
  do {                                                                                                  \
    if (cudaSetDevice((b)->device) != cudaSuccess) return fail(b, "cudaSetDevice", cudaGetLastError()); \
    const cudaError_t sovren_err_ = (call);                                                             \
    if (sovren_err_ != cudaSuccess) return fail(b, what, sovren_err_);                                  \
  } while (0)

cudaError_t ensure_scratch(sovren_cuda_backend* b, size_t bytes) {
  if (bytes <= b->scratch_bytes) return cudaSuccess;
  if (b->scratch != nullptr) {
    if (const cudaError_t e = cudaStreamSynchronize(b->stream); e != cudaSuccess) return e;
    cudaFree(b->scratch);
    b->scratch = nullptr, b->scratch_bytes = 0;
  }
  if (const cudaError_t e = cudaMalloc(&b->scratch, bytes); e != cudaSuccess) return e;
  b->scratch_bytes = bytes;
  return cudaSuccess;
}

int device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;  // no driver / no device: 0, not an error
}

sovren_cuda_backend* create(int device, char* err, size_t err_len) {
  auto report = [&](const char* what, cudaError_t e) -> sovren_cuda_backend* {
    if (err != nullptr && err_len > 0) std::snprintf(err, err_len, "%s: %s", what, cudaGetErrorString(e));
    return nullptr;
  };
  if (const cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return report("cudaSetDevice", e);
  auto* b = new (std::nothrow) sovren_cuda_backend;
  if (b == nullptr) return report("create", cudaErrorMemoryAllocation);
  b->device = device;
  if (const cudaError_t e = cudaStreamCreateWithFlags(&b->stream, cudaStreamNonBlocking); e != cudaSuccess) {
    delete b;
    return report("cudaStreamCreate", e);
  }
  return b;
}

void destroy(sovren_cuda_backend* b) {
  if (b == nullptr) return;
  cudaSetDevice(b->device);
  if (b->stream != nullptr) cudaStreamSynchronize(b->stream);
  if (b->scratch != nullptr) cudaFree(b->scratch);
  if (b->stream != nullptr) cudaStreamDestroy(b->stream);
  delete b;
}

const char* last_error(const sovren_cuda_backend* b) { return b->error.c_str(); }

int device_bytes(sovren_cuda_backend* b, uint64_t* used, uint64_t* total) {
  size_t free_b = 0, total_b = 0;
  SOVREN_CUDA_TRY(b, "cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b));
  *used = total_b - free_b, *total = total_b;
  return 0;
}

int alloc(sovren_cuda_backend* b, size_t bytes, void** ptr) {
  SOVREN_CUDA_TRY(b, "cudaMalloc (device out of memory?)", cudaMalloc(ptr, bytes));
  return 0;
}
int free_ptr(sovren_cuda_backend* b, void* ptr) {
  SOVREN_CUDA_TRY(b, "cudaStreamSynchronize", cudaStreamSynchronize(b->stream));
  SOVREN_CUDA_TRY(b, "cudaFree", cudaFree(ptr));
  return 0;
}
int upload(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  SOVREN_CUDA_TRY(b, "upload", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, b->stream));
  return 0;
}
int download(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  SOVREN_CUDA_TRY(b, "download", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, b->stream));
  SOVREN_CUDA_TRY(b, "download sync", cudaStreamSynchronize(b->stream));
  return 0;
}

int get_rows(sovren_cuda_backend* b, uint32_t type, const void* w, int64_t cols, const int32_t* ids, int n,
             float* out) {
  SOVREN_CUDA_TRY(b, "get_rows", sovren::cuda::launch_get_rows(b->stream, type, w, cols, ids, n, out));
  return 0;
}
int rms_norm(sovren_cuda_backend* b, const float* x, const float* weight, int n_tokens, int dim, float eps,
             float* out) {
  SOVREN_CUDA_TRY(b, "rms_norm", sovren::cuda::launch_rms_norm(b->stream, x, weight, n_tokens, dim, eps, out));
  return 0;
}
int rope(sovren_cuda_backend* b, float* x, const float* bias, const int32_t* pos, int n_tokens, int n_heads,
         int head_dim, const sovren_cuda_rope* p) {
  SOVREN_CUDA_TRY(b, "rope", sovren::cuda::launch_rope(b->stream, x, bias, pos, n_tokens, n_heads, head_dim, *p));
  return 0;
}
int silu_mul(sovren_cuda_backend* b, float* gate, const float* up, size_t n) {
  SOVREN_CUDA_TRY(b, "silu_mul", sovren::cuda::launch_silu_mul(b->stream, gate, up, n));
  return 0;
}
int add(sovren_cuda_backend* b, float* x, const float* y, size_t n) {
  SOVREN_CUDA_TRY(b, "add", sovren::cuda::launch_add(b->stream, x, y, n));
  return 0;
}

int matmul(sovren_cuda_backend* b, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
           int n_tokens, float* y) {
  if (n_tokens <= kMaxMatvecTokens) {
    SOVREN_CUDA_TRY(b, "matvec scratch", ensure_scratch(b, sovren::cuda::matvec_scratch_bytes(type, cols, n_tokens)));
    SOVREN_CUDA_TRY(b, "matvec",
                    sovren::cuda::launch_matvec(b->stream, type, w, rows, cols, x, n_tokens, y, b->scratch));
    return 0;
  }
  SOVREN_CUDA_TRY(b, "gemm scratch", ensure_scratch(b, sovren::cuda::gemm_scratch_bytes(type, rows, cols, n_tokens)));
  SOVREN_CUDA_TRY(b, "gemm", sovren::cuda::launch_gemm(b->stream, type, w, rows, cols, x, n_tokens, y, b->scratch));
  return 0;
}

int attention_decode(sovren_cuda_backend* b, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* n_kv,
                     int max_n_kv, int n_seq, int n_head, int n_head_kv, int head_dim, float scale, float* out) {
  SOVREN_CUDA_TRY(b, "attention scratch",
                  ensure_scratch(b, sovren::cuda::attention_scratch_bytes(max_n_kv, n_seq, n_head, head_dim)));
  SOVREN_CUDA_TRY(b, "attention_decode",
                  sovren::cuda::launch_attention_decode(b->stream, q, *kv, n_kv, max_n_kv, n_seq, n_head, n_head_kv,
                                                        head_dim, scale, out, b->scratch));
  return 0;
}

int synchronize(sovren_cuda_backend* b) {
  SOVREN_CUDA_TRY(b, "synchronize", cudaStreamSynchronize(b->stream));
  return 0;
}

int add_bias(sovren_cuda_backend* b, float* x, const float* bias, int n_tokens, int dim) {
  SOVREN_CUDA_TRY(b, "add_bias", sovren::cuda::launch_add_bias(b->stream, x, bias, n_tokens, dim));
  return 0;
}

int copy(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  SOVREN_CUDA_TRY(b, "copy", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, b->stream));
  return 0;
}

int kv_store(sovren_cuda_backend* b, float* k_pool, float* v_pool, const int32_t* block_tables, int block_rows,
             int max_blocks, const float* k, const float* v, const int32_t* row_seq, const int32_t* pos, int n_rows,
             int kv_dim) {
  SOVREN_CUDA_TRY(b, "kv_store",
                  sovren::cuda::launch_kv_store(b->stream, k_pool, v_pool, block_tables, block_rows, max_blocks, k, v,
                                                row_seq, pos, n_rows, kv_dim));
  return 0;
}

int attention_prefill(sovren_cuda_backend* b, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* row_seq,
                      const int32_t* pos, int n_rows, int n_head, int n_head_kv, int head_dim, float scale,
                      float* out) {
  SOVREN_CUDA_TRY(b, "attention_prefill",
                  sovren::cuda::launch_attention_prefill(b->stream, q, *kv, row_seq, pos, n_rows, n_head, n_head_kv,
                                                         head_dim, scale, out));
  return 0;
}

int host_alloc(sovren_cuda_backend* b, size_t bytes, void** ptr) {
  SOVREN_CUDA_TRY(b, "cudaHostAlloc", cudaHostAlloc(ptr, bytes, cudaHostAllocDefault));
  return 0;
}
int host_free(sovren_cuda_backend* b, void* ptr) {
  SOVREN_CUDA_TRY(b, "cudaStreamSynchronize", cudaStreamSynchronize(b->stream));
  SOVREN_CUDA_TRY(b, "cudaFreeHost", cudaFreeHost(ptr));
  return 0;
}

const sovren_cuda_api kApi = {
    SOVREN_CUDA_ABI_VERSION,
    device_count,
    create,
    destroy,
    last_error,
    device_bytes,
    alloc,
    free_ptr,
    upload,
    download,
    get_rows,
    rms_norm,
    rope,
    silu_mul,
    add,
    matmul,
    attention_decode,
    synchronize,
    add_bias,
    copy,
    kv_store,
    attention_prefill,
    host_alloc,
    host_free,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const sovren_cuda_api* sovren_cuda_plugin_api(void) { return &kApi; }
