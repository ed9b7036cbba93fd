// A BERT-family encoder loaded from GGUF (llama.cpp's tensor names and `<arch>.*` keys): `bert` (learned position
// embeddings, biased Q/K/V/O, GELU feed-forward) and `nomic-bert` (rotary positions, fused QKV, SwiGLU
// feed-forward). Bidirectional attention over each input, post-LayerNorm blocks, then mean / CLS / last pooling.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf-reader.h"
#include "model/embedding-pooling.h"
#include "model/gguf-vocab.h"
#include "model/gguf-weights.h"
#include "model/llama-hparams.h"
#include "model/llama-model.h"
#include "tokenizer/tokenizer.h"

namespace sovren {

struct BertHparams : TransformerDims {
  std::string arch;  // "bert" or "nomic-bert"
  uint32_t head_dim = 0;
  uint32_t n_vocab = 0;        // rows of token_embd.weight
  uint32_t n_token_types = 0;  // rows of token_types.weight (0: none)
  float norm_eps = 1e-12f;     // attention.layer_norm_epsilon
  float rope_freq_base = 10000.0f;
  bool rope = false;                // nomic-bert: NeoX rotary over the whole head instead of position embeddings
  bool gated_ffn = false;           // nomic-bert: silu(gate) * up; bert: gelu(up)
  Pooling pooling = Pooling::Mean;  // pooling_type (absent or 0 "none": mean)
};

// True for the architectures BertModel implements.
bool is_bert_architecture(std::string_view arch);
BertHparams read_bert_hparams(const GgufFile& gguf);

struct BertLayer {
  WeightView wqkv;                          // fused [3 * n_embd] x n_embd (nomic-bert) ...
  WeightView wq, wk, wv;                    // ... or separate (bert)
  std::vector<float> bqkv, bq, bk, bv, bo;  // biases; empty when the file has none
  WeightView wo;
  std::vector<float> attn_out_norm, attn_out_norm_b;
  WeightView w_up, w_gate, w_down;  // w_gate only with gated_ffn
  std::vector<float> b_up, b_down;
  std::vector<float> out_norm, out_norm_b;
};

// Thread safety: embed() may be called from several threads; passes are serialised by a mutex (shared backend
// threads and scratch buffers).
class BertModel {
 public:
  static std::unique_ptr<BertModel> load(const std::string& path, const ModelLoadOptions& options);
  BertModel(std::unique_ptr<GgufFile> gguf, const ModelLoadOptions& options);
  BertModel(const BertModel&) = delete;
  BertModel& operator=(const BertModel&) = delete;

  const BertHparams& hparams() const { return hp_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& gguf() const { return *gguf_; }
  int context_size() const { return n_ctx_; }
  int n_vocab() const { return static_cast<int>(hp_.n_vocab); }
  const std::string& name() const { return name_; }
  const SpecialTokens& special_tokens() const { return special_tokens_; }
  const std::string& tokenizer_model() const { return tokenizer_model_; }
  const TensorTotals& tensor_totals() const { return totals_; }
  std::string backend_name() const { return backend_->name(); }
  int n_threads() const { return backend_->n_threads(); }

  // One embedding of n_embd floats per input. Inputs run together in passes of at most kMaxBatch rows (a longer
  // input runs alone); each attends to its own tokens only. Throws naming the input for an empty one, one longer
  // than the context, or an id outside the vocabulary.
  std::vector<std::vector<float>> embed(std::span<const std::vector<int32_t>> inputs, Pooling pooling, bool normalize);

  static constexpr int kMaxBatch = 512;

 private:
  void load_weights();
  // Final hidden states of the inputs into x_ (rows in input order); spans_ says which rows are whose.
  void encode(std::span<const std::vector<int32_t>> inputs);

  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Tokenizer> tokenizer_;
  BertHparams hp_;
  int n_ctx_ = 0;
  std::string name_;
  SpecialTokens special_tokens_;
  std::string tokenizer_model_;
  TensorTotals totals_;

  WeightView token_embd_, position_embd_, token_types_;
  std::vector<float> embd_norm_, embd_norm_b_;
  std::vector<BertLayer> layers_;

  std::mutex mutex_;
  std::vector<float> x_, xb_, qkv_, q_, k_, v_, attn_out_, gate_, up_, row_;
  std::vector<int32_t> tokens_, pos_, attn_pos_;
  std::vector<AttentionSpan> spans_;
};

}  // namespace sovren
