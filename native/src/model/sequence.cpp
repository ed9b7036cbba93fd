// Allocates a sequence's KV cache and keeps its per-request sampling state.
#include "model/sequence.h"

#include <new>
#include <string>

#include "core/error.h"
#include "model/llama-model.h"

namespace sovren {
namespace {

int checked_context(const LlamaModel& model, int n_ctx) {
  if (n_ctx <= 0) return model.context_size();
  if (n_ctx > model.context_size()) {
    throw EngineError("sequence context size " + std::to_string(n_ctx) + " exceeds the model's context size " +
                      std::to_string(model.context_size()));
  }
  return n_ctx;
}

}  // namespace

Sequence::Sequence(const LlamaModel& model, int n_ctx)
    : model_(&model),
      n_ctx_(checked_context(model, n_ctx)),
      layer_stride_(static_cast<size_t>(n_ctx_) * model.hparams().kv_dim()) {
  const size_t n = layer_stride_ * model.hparams().n_layer;
  try {
    k_cache_.reset(new float[n]);
    v_cache_.reset(new float[n]);
  } catch (const std::bad_alloc&) {
    throw EngineError("out of memory allocating a KV cache of " + std::to_string(2 * n * sizeof(float) >> 20) +
                      " MiB (context size " + std::to_string(n_ctx_) + ")");
  }
}

void Sequence::reset() {
  n_past_ = 0;
  pending_.clear();
  if (sampler_) sampler_->reset();
  detokenizer_.reset();
}

void Sequence::set_sampling(const SamplingParams& params) { sampler_.emplace(Sampler(params, model_->n_vocab())); }

Sampler& Sequence::sampler() {
  if (!sampler_) sampler_.emplace(SamplingParams{}, model_->n_vocab());
  return *sampler_;
}

StreamingDetokenizer& Sequence::detokenizer() {
  if (!detokenizer_) detokenizer_.emplace(model_->tokenizer());
  return *detokenizer_;
}

}  // namespace sovren
