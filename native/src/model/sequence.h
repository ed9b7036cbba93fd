// One conversation's state: its own f32 KV cache ([layer][ctx][n_head_kv * head_dim]), its position, and the
// logits of its last forward pass. A Sequence must not outlive the LlamaModel it was created for.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace sovren {

class LlamaModel;

class Sequence {
 public:
  explicit Sequence(const LlamaModel& model);
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  const LlamaModel& model() const { return *model_; }
  int position() const { return n_past_.load(std::memory_order_relaxed); }  // tokens already in the cache
  int context_size() const { return n_ctx_; }
  // Forget everything; the cache is overwritten by the next pass.
  void reset() {
    n_past_ = 0;
    pending_.clear();
  }

  // Tokens that belong to the sequence but are not in the cache yet: the last token of a generation, whose pass
  // was skipped because nothing needed its logits. The next generation evaluates them before its prompt.
  std::vector<int32_t>& pending() { return pending_; }
  const std::vector<int32_t>& pending() const { return pending_; }

  // Cache rows of one layer: [n_ctx][kv_dim].
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
  std::vector<float> logits_;
  std::vector<int32_t> pending_;
};

}  // namespace sovren
