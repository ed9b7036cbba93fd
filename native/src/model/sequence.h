// One conversation's state: its own f32 KV cache ([layer][ctx][n_head_kv * head_dim] on the CPU backend; a block
// table into the model's paged device pool on a device backend), its position, the logits of its last forward pass, and
// the sampler + streaming detokenizer that batched steps (model/batch-step.h) use for it. A Sequence must not outlive
// the LlamaModel it was created for.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace sovren {

class LlamaModel;

class Sequence {
 public:
  // n_ctx <= 0: the model's context size; otherwise a smaller cache (1..model context), so a service can size its
  // KV-cache pool per sequence. Throws EngineError when n_ctx exceeds the model's context.
  explicit Sequence(const LlamaModel& model, int n_ctx = 0);
  ~Sequence();  // gives its device KV blocks back to the pool
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  const LlamaModel& model() const { return *model_; }
  int position() const { return n_past_.load(std::memory_order_relaxed); }  // tokens already in the cache
  int context_size() const { return n_ctx_; }
  // Forget everything (the cache is overwritten by the next pass; device KV blocks go back to the pool), restart the
  // sampler's history and random sequence, and drop any incomplete UTF-8 the detokenizer holds: the sequence is ready
  // for a new request.
  void reset();

  // Tokens that belong to the sequence but are not in the cache yet: the last token of a generation, whose pass
  // was skipped because nothing needed its logits. The next generation evaluates them before its prompt.
  std::vector<int32_t>& pending() { return pending_; }
  const std::vector<int32_t>& pending() const { return pending_; }

  // Logits of the last forward pass that asked for them ([n_vocab], or [n][n_vocab] with all logits).
  std::span<const float> logits() const { return {logits_.data(), logits_.size()}; }

  // The sampler of batched steps: default SamplingParams until set_sampling() replaces it (which also restarts
  // its history and random generator). Throws EngineError naming a bad parameter, leaving the old one in place.
  void set_sampling(const SamplingParams& params);
  Sampler& sampler();
  StreamingDetokenizer& detokenizer();

  // A new sequence holding the same tokens: the cache rows in use are copied (not the unused rest of the
  // context), with the pending tokens, the last logits, a copy of the sampler (history, random state, grammar
  // state) and of the detokenizer. The copy is independent: changing or destroying either leaves the other alone.
  // n sequences that share a prompt thus cost one prompt pass plus n - 1 copies of its cache rows.
  std::unique_ptr<Sequence> fork() const;

  // Makes this sequence hold the first n tokens of `source` (a sequence of the same model, possibly with another
  // context size): their cache rows are copied, the position becomes n, pending tokens and the last logits are
  // dropped. The sampler and detokenizer are left as they are. A prefix cache restores a request's cached prompt
  // prefix this way instead of evaluating it again. Throws EngineError, changing nothing, when the models differ,
  // n is negative, beyond source's position or beyond this sequence's context.
  void copy_prefix_from(const Sequence& source, int n);

  // Bytes of the KV cache this sequence holds (K and V, every layer): its whole context on the CPU, the device
  // blocks its rows occupy on a device backend.
  size_t cache_bytes() const;

  // Cache rows of one layer: [n_ctx][kv_dim] (CPU backend only: nullptr on a device backend).
  float* k_layer(int layer) { return k_cache_.get() + static_cast<size_t>(layer) * layer_stride_; }
  float* v_layer(int layer) { return v_cache_.get() + static_cast<size_t>(layer) * layer_stride_; }

 private:
  friend class LlamaModel;
  const LlamaModel* model_;
  int n_ctx_;
  std::atomic<int> n_past_{0};  // atomic so another thread may read the position during a generation
  size_t layer_stride_;
  // Left uninitialised on purpose: pages are touched only as the context fills, and a row is always written
  // before any pass reads it.
  std::unique_ptr<float[]> k_cache_;
  std::unique_ptr<float[]> v_cache_;
  std::vector<int32_t> kv_blocks_;  // device backend: this sequence's blocks of the model's KV pool, in row order
  std::vector<float> logits_;
  std::vector<int32_t> pending_;
  std::optional<Sampler> sampler_;
  std::optional<StreamingDetokenizer> detokenizer_;
};

}  // namespace sovren
