// A llama-family model loaded from GGUF: hyper-parameters, validated weights (copied into huge-page memory or
// used in place from the mapping), the tokenizer, and the batched forward pass over a Sequence's KV cache.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cpu/huge-page-buffer.h"
#include "gguf/gguf-reader.h"
#include "grammar/token-trie.h"
#include "model/device-forward.h"
#include "model/embedding-pooling.h"
#include "model/gguf-vocab.h"
#include "model/gguf-weights.h"
#include "model/llama-hparams.h"
#include "tokenizer/tokenizer.h"

namespace sovren {

class Sequence;

// Where the weight matrices are read from during inference.
enum class WeightStorage {
  // Copied once at load into anonymous huge-page memory; the file mapping's data pages are then dropped. On VMs
  // with shadow/nested paging, streaming 4 KiB file-backed pages is several times slower (docs/performance.md).
  Copy,
  // Read in place from the file mapping (prefaulted at load); no extra memory, slower on such VMs.
  Mmap,
};

struct ModelLoadOptions {
  int n_threads = 0;  // <= 0: one per usable CPU (affinity mask, cgroup CPU quota)
  int n_ctx = 0;      // context size of each sequence; <= 0: min(training context, kDefaultContextSize)
  WeightStorage weights = WeightStorage::Copy;
  std::string backend;  // "cpu" | "cuda" | "auto"; empty: SOVREN_ENGINE_BACKEND (backend/cuda-plugin-loader.h)
  // Device backends: tokens the paged KV cache holds for all sequences together; <= 0: room for
  // DeviceForward::kDefaultKvContexts full contexts, at most 90 % of the device memory the weights leave.
  int64_t kv_cache_tokens = 0;
  // Test hook, set only by C++ tests (the binding never does, SOVREN_ENGINE_BACKEND cannot): run the device forward
  // pass on the host emulation of the CUDA plugin (backend/host-device-api.h), with this memory cap (0: none).
  bool host_device = false;
  uint64_t host_device_memory_cap = 0;
  static constexpr int kDefaultContextSize = 4096;
};

struct LayerWeights {
  std::vector<float> attn_norm;  // [n_embd]
  WeightView wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;  // empty unless the architecture has QKV bias
  std::vector<float> ffn_norm;    // [n_embd]
  WeightView w_gate, w_up, w_down;
};

// Loading checks every tensor's presence, type and shape against the hyper-parameters; errors name the tensor.
// Thread safety: forward() and forward_batch() may be called from several threads with different Sequences; the
// passes are serialised by a mutex on the model because they share the backend's thread pool and scratch buffers.
class LlamaModel {
 public:
  static std::unique_ptr<LlamaModel> load(const std::string& path, const ModelLoadOptions& options);
  LlamaModel(std::unique_ptr<GgufFile> gguf, const ModelLoadOptions& options);
  ~LlamaModel();
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const LlamaHparams& hparams() const { return hp_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& gguf() const { return *gguf_; }
  int context_size() const { return n_ctx_; }
  int n_vocab() const { return static_cast<int>(hp_.n_vocab); }
  const std::string& name() const { return name_; }
  const std::string& chat_template() const { return chat_template_; }
  const SpecialTokens& special_tokens() const { return special_tokens_; }
  const std::string& tokenizer_model() const { return tokenizer_model_; }
  uint64_t parameter_count() const { return parameter_count_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  const std::map<std::string, TensorTypeCount>& tensor_types() const { return tensor_types_; }
  // "cpu-<isa>", "cuda", or "host-device" (the test emulation).
  std::string backend_name() const { return device_ ? device_->name() : backend_->name(); }
  // Bytes this model holds on its device (weights, KV pool, scratch); 0 on the CPU.
  uint64_t device_bytes() const { return device_ ? device_->device_bytes() : 0; }
  // The device forward pass, or nullptr on the CPU backend.
  DeviceForward* device() const { return device_.get(); }
  int n_threads() const { return backend_->n_threads(); }
  WeightStorage weight_storage() const { return weight_storage_; }
  // Bytes of anonymous memory holding the weight copy (0 in Mmap mode).
  size_t weight_copy_bytes() const { return weight_copy_.size(); }
  // The byte trie of every token's piece, for grammar-constrained sampling: built on first use (thread-safe),
  // then shared by every sequence.
  std::shared_ptr<const grammar::TokenTrie> token_trie() const;

  // Runs tokens [0, n) at the sequence's current position in one batched pass (longer inputs are split into
  // micro-batches of kMaxBatch tokens to bound scratch memory), appends their keys/values to its cache and
  // advances it. Returns the logits of the last token ([n_vocab]) or of every token ([n][n_vocab]); the span
  // stays valid until the sequence's next forward. Throws when the context would overflow or an id is invalid.
  std::span<const float> forward(Sequence& seq, const int32_t* tokens, int n, bool want_all_logits);

  // One forward pass over rows of several sequences (continuous batching): every matrix multiply runs once over
  // all rows, so the weights are read once per micro-batch whatever the number of sequences. Each item's tokens
  // go at its sequence's position, into its own cache, attending causally to its own cache only. Items with
  // want_logits get the logits of their last token in seq->logits(). Everything is validated first (errors name
  // "batch entry i"); a failed validation changes no sequence. More than kMaxBatch rows run as several
  // micro-batches (an item may be split between two).
  struct BatchItem {
    Sequence* seq = nullptr;
    const int32_t* tokens = nullptr;
    int n = 0;
    bool want_logits = false;
  };
  void forward_batch(std::span<const BatchItem> items);
  // The checks forward_batch starts with, for callers that must validate before changing anything themselves.
  void validate_batch(std::span<const BatchItem> items) const;

  // One embedding per input: the hidden states after the final norm, pooled (mean, or last token: the one that
  // has seen the whole input) and optionally L2-normalised. Each input runs in a temporary sequence of its own
  // length, packed into micro-batches like forward_batch. Throws naming the input for an empty one, one longer
  // than the context, or an invalid id.
  std::vector<std::vector<float>> embed(std::span<const std::vector<int32_t>> inputs, Pooling pooling, bool normalize);

  static constexpr int kMaxBatch = 512;

 private:
  friend class Sequence;
  // A contiguous run of one item's tokens inside a micro-batch. Logits go to `logits` (row-major, n_vocab per
  // row) for every row (all_logits) or for the last row only; nullptr: none. `hidden`: where every row's final-norm
  // hidden state goes (n_embd per row); nullptr: nowhere.
  struct Segment {
    Sequence* seq;
    const int32_t* tokens;
    int n;
    float* logits;
    bool all_logits;
    float* hidden = nullptr;
  };
  // forward_batch after validation, under the lock: items packed into micro-batches of at most kMaxBatch rows.
  // hidden: nullptr, or per item where its rows' hidden states go.
  void run_packed(std::span<const BatchItem> items, float* const* hidden);
  void load_weights();
  void place_weights(WeightStorage storage, int n_threads);
  void check_tokens(const Sequence& seq, const int32_t* tokens, int n, const std::string& context) const;
  void run_segments(std::span<const Segment> segments);
  void run_device_segments(std::span<const Segment> segments);

  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Tokenizer> tokenizer_;
  LlamaHparams hp_;
  int n_ctx_ = 0;
  std::string name_;
  std::string chat_template_;
  SpecialTokens special_tokens_;
  std::string tokenizer_model_;
  uint64_t parameter_count_ = 0;
  uint64_t weight_bytes_ = 0;
  std::map<std::string, TensorTypeCount> tensor_types_;
  WeightStorage weight_storage_ = WeightStorage::Mmap;
  HugePageBuffer weight_copy_;  // the tensor data section in Copy mode; every WeightView points into it

  WeightView token_embd_;
  WeightView output_;  // token_embd_ when the output matrix is tied to the embedding
  std::vector<float> output_norm_;
  std::vector<float> rope_freq_factors_;  // empty unless rope_freqs.weight is present
  std::vector<LayerWeights> layers_;
  std::unique_ptr<DeviceForward> device_;  // the forward pass runs here when set; backend_ then only loads vectors

  mutable std::mutex trie_mutex_;
  mutable std::shared_ptr<const grammar::TokenTrie> token_trie_;

  std::mutex forward_mutex_;
  // Scratch activations, reused across passes (guarded by forward_mutex_).
  std::vector<float> x_, xb_, q_, k_, v_, attn_out_, gate_, up_, logits_rows_;
  std::vector<int32_t> tokens_, pos_;
  std::vector<AttentionSpan> spans_;
  std::vector<Segment> segments_;
  std::vector<DeviceForward::Segment> device_segments_;
};

}  // namespace sovren
