// Reads llama-family hyper-parameters from GGUF metadata and checks them for consistency.
#include "model/llama-hparams.h"

#include <cmath>
#include <limits>

namespace sovren {
namespace {

struct ArchTraits {
  std::string_view name;
  bool rope_neox;
  bool qkv_bias;
};

// The llama-family architectures whose tensors and forward pass are the llama ones, up to these two switches.
constexpr ArchTraits kArchitectures[] = {
    {"llama", false, false},
    {"qwen2", true, true},
};

}  // namespace

uint32_t read_u32(const GgufFile& gguf, const std::string& key) {
  const uint64_t value = gguf.get_uint(key);
  if (value > std::numeric_limits<uint32_t>::max()) {
    throw EngineError("GGUF key '" + key + "' = " + std::to_string(value) + " is out of range");
  }
  return static_cast<uint32_t>(value);
}

uint32_t read_u32_or(const GgufFile& gguf, const std::string& key, uint32_t fallback) {
  return gguf.has(key) ? read_u32(gguf, key) : fallback;
}

uint32_t require_positive(const std::string& key, uint32_t value) {
  if (value == 0) throw EngineError("GGUF key '" + key + "' must be positive, got 0");
  return value;
}

TransformerDims read_transformer_dims(const GgufFile& gguf, const std::string& arch) {
  auto positive = [&](const char* name) {
    const std::string key = arch + "." + name;
    return require_positive(key, read_u32(gguf, key));
  };
  return TransformerDims{positive("context_length"), positive("embedding_length"), positive("block_count"),
                         positive("feed_forward_length"), positive("attention.head_count")};
}

LlamaHparams read_llama_hparams(const GgufFile& gguf) {
  LlamaHparams hp;
  hp.arch = std::string(gguf.get_string("general.architecture"));
  const ArchTraits* traits = nullptr;
  for (const auto& a : kArchitectures) {
    if (a.name == hp.arch) traits = &a;
  }
  if (traits == nullptr) {
    throw EngineError("unsupported model architecture '" + hp.arch + "' (supported: llama, qwen2)");
  }
  hp.rope_neox = traits->rope_neox;
  hp.qkv_bias = traits->qkv_bias;

  const std::string p = hp.arch + ".";
  static_cast<TransformerDims&>(hp) = read_transformer_dims(gguf, hp.arch);
  hp.n_head_kv =
      require_positive(p + "attention.head_count_kv", read_u32_or(gguf, p + "attention.head_count_kv", hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0) {
    throw EngineError("attention.head_count " + std::to_string(hp.n_head) +
                      " is not a multiple of attention.head_count_kv " + std::to_string(hp.n_head_kv));
  }
  if (!gguf.has(p + "attention.key_length") && hp.n_embd % hp.n_head != 0) {
    throw EngineError("embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
                      std::to_string(hp.n_head));
  }
  hp.head_dim = require_positive(p + "attention.key_length",
                                 read_u32_or(gguf, p + "attention.key_length", hp.n_embd / hp.n_head));
  const uint32_t value_length = read_u32_or(gguf, p + "attention.value_length", hp.head_dim);
  if (value_length != hp.head_dim) {
    throw EngineError("attention.value_length " + std::to_string(value_length) + " differs from key_length " +
                      std::to_string(hp.head_dim) + " (not supported)");
  }
  hp.n_rot = read_u32_or(gguf, p + "rope.dimension_count", hp.head_dim);
  if (hp.n_rot == 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0) {
    throw EngineError("rope.dimension_count " + std::to_string(hp.n_rot) + " must be even and in 1.." +
                      std::to_string(hp.head_dim));
  }

  hp.rms_eps = static_cast<float>(gguf.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(hp.rms_eps > 0.0f) || !std::isfinite(hp.rms_eps)) {
    throw EngineError("attention.layer_norm_rms_epsilon must be a positive finite number");
  }
  hp.rope_freq_base = static_cast<float>(gguf.get_float_or(p + "rope.freq_base", 10000.0));
  if (!(hp.rope_freq_base > 0.0f) || !std::isfinite(hp.rope_freq_base)) {
    throw EngineError("rope.freq_base must be a positive finite number");
  }

  // Linear scaling divides positions by the factor; other schemes change the frequencies themselves.
  const std::string scaling = std::string(gguf.get_string_or(p + "rope.scaling.type", "none"));
  double factor = 1.0;
  if (scaling == "linear") {
    factor = gguf.get_float_or(p + "rope.scaling.factor", 1.0);
  } else if (scaling == "none") {
    factor = gguf.get_float_or(p + "rope.scale_linear", 1.0);  // older files state linear scaling this way
  } else {
    throw EngineError("rope scaling type '" + scaling + "' is not supported (supported: none, linear)");
  }
  if (factor == 0.0) factor = 1.0;  // converters write 0 for "unset"
  if (!(factor > 0.0) || !std::isfinite(factor)) {
    throw EngineError("rope.scaling.factor must be a positive finite number");
  }
  hp.rope_freq_scale = static_cast<float>(1.0 / factor);
  return hp;
}

}  // namespace sovren
