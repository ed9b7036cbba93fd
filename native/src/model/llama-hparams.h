// Hyper-parameters of a llama-family model, read from the `<arch>.*` GGUF keys, and the per-architecture
// differences (rope layout, QKV bias) that the forward pass needs; the sizes every transformer states (shared with
// the BERT-family encoders) and the checked GGUF integer readers.
#pragma once
#include <cstdint>
#include <string>

#include "gguf/gguf-reader.h"

namespace sovren {

// The sizes every transformer file states as `<arch>.` context_length, embedding_length, block_count,
// feed_forward_length and attention.head_count; each must be positive (errors name the key).
struct TransformerDims {
  uint32_t n_ctx_train = 0;  // context length the model was trained with
  uint32_t n_embd = 0, n_layer = 0, n_ff = 0, n_head = 0;
};
TransformerDims read_transformer_dims(const GgufFile& gguf, const std::string& arch);

struct LlamaHparams : TransformerDims {
  std::string arch;  // general.architecture ("llama", "qwen2", ...)
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;  // attention.key_length, else n_embd / n_head
  uint32_t n_rot = 0;     // rope.dimension_count, else head_dim
  uint32_t n_vocab = 0;   // rows of token_embd.weight (filled in by the model loader)
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
  bool rope_neox = false;        // rotate (x[i], x[i + n_rot/2]) instead of adjacent pairs
  bool qkv_bias = false;         // attn_q/k/v.bias are required (Qwen2)

  uint32_t q_dim() const { return n_head * head_dim; }
  uint32_t kv_dim() const { return n_head_kv * head_dim; }
};

// A uint32 GGUF value (error naming the key when missing or out of range); the fallback when the key is absent;
// `value` unless it is 0 (error naming the key).
uint32_t read_u32(const GgufFile& gguf, const std::string& key);
uint32_t read_u32_or(const GgufFile& gguf, const std::string& key, uint32_t fallback);
uint32_t require_positive(const std::string& key, uint32_t value);

// Reads and checks the hyper-parameters. Throws EngineError naming the key for a missing or inconsistent value
// and for an architecture the engine does not implement.
LlamaHparams read_llama_hparams(const GgufFile& gguf);

}  // namespace sovren
