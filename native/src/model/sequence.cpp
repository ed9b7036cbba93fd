// Allocates a sequence's KV cache and keeps its per-request sampling state.
#include "model/sequence.h"

#include <algorithm>
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
      layer_stride_(model.device() != nullptr ? 0 : static_cast<size_t>(n_ctx_) * model.hparams().kv_dim()) {
  if (model.device() != nullptr) return;  // blocks come from the device pool as the sequence advances
  const size_t n = layer_stride_ * model.hparams().n_layer;
  try {
    k_cache_.reset(new float[n]);
    v_cache_.reset(new float[n]);
  } catch (const std::bad_alloc&) {
    throw EngineError("out of memory allocating a KV cache of " + std::to_string(2 * n * sizeof(float) >> 20) +
                      " MiB (context size " + std::to_string(n_ctx_) + ")");
  }
}

Sequence::~Sequence() {
  if (DeviceForward* device = model_->device()) device->release(kv_blocks_);
}

void Sequence::reset() {
  if (DeviceForward* device = model_->device()) device->release(kv_blocks_);
  n_past_ = 0;
  pending_.clear();
  if (sampler_) sampler_->reset();
  detokenizer_.reset();
}

void Sequence::set_sampling(const SamplingParams& params) {
  sampler_.emplace(Sampler(params, model_->n_vocab(), params.grammar.empty() ? nullptr : model_->token_trie()));
}

std::unique_ptr<Sequence> Sequence::fork() const {
  auto copy = std::make_unique<Sequence>(*model_, n_ctx_);
  const int used = position();
  if (DeviceForward* device = model_->device()) device->copy_rows(kv_blocks_, copy->kv_blocks_, used);
  const size_t row = model_->hparams().kv_dim();
  for (uint32_t layer = 0; layer_stride_ != 0 && layer < model_->hparams().n_layer; ++layer) {
    const size_t offset = static_cast<size_t>(layer) * layer_stride_;
    std::copy_n(k_cache_.get() + offset, static_cast<size_t>(used) * row, copy->k_cache_.get() + offset);
    std::copy_n(v_cache_.get() + offset, static_cast<size_t>(used) * row, copy->v_cache_.get() + offset);
  }
  copy->n_past_ = used;
  copy->logits_ = logits_;
  copy->pending_ = pending_;
  copy->sampler_ = sampler_;
  copy->detokenizer_ = detokenizer_;
  return copy;
}

void Sequence::copy_prefix_from(const Sequence& source, int n) {
  if (source.model_ != model_) throw EngineError("copy_prefix_from: the source sequence belongs to another model");
  if (n < 0) throw EngineError("copy_prefix_from: prefix length " + std::to_string(n) + " is negative");
  if (n > source.position()) {
    throw EngineError("copy_prefix_from: prefix length " + std::to_string(n) + " exceeds the source's position " +
                      std::to_string(source.position()));
  }
  if (n > n_ctx_) {
    throw EngineError("copy_prefix_from: prefix length " + std::to_string(n) + " exceeds this sequence's context " +
                      std::to_string(n_ctx_));
  }
  if (DeviceForward* device = model_->device()) {
    if (&source == this) {
      device->truncate(kv_blocks_, n);  // keeping a prefix of itself: the rows are in place, later blocks go back
    } else {
      device->copy_rows(source.kv_blocks_, kv_blocks_, n);
    }
    n_past_ = n;
  } else if (&source == this) {
    n_past_ = n;  // keeping a prefix of itself: the rows are already in place
  } else {
    const size_t rows = static_cast<size_t>(n) * model_->hparams().kv_dim();
    for (uint32_t layer = 0; layer < model_->hparams().n_layer; ++layer) {
      std::copy_n(source.k_cache_.get() + layer * source.layer_stride_, rows, k_cache_.get() + layer * layer_stride_);
      std::copy_n(source.v_cache_.get() + layer * source.layer_stride_, rows, v_cache_.get() + layer * layer_stride_);
    }
    n_past_ = n;
  }
  pending_.clear();
  logits_.clear();
}

size_t Sequence::cache_bytes() const {
  // From the position, not kv_blocks_: another thread may ask while a pass grows the table.
  if (const DeviceForward* device = model_->device())
    return static_cast<size_t>(DeviceForward::blocks_for(position())) * device->block_bytes();
  return 2 * layer_stride_ * model_->hparams().n_layer * sizeof(float);
}

Sampler& Sequence::sampler() {
  if (!sampler_) sampler_.emplace(SamplingParams{}, model_->n_vocab());
  return *sampler_;
}

StreamingDetokenizer& Sequence::detokenizer() {
  if (!detokenizer_) detokenizer_.emplace(model_->tokenizer());
  return *detokenizer_;
}

}  // namespace sovren
