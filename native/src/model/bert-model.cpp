// Loads and validates a BERT-family GGUF encoder and runs it: token (+ position, + token type 0) embeddings ->
// LayerNorm -> per layer: Q/K/V (rotary for nomic-bert) -> bidirectional attention within each input -> output
// projection + residual -> LayerNorm -> GELU or SwiGLU feed-forward + residual -> LayerNorm; then pooling.
#include "model/bert-model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cuda-plugin-loader.h"
#include "model/llama-hparams.h"

namespace sovren {
namespace {

struct BertArch {
  std::string_view name;
  bool rope;       // rotary positions instead of position_embd
  bool gated_ffn;  // ffn_gate + SiLU instead of GELU
};

constexpr BertArch kBertArchitectures[] = {
    {"bert", false, false},
    {"nomic-bert", true, true},
};

const BertArch* find_arch(std::string_view name) {
  for (const BertArch& a : kBertArchitectures) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

float positive_float(const GgufFile& gguf, const std::string& key, double fallback) {
  const double value = gguf.get_float_or(key, fallback);
  if (!(value > 0.0) || !std::isfinite(value)) throw EngineError("GGUF key '" + key + "' must be a positive number");
  return static_cast<float>(value);
}

}  // namespace

bool is_bert_architecture(std::string_view arch) { return find_arch(arch) != nullptr; }

BertHparams read_bert_hparams(const GgufFile& gguf) {
  BertHparams hp;
  hp.arch = std::string(gguf.get_string("general.architecture"));
  const BertArch* arch = find_arch(hp.arch);
  if (arch == nullptr) {
    throw EngineError("unsupported encoder architecture '" + hp.arch + "' (supported: bert, nomic-bert)");
  }
  hp.rope = arch->rope;
  hp.gated_ffn = arch->gated_ffn;
  const std::string p = hp.arch + ".";
  static_cast<TransformerDims&>(hp) = read_transformer_dims(gguf, hp.arch);
  if (hp.n_embd % hp.n_head != 0) {
    throw EngineError("embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
                      std::to_string(hp.n_head));
  }
  const uint32_t n_head_kv = read_u32_or(gguf, p + "attention.head_count_kv", hp.n_head);
  if (n_head_kv != hp.n_head) {
    throw EngineError("attention.head_count_kv " + std::to_string(n_head_kv) + " differs from head_count " +
                      std::to_string(hp.n_head) + " (an encoder has as many key/value heads as query heads)");
  }
  hp.head_dim = hp.n_embd / hp.n_head;
  if (hp.rope && hp.head_dim % 2 != 0) {
    throw EngineError("head size " + std::to_string(hp.head_dim) + " must be even for rotary positions");
  }
  if (gguf.get_bool_or(p + "attention.causal", false)) {
    throw EngineError("GGUF key '" + p + "attention.causal' is true, but " + hp.arch + " encoders are bidirectional");
  }
  hp.norm_eps = positive_float(gguf, p + "attention.layer_norm_epsilon", 1e-12);
  hp.rope_freq_base = positive_float(gguf, p + "rope.freq_base", 10000.0);
  const uint32_t pooling = read_u32_or(gguf, p + "pooling_type", 0);
  switch (pooling) {
    case 0:  // "none": per-token output in llama.cpp; we always pool, by the mean unless asked otherwise
    case 1:
      hp.pooling = Pooling::Mean;
      break;
    case 2:
      hp.pooling = Pooling::Cls;
      break;
    case 3:
      hp.pooling = Pooling::Last;
      break;
    default:
      throw EngineError("GGUF key '" + p + "pooling_type' = " + std::to_string(pooling) +
                        " is not supported (1 mean, 2 cls, 3 last)");
  }
  return hp;
}

std::unique_ptr<BertModel> BertModel::load(const std::string& path, const ModelLoadOptions& options) {
  return std::make_unique<BertModel>(GgufFile::open(path), options);
}

BertModel::BertModel(std::unique_ptr<GgufFile> gguf, const ModelLoadOptions& options) : gguf_(std::move(gguf)) {
  if (!gguf_) throw EngineError("no GGUF file given to the model loader");
  hp_ = read_bert_hparams(*gguf_);
  backend_ = make_selected_backend(options.n_threads, options.backend);
  load_weights();

  ModelVocab vocab = load_model_vocab(*gguf_, hp_.n_vocab);
  tokenizer_ = std::move(vocab.tokenizer);
  special_tokens_ = std::move(vocab.special);
  tokenizer_model_ = std::move(vocab.model);
  if (options.n_ctx > 0 && static_cast<uint32_t>(options.n_ctx) > hp_.n_ctx_train) {
    throw EngineError("context size " + std::to_string(options.n_ctx) + " exceeds the model's training context " +
                      std::to_string(hp_.n_ctx_train));
  }
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : static_cast<int>(hp_.n_ctx_train);
  name_ = std::string(gguf_->get_string_or("general.name", ""));
  totals_ = sovren::tensor_totals(*gguf_);
}

void BertModel::load_weights() {
  const GgufFile& g = *gguf_;
  Backend& be = *backend_;
  const int64_t n_embd = hp_.n_embd, n_ff = hp_.n_ff;

  const GgufTensorInfo& embd = require_tensor(g, "token_embd.weight");
  if (embd.n_dims != 2 || embd.ne[0] != n_embd || embd.ne[1] <= 0 || embd.ne[1] > INT32_MAX) {
    throw EngineError("tensor 'token_embd.weight' has shape " + shape_string(embd) + ", expected [" +
                      std::to_string(n_embd) + ", n_vocab]");
  }
  hp_.n_vocab = static_cast<uint32_t>(embd.ne[1]);
  token_embd_ = matrix_view(embd, n_embd, hp_.n_vocab);
  if (!hp_.rope) {
    position_embd_ = matrix_view(require_tensor(g, "position_embd.weight"), n_embd, hp_.n_ctx_train);
  }
  if (const GgufTensorInfo* types = g.find_tensor("token_types.weight")) {
    if (types->n_dims != 2 || types->ne[1] < 1 || types->ne[1] > 65536) {
      throw EngineError("tensor 'token_types.weight' has shape " + shape_string(*types) + ", expected [" +
                        std::to_string(n_embd) + ", n_token_types]");
    }
    hp_.n_token_types = static_cast<uint32_t>(types->ne[1]);
    token_types_ = matrix_view(*types, n_embd, hp_.n_token_types);
  }
  embd_norm_ = vector_f32(g, be, "token_embd_norm.weight", n_embd);
  embd_norm_b_ = vector_f32(g, be, "token_embd_norm.bias", n_embd);

  const bool bert = !hp_.gated_ffn;  // plain BERT has every bias; nomic-bert has none of the dense ones
  auto bias = [&](const std::string& name, int64_t n) {
    return bert ? vector_f32(g, be, name, n) : optional_vector_f32(g, be, name, n);
  };
  layers_.resize(hp_.n_layer);
  for (uint32_t i = 0; i < hp_.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    BertLayer& L = layers_[i];
    if (g.find_tensor(b + "attn_qkv.weight") != nullptr) {
      L.wqkv = matrix_view(require_tensor(g, b + "attn_qkv.weight"), n_embd, 3 * n_embd);
      L.bqkv = optional_vector_f32(g, be, b + "attn_qkv.bias", 3 * n_embd);
    } else {
      L.wq = matrix_view(require_tensor(g, b + "attn_q.weight"), n_embd, n_embd);
      L.wk = matrix_view(require_tensor(g, b + "attn_k.weight"), n_embd, n_embd);
      L.wv = matrix_view(require_tensor(g, b + "attn_v.weight"), n_embd, n_embd);
      L.bq = bias(b + "attn_q.bias", n_embd);
      L.bk = bias(b + "attn_k.bias", n_embd);
      L.bv = bias(b + "attn_v.bias", n_embd);
    }
    L.wo = matrix_view(require_tensor(g, b + "attn_output.weight"), n_embd, n_embd);
    L.bo = bias(b + "attn_output.bias", n_embd);
    L.attn_out_norm = vector_f32(g, be, b + "attn_output_norm.weight", n_embd);
    L.attn_out_norm_b = vector_f32(g, be, b + "attn_output_norm.bias", n_embd);
    L.w_up = matrix_view(require_tensor(g, b + "ffn_up.weight"), n_embd, n_ff);
    if (hp_.gated_ffn) L.w_gate = matrix_view(require_tensor(g, b + "ffn_gate.weight"), n_embd, n_ff);
    L.w_down = matrix_view(require_tensor(g, b + "ffn_down.weight"), n_ff, n_embd);
    L.b_up = bias(b + "ffn_up.bias", n_ff);
    L.b_down = bias(b + "ffn_down.bias", n_embd);
    L.out_norm = vector_f32(g, be, b + "layer_output_norm.weight", n_embd);
    L.out_norm_b = vector_f32(g, be, b + "layer_output_norm.bias", n_embd);
  }
}

std::vector<std::vector<float>> BertModel::embed(std::span<const std::vector<int32_t>> inputs, Pooling pooling,
                                                 bool normalize) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t>& in = inputs[i];
    const std::string context = "input " + std::to_string(i) + ": ";
    if (in.empty()) throw EngineError(context + "needs at least one token");
    if (in.size() > static_cast<size_t>(n_ctx_)) {
      throw EngineError(context + std::to_string(in.size()) + " tokens exceed the context size " +
                        std::to_string(n_ctx_));
    }
    for (size_t t = 0; t < in.size(); ++t) {
      if (in[t] < 0 || static_cast<uint32_t>(in[t]) >= hp_.n_vocab) {
        throw EngineError(context + "token id " + std::to_string(in[t]) + " at index " + std::to_string(t) +
                          " is out of range (vocabulary has " + std::to_string(hp_.n_vocab) + " tokens)");
      }
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const int n_embd = static_cast<int>(hp_.n_embd);
  std::vector<std::vector<float>> out;
  out.reserve(inputs.size());
  for (size_t first = 0; first < inputs.size();) {
    // As many whole inputs as fit in kMaxBatch rows (at least one).
    size_t count = 0, rows = 0;
    while (first + count < inputs.size() &&
           (count == 0 || rows + inputs[first + count].size() <= static_cast<size_t>(kMaxBatch))) {
      rows += inputs[first + count].size();
      ++count;
    }
    encode(inputs.subspan(first, count));
    for (size_t i = 0; i < count; ++i) {
      const AttentionSpan& span = spans_[i];
      out.push_back(pool_embedding(x_.data() + static_cast<size_t>(span.first_row) * n_embd, span.n_rows, n_embd,
                                   pooling, normalize));
    }
    first += count;
  }
  return out;
}

void BertModel::encode(std::span<const std::vector<int32_t>> inputs) {
  Backend& be = *backend_;
  const int n_embd = static_cast<int>(hp_.n_embd);
  const int n_ff = static_cast<int>(hp_.n_ff);
  const float eps = hp_.norm_eps;

  size_t total = 0;
  for (const auto& in : inputs) total += in.size();
  const int n = static_cast<int>(total);
  const size_t rows_embd = total * static_cast<size_t>(n_embd);
  auto fit = [](std::vector<float>& v, size_t size) {
    if (v.size() < size) v.resize(size);
  };
  fit(x_, rows_embd);
  fit(xb_, rows_embd);
  fit(q_, rows_embd);
  fit(k_, rows_embd);
  fit(v_, rows_embd);
  fit(attn_out_, rows_embd);
  fit(up_, total * n_ff);
  if (hp_.gated_ffn) fit(gate_, total * n_ff);
  tokens_.resize(total);
  pos_.resize(total);
  attn_pos_.resize(total);
  spans_.resize(inputs.size());
  for (size_t s = 0, row = 0; s < inputs.size(); ++s) {
    const int len = static_cast<int>(inputs[s].size());
    for (int t = 0; t < len; ++t) {
      tokens_[row + t] = inputs[s][t];
      pos_[row + t] = t;
      attn_pos_[row + t] = len - 1;  // every row sees its whole input
    }
    spans_[s] = AttentionSpan{k_.data() + row * n_embd, v_.data() + row * n_embd, len, static_cast<int>(row), len};
    row += static_cast<size_t>(len);
  }

  float* x = x_.data();
  float* xb = xb_.data();
  be.get_rows(token_embd_, tokens_.data(), n, x);
  if (!hp_.rope) {
    be.get_rows(position_embd_, pos_.data(), n, xb);
    be.add(x, xb, rows_embd);
  }
  if (hp_.n_token_types > 0) {
    // Every token is of type 0 (a single segment).
    fit(row_, static_cast<size_t>(n_embd));
    const int32_t type0 = 0;
    be.get_rows(token_types_, &type0, 1, row_.data());
    be.add_bias(x, row_.data(), n, n_embd);
  }
  be.layer_norm(x, embd_norm_.data(), embd_norm_b_.data(), n, n_embd, eps, x);

  const RopeParams rope{static_cast<int>(hp_.head_dim), hp_.rope_freq_base, 1.0f, true, nullptr};
  const AttentionParams attn{static_cast<int>(hp_.n_head), static_cast<int>(hp_.n_head), static_cast<int>(hp_.head_dim),
                             1.0f / std::sqrt(static_cast<float>(hp_.head_dim))};
  auto bias = [&](float* y, const std::vector<float>& b, int dim) {
    if (!b.empty()) be.add_bias(y, b.data(), n, dim);
  };

  for (const BertLayer& L : layers_) {
    if (L.wqkv.data != nullptr) {
      fit(qkv_, total * 3 * n_embd);
      be.matmul(L.wqkv, x, n, qkv_.data());
      bias(qkv_.data(), L.bqkv, 3 * n_embd);
      for (size_t r = 0; r < total; ++r) {
        const float* src = qkv_.data() + r * 3 * n_embd;
        std::copy_n(src, n_embd, q_.data() + r * n_embd);
        std::copy_n(src + n_embd, n_embd, k_.data() + r * n_embd);
        std::copy_n(src + 2 * n_embd, n_embd, v_.data() + r * n_embd);
      }
    } else {
      be.matmul(L.wq, x, n, q_.data());
      be.matmul(L.wk, x, n, k_.data());
      be.matmul(L.wv, x, n, v_.data());
      bias(q_.data(), L.bq, n_embd);
      bias(k_.data(), L.bk, n_embd);
      bias(v_.data(), L.bv, n_embd);
    }
    if (hp_.rope) {
      be.rope(q_.data(), pos_.data(), n, static_cast<int>(hp_.n_head), static_cast<int>(hp_.head_dim), rope);
      be.rope(k_.data(), pos_.data(), n, static_cast<int>(hp_.n_head), static_cast<int>(hp_.head_dim), rope);
    }
    be.attention_batch(q_.data(), spans_.data(), static_cast<int>(spans_.size()), attn_pos_.data(), attn,
                       attn_out_.data());
    be.matmul(L.wo, attn_out_.data(), n, xb);
    bias(xb, L.bo, n_embd);
    be.add(x, xb, rows_embd);
    be.layer_norm(x, L.attn_out_norm.data(), L.attn_out_norm_b.data(), n, n_embd, eps, x);

    be.matmul(L.w_up, x, n, up_.data());
    bias(up_.data(), L.b_up, n_ff);
    float* act = up_.data();
    if (hp_.gated_ffn) {
      be.matmul(L.w_gate, x, n, gate_.data());
      be.silu_mul(gate_.data(), up_.data(), total * n_ff);
      act = gate_.data();
    } else {
      be.gelu(up_.data(), total * n_ff);
    }
    be.matmul(L.w_down, act, n, xb);
    bias(xb, L.b_down, n_embd);
    be.add(x, xb, rows_embd);
    be.layer_norm(x, L.out_norm.data(), L.out_norm_b.data(), n, n_embd, eps, x);
  }
}

}  // namespace sovren
