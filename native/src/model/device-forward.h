// The llama forward pass on a device behind the CUDA plugin ABI (libsovren-cuda.so, or its host emulation in tests):
// weights uploaded once, a paged KV pool shared by every sequence (fixed-size blocks, a free list, one block table per
// sequence grown as it advances), device scratch activations; only token ids, positions, block tables and the
// wanted logits / hidden states cross to and from the host. Design notes: docs/engine.md (CUDA backend).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cuda/cuda-plugin-abi.h"
#include "model/llama-hparams.h"

namespace sovren {

struct LayerWeights;

// One device: the ABI table, its backend handle (destroyed with this), what keeps the table's library loaded, and
// the bytes allocated through it.
class DeviceContext {
 public:
  DeviceContext(const sovren_cuda_api& api, sovren_cuda_backend* handle, std::shared_ptr<const void> keep_alive,
                std::string name);
  // GPU 0 of libsovren-cuda.so (CUDA_VISIBLE_DEVICES picks which); throws EngineError with the reason.
  static std::unique_ptr<DeviceContext> open_cuda();
  // The host emulation (backend/host-device-api.h), for tests: memory_cap 0 is none.
  static std::unique_ptr<DeviceContext> open_host(int n_threads, uint64_t memory_cap);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  const sovren_cuda_api& api() const { return api_; }
  sovren_cuda_backend* handle() const { return handle_; }
  const std::string& name() const { return name_; }
  uint64_t allocated() const { return allocated_.load(std::memory_order_relaxed); }
  // Throws EngineError "<what>: <the device's reason>" when rc is non-zero. With SOVREN_DEVICE_SYNC=1 (read at
  // open) it also waits for the op to finish, so an asynchronous fault (a bad address in a kernel) is reported under
  // the op that caused it instead of a later copy; slow, for tools/gpu-check.sh and debugging.
  void check(int rc, const std::string& what) const;

 private:
  friend class DeviceBuffer;
  const sovren_cuda_api& api_;
  sovren_cuda_backend* handle_;
  std::shared_ptr<const void> keep_alive_;
  std::string name_;
  bool sync_each_op_;
  std::atomic<uint64_t> allocated_{0};  // atomic: ModelInfo reads it while a pass may grow scratch
};

// A device allocation, freed on destruction. Allocation failure is an EngineError naming `what` and its size.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceContext& dev, size_t bytes, const std::string& what);
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void reset();

 private:
  DeviceContext* dev_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Uploads through two page-locked staging buffers: the bus runs at full speed, and copying the next chunk out of the
// file mapping overlaps the transfer of the previous one. Without page-locked memory it uploads straight from the
// source (pageable, slower), never an error.
class StagedUpload {
 public:
  static constexpr size_t kChunkBytes = size_t{16} << 20;
  explicit StagedUpload(DeviceContext& dev, size_t chunk_bytes = kChunkBytes);
  ~StagedUpload();  // waits for the last transfer, then frees the staging buffers
  StagedUpload(const StagedUpload&) = delete;
  StagedUpload& operator=(const StagedUpload&) = delete;

  bool staged() const { return staging_[0] != nullptr; }
  // Queues bytes from host_src to device_dst; host_src may be changed or unmapped as soon as it returns.
  void upload(void* device_dst, const void* host_src, size_t bytes, const std::string& what);

 private:
  DeviceContext& dev_;
  size_t chunk_bytes_;
  void* staging_[2] = {nullptr, nullptr};
  uint64_t chunks_ = 0;
};

class DeviceForward {
 public:
  static constexpr int kBlockRows = 16;          // cache rows per KV block
  static constexpr int kDefaultKvContexts = 64;  // auto pool size: this many full contexts, if the device has room

  // A contiguous run of one sequence's tokens in a pass (LlamaModel::Segment with the sequence's KV state).
  struct Segment {
    std::vector<int32_t>* blocks;  // the sequence's block table; run() appends the blocks its new rows need
    int n_past;                    // rows already in the cache
    const int32_t* tokens;
    int n;
    float* logits;  // nullptr: none; else n_vocab per row for every row (all_logits) or the last
    bool all_logits;
    float* hidden;  // nullptr, or n_embd per row: the final-norm hidden states
  };

  // Uploads every weight and allocates the KV pool (kv_tokens <= 0: kDefaultKvContexts contexts of n_ctx tokens, at
  // most 90 % of the device memory left). Throws EngineError naming the tensor or pool that does not fit.
  DeviceForward(std::unique_ptr<DeviceContext> dev, const LlamaHparams& hp, const WeightView& token_embd,
                const WeightView& output, const std::vector<float>& output_norm,
                const std::vector<float>& rope_freq_factors, std::span<const LayerWeights> layers, int64_t kv_tokens,
                int n_ctx);
  ~DeviceForward();
  DeviceForward(const DeviceForward&) = delete;
  DeviceForward& operator=(const DeviceForward&) = delete;

  const std::string& name() const { return dev_->name(); }
  uint64_t device_bytes() const { return dev_->allocated(); }  // weights, KV pool and scratch
  int total_blocks() const { return n_blocks_; }
  int free_blocks() const;
  // Bytes of K and V of one block over every layer; blocks that hold `rows` rows.
  size_t block_bytes() const;
  static int blocks_for(int rows) { return (rows + kBlockRows - 1) / kBlockRows; }

  // One micro-batch (at most LlamaModel::kMaxBatch rows, every segment validated by the caller). First grows the
  // block tables; a full pool is an EngineError that changes nothing. The caller advances the sequences.
  void run(std::span<const Segment> segments);

  // Block-table maintenance for Sequence: give every block back; keep only the blocks of the first n rows; make dst
  // hold copies of src's first n rows (EngineError, dst unchanged, when the pool has no room).
  void release(std::vector<int32_t>& blocks);
  void truncate(std::vector<int32_t>& blocks, int n_rows);
  void copy_rows(const std::vector<int32_t>& src, std::vector<int32_t>& dst, int n_rows);

 private:
  struct Matrix {
    DeviceBuffer data;
    WeightView shape;  // type, rows, cols (data pointer unused)
  };
  struct Layer {
    DeviceBuffer attn_norm, ffn_norm, bq, bk, bv;
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
  };
  Matrix upload_matrix(StagedUpload& stage, const WeightView& w, const std::string& name);
  DeviceBuffer upload_vector(const std::vector<float>& v, const std::string& name);
  void allocate_kv_pool(int64_t kv_tokens, int n_ctx);
  void ensure_rows(int n);
  void ensure_logit_rows(int m);
  void ensure_meta(size_t count);
  void grow_tables(std::span<const Segment> segments);
  void matmul(const Matrix& w, const float* x, int n, float* y);
  void copy_blocks(const std::vector<int32_t>& src, const std::vector<int32_t>& dst, size_t n_blocks);

  std::unique_ptr<DeviceContext> dev_;
  LlamaHparams hp_;
  Matrix token_embd_;
  Matrix output_;  // its buffer is empty when tied: token_embd_ then serves both
  DeviceBuffer output_norm_, rope_freq_factors_;
  std::vector<Layer> layers_;

  mutable std::mutex mutex_;      // the device stream, the free list and the scratch below
  DeviceBuffer k_pool_, v_pool_;  // [n_layer][n_blocks][kBlockRows][kv_dim] floats each
  int n_blocks_ = 0;
  std::vector<int32_t> free_;  // free block ids, taken from the back

  int rows_cap_ = 0, logit_rows_cap_ = 0;
  size_t meta_cap_ = 0;
  DeviceBuffer x_, xb_, q_, k_, v_, attn_out_, gate_, up_, hidden_, logits_, meta_;
  std::vector<int32_t> meta_host_;
};

}  // namespace sovren
