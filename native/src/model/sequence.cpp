// Allocates a sequence's KV cache for its model's context size.
#include "model/sequence.h"

#include <new>
#include <string>

#include "core/error.h"
#include "model/llama-model.h"

namespace sovren {

Sequence::Sequence(const LlamaModel& model)
    : model_(&model),
      n_ctx_(model.context_size()),
      layer_stride_(static_cast<size_t>(model.context_size()) * model.hparams().kv_dim()) {
  const size_t n = layer_stride_ * model.hparams().n_layer;
  try {
    k_cache_.reset(new float[n]);
    v_cache_.reset(new float[n]);
  } catch (const std::bad_alloc&) {
    throw EngineError("out of memory allocating a KV cache of " + std::to_string(2 * n * sizeof(float) >> 20) +
                      " MiB (context size " + std::to_string(n_ctx_) + ")");
  }
}

}  // namespace sovren
