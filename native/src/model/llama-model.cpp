// Loads and validates a llama-family GGUF model and runs its forward pass: per layer, RMS norm -> Q/K/V
// projections (keys/values written straight into the sequence's cache) -> rope -> causal GQA attention ->
// output projection + residual -> RMS norm -> SwiGLU feed-forward + residual; then the final norm and logits.
#include "model/llama-model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "cpu/thread-pool.h"
#include "model/gguf-vocab.h"
#include "model/sequence.h"

namespace sovren {
namespace {

std::string shape_string(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    if (d > 0) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

const GgufTensorInfo& require_tensor(const GgufFile& gguf, const std::string& name) {
  const GgufTensorInfo* t = gguf.find_tensor(name);
  if (t == nullptr) throw EngineError("model file is missing tensor '" + name + "'");
  return *t;
}

// A matrix of `rows` rows by `cols` columns (GGUF ne = [cols, rows]) in any supported type.
WeightView matrix_view(const GgufTensorInfo& t, int64_t cols, int64_t rows) {
  if (t.n_dims != 2 || t.ne[0] != cols || t.ne[1] != rows) {
    throw EngineError("tensor '" + t.name + "' has shape " + shape_string(t) + ", expected [" +
                      std::to_string(cols) + ", " + std::to_string(rows) + "]");
  }
  const auto row_bytes = tensor_row_bytes(t.type, static_cast<uint64_t>(cols));
  if (!row_bytes) {
    throw EngineError("tensor '" + t.name + "' of type " + std::string(tensor_type_name(t.type)) +
                      " has rows of " + std::to_string(cols) + " elements, not a whole number of " +
                      std::to_string(tensor_type_traits(t.type).block_elements) + "-element blocks");
  }
  if (*row_bytes * static_cast<uint64_t>(rows) != t.nbytes || t.data == nullptr) {
    throw EngineError("tensor '" + t.name + "' has " + std::to_string(t.nbytes) + " bytes of data, expected " +
                      std::to_string(*row_bytes * static_cast<uint64_t>(rows)));
  }
  return WeightView{t.type, rows, cols, t.data};
}

}  // namespace

std::unique_ptr<LlamaModel> LlamaModel::load(const std::string& path, const ModelLoadOptions& options) {
  return std::make_unique<LlamaModel>(GgufFile::open(path), options);
}

LlamaModel::LlamaModel(std::unique_ptr<GgufFile> gguf, const ModelLoadOptions& options) : gguf_(std::move(gguf)) {
  if (!gguf_) throw EngineError("no GGUF file given to the model loader");
  hp_ = read_llama_hparams(*gguf_);
  backend_ = make_cpu_backend(options.n_threads);
  load_weights();
  place_weights(options.weights, backend_->n_threads());

  VocabSpec spec = read_vocab_spec(*gguf_);
  tokenizer_model_ = spec.model;
  special_tokens_ = SpecialTokens{spec.bos_id, spec.eos_id, spec.unk_id, spec.pad_id, spec.eot_id,
                                  spec.eog_ids,  spec.add_bos, spec.add_eos};
  tokenizer_ = std::make_unique<Tokenizer>(std::move(spec));
  if (static_cast<uint32_t>(tokenizer_->n_vocab()) != hp_.n_vocab) {
    throw EngineError("tokenizer has " + std::to_string(tokenizer_->n_vocab()) +
                      " tokens but token_embd.weight has " + std::to_string(hp_.n_vocab) + " rows");
  }

  const int64_t requested = options.n_ctx > 0 ? options.n_ctx
                                              : std::min<int64_t>(hp_.n_ctx_train, ModelLoadOptions::kDefaultContextSize);
  if (requested > static_cast<int64_t>(hp_.n_ctx_train)) {
    throw EngineError("context size " + std::to_string(requested) + " exceeds the model's training context " +
                      std::to_string(hp_.n_ctx_train));
  }
  n_ctx_ = static_cast<int>(requested);
  name_ = std::string(gguf_->get_string_or("general.name", ""));
  chat_template_ = std::string(gguf_->get_string_or("tokenizer.chat_template", ""));
}

LlamaModel::~LlamaModel() = default;

void LlamaModel::load_weights() {
  const GgufFile& g = *gguf_;
  // Small vectors (norms, biases, rope factors) are converted to f32 once; matrices stay in the mapping.
  auto vector_f32 = [&](const std::string& name, int64_t n) {
    const GgufTensorInfo& t = require_tensor(g, name);
    if (t.n_dims != 1 || t.ne[0] != n) {
      throw EngineError("tensor '" + name + "' has shape " + shape_string(t) + ", expected [" + std::to_string(n) +
                        "]");
    }
    if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16) {
      throw EngineError("tensor '" + name + "' has type " + std::string(tensor_type_name(t.type)) +
                        "; vectors must be F32, F16 or BF16");
    }
    if (t.data == nullptr || t.nbytes != *tensor_row_bytes(t.type, static_cast<uint64_t>(n))) {
      throw EngineError("tensor '" + name + "' has " + std::to_string(t.nbytes) + " bytes of data for " +
                        std::to_string(n) + " elements");
    }
    const WeightView row{t.type, 1, n, t.data};
    std::vector<float> out(static_cast<size_t>(n));
    const int32_t row0 = 0;
    backend_->get_rows(row, &row0, 1, out.data());
    return out;
  };

  const GgufTensorInfo& embd = require_tensor(g, "token_embd.weight");
  if (embd.n_dims != 2 || embd.ne[0] != hp_.n_embd || embd.ne[1] <= 0 || embd.ne[1] > INT32_MAX) {
    throw EngineError("tensor 'token_embd.weight' has shape " + shape_string(embd) + ", expected [" +
                      std::to_string(hp_.n_embd) + ", n_vocab]");
  }
  hp_.n_vocab = static_cast<uint32_t>(embd.ne[1]);
  const int64_t n_embd = hp_.n_embd, n_vocab = hp_.n_vocab, n_ff = hp_.n_ff;
  const int64_t q_dim = hp_.q_dim(), kv_dim = hp_.kv_dim();
  token_embd_ = matrix_view(embd, n_embd, n_vocab);
  const GgufTensorInfo* out = g.find_tensor("output.weight");
  output_ = out != nullptr ? matrix_view(*out, n_embd, n_vocab) : token_embd_;  // absent: tied embeddings
  output_norm_ = vector_f32("output_norm.weight", n_embd);
  if (g.find_tensor("rope_freqs.weight") != nullptr) {
    rope_freq_factors_ = vector_f32("rope_freqs.weight", hp_.n_rot / 2);
  }

  layers_.resize(hp_.n_layer);
  for (uint32_t i = 0; i < hp_.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    LayerWeights& L = layers_[i];
    L.attn_norm = vector_f32(b + "attn_norm.weight", n_embd);
    L.wq = matrix_view(require_tensor(g, b + "attn_q.weight"), n_embd, q_dim);
    L.wk = matrix_view(require_tensor(g, b + "attn_k.weight"), n_embd, kv_dim);
    L.wv = matrix_view(require_tensor(g, b + "attn_v.weight"), n_embd, kv_dim);
    L.wo = matrix_view(require_tensor(g, b + "attn_output.weight"), q_dim, n_embd);
    if (hp_.qkv_bias) {
      L.bq = vector_f32(b + "attn_q.bias", q_dim);
      L.bk = vector_f32(b + "attn_k.bias", kv_dim);
      L.bv = vector_f32(b + "attn_v.bias", kv_dim);
    }
    L.ffn_norm = vector_f32(b + "ffn_norm.weight", n_embd);
    L.w_gate = matrix_view(require_tensor(g, b + "ffn_gate.weight"), n_embd, n_ff);
    L.w_up = matrix_view(require_tensor(g, b + "ffn_up.weight"), n_embd, n_ff);
    L.w_down = matrix_view(require_tensor(g, b + "ffn_down.weight"), n_ff, n_embd);
  }

  for (const GgufTensorInfo& t : g.tensors()) {
    TensorTypeCount& c = tensor_types_[std::string(tensor_type_name(t.type))];
    c.tensors += 1;
    c.elements += static_cast<uint64_t>(t.n_elements());
    parameter_count_ += static_cast<uint64_t>(t.n_elements());
    weight_bytes_ += t.nbytes;
  }
}

// Copy mode: one parallel copy of the whole tensor data section into huge-page memory, every WeightView rebased
// onto it, then the mapping's data pages dropped (the metadata pages stay: the tokenizer and name views use
// them). Mmap mode: the data section is prefaulted so the first tokens do not pay for page faults.
void LlamaModel::place_weights(WeightStorage storage, int n_threads) {
  weight_storage_ = storage;
  const auto& tensors = gguf_->tensors();
  if (tensors.empty()) return;
  const uint64_t section_bytes = gguf_->file_size() - gguf_->data_offset();
  const uint8_t* section = tensors.front().data - tensors.front().offset;
  for (const GgufTensorInfo& t : tensors) {
    if (t.data != section + t.offset || t.offset > section_bytes || t.nbytes > section_bytes - t.offset) {
      throw EngineError("tensor '" + t.name + "' lies outside the tensor data section");
    }
  }
  // Page-aligned sub-range of the section, for madvise (the mapping itself starts on a page boundary).
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t advise_begin = (reinterpret_cast<uintptr_t>(section) + page - 1) / page * page;
  const uintptr_t advise_end = reinterpret_cast<uintptr_t>(section) + section_bytes;
  void* const advise_addr = reinterpret_cast<void*>(advise_begin);
  const size_t advise_len = advise_end > advise_begin ? advise_end - advise_begin : 0;

  if (storage == WeightStorage::Mmap) {
    if (advise_len > 0) {
      // Best effort: both only affect speed.
      (void)madvise(advise_addr, advise_len, MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
      (void)madvise(advise_addr, advise_len, MADV_POPULATE_READ);
#endif
    }
    return;
  }

  {
    ThreadPool pool(n_threads);
    weight_copy_ = HugePageBuffer::copy_of(section, static_cast<size_t>(section_bytes), &pool);
  }
  const uint8_t* copy = weight_copy_.data();
  auto rebase = [&](WeightView& w) {
    if (w.data != nullptr) w.data = copy + (w.data - section);
  };
  rebase(token_embd_);
  rebase(output_);
  for (LayerWeights& L : layers_) {
    for (WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) rebase(*w);
  }
  // Drops this process's page-table entries and private pages for the data section; the file stays mapped, so
  // any later read through gguf().tensors() still works (it faults the page back in from the page cache).
  if (advise_len > 0) (void)madvise(advise_addr, advise_len, MADV_DONTNEED);
}

std::span<const float> LlamaModel::forward(Sequence& seq, const int32_t* tokens, int n, bool want_all_logits) {
  if (seq.model_ != this) throw EngineError("sequence belongs to a different model");
  if (n <= 0 || tokens == nullptr) throw EngineError("forward pass needs at least one token");
  const int n_past = seq.position();
  if (static_cast<int64_t>(n_past) + n > n_ctx_) {
    if (n_past == 0) {
      throw EngineError("prompt of " + std::to_string(n) + " tokens exceeds context size " + std::to_string(n_ctx_));
    }
    throw EngineError("context size " + std::to_string(n_ctx_) + " exceeded: " + std::to_string(n_past) +
                      " tokens in the sequence + " + std::to_string(n) + " new");
  }
  for (int i = 0; i < n; ++i) {
    if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= hp_.n_vocab) {
      throw EngineError("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                        " is out of range (vocabulary has " + std::to_string(hp_.n_vocab) + " tokens)");
    }
  }

  std::lock_guard<std::mutex> lock(forward_mutex_);
  const size_t n_vocab = hp_.n_vocab;
  seq.logits_.resize(want_all_logits ? static_cast<size_t>(n) * n_vocab : n_vocab);
  for (int start = 0; start < n; start += kMaxBatch) {
    const int m = std::min(kMaxBatch, n - start);
    const bool last = start + m == n;
    float* out = want_all_logits ? seq.logits_.data() + static_cast<size_t>(start) * n_vocab
                                 : (last ? seq.logits_.data() : nullptr);
    forward_batch(seq, tokens + start, m, want_all_logits, out);
  }
  return {seq.logits_.data(), seq.logits_.size()};
}

void LlamaModel::forward_batch(Sequence& seq, const int32_t* tokens, int n, bool want_all_logits,
                               float* logits_out) {
  Backend& be = *backend_;
  const int n_embd = static_cast<int>(hp_.n_embd);
  const int q_dim = static_cast<int>(hp_.q_dim());
  const int kv_dim = static_cast<int>(hp_.kv_dim());
  const int n_ff = static_cast<int>(hp_.n_ff);
  const size_t un = static_cast<size_t>(n);
  const int n_past = seq.position();

  auto fit = [](std::vector<float>& v, size_t size) {
    if (v.size() < size) v.resize(size);
  };
  fit(x_, un * n_embd);
  fit(xb_, un * std::max(n_embd, q_dim));
  fit(q_, un * q_dim);
  fit(attn_out_, un * q_dim);
  fit(gate_, un * n_ff);
  fit(up_, un * n_ff);
  pos_.resize(un);
  for (int t = 0; t < n; ++t) pos_[t] = n_past + t;

  const RopeParams rope{static_cast<int>(hp_.n_rot), hp_.rope_freq_base, hp_.rope_freq_scale, hp_.rope_neox,
                        rope_freq_factors_.empty() ? nullptr : rope_freq_factors_.data()};
  const AttentionParams attn{static_cast<int>(hp_.n_head), static_cast<int>(hp_.n_head_kv),
                             static_cast<int>(hp_.head_dim), 1.0f / std::sqrt(static_cast<float>(hp_.head_dim))};

  float* x = x_.data();
  float* xb = xb_.data();
  be.get_rows(token_embd_, tokens, n, x);

  for (uint32_t l = 0; l < hp_.n_layer; ++l) {
    const LayerWeights& L = layers_[l];
    float* k_new = seq.k_layer(static_cast<int>(l)) + static_cast<size_t>(n_past) * kv_dim;
    float* v_new = seq.v_layer(static_cast<int>(l)) + static_cast<size_t>(n_past) * kv_dim;

    be.rms_norm(x, L.attn_norm.data(), n, n_embd, hp_.rms_eps, xb);
    be.matmul(L.wq, xb, n, q_.data());
    be.matmul(L.wk, xb, n, k_new);
    be.matmul(L.wv, xb, n, v_new);
    if (hp_.qkv_bias) {
      be.add_bias(q_.data(), L.bq.data(), n, q_dim);
      be.add_bias(k_new, L.bk.data(), n, kv_dim);
      be.add_bias(v_new, L.bv.data(), n, kv_dim);
    }
    be.rope(q_.data(), pos_.data(), n, static_cast<int>(hp_.n_head), static_cast<int>(hp_.head_dim), rope);
    be.rope(k_new, pos_.data(), n, static_cast<int>(hp_.n_head_kv), static_cast<int>(hp_.head_dim), rope);
    be.attention(q_.data(), seq.k_layer(static_cast<int>(l)), seq.v_layer(static_cast<int>(l)), n_past + n,
                 pos_.data(), n, attn, attn_out_.data());
    be.matmul(L.wo, attn_out_.data(), n, xb);
    be.add(x, xb, un * n_embd);

    be.rms_norm(x, L.ffn_norm.data(), n, n_embd, hp_.rms_eps, xb);
    be.matmul(L.w_gate, xb, n, gate_.data());
    be.matmul(L.w_up, xb, n, up_.data());
    be.silu_mul(gate_.data(), up_.data(), un * n_ff);
    be.matmul(L.w_down, gate_.data(), n, xb);
    be.add(x, xb, un * n_embd);
  }
  seq.n_past_.store(n_past + n, std::memory_order_relaxed);

  if (logits_out == nullptr) return;
  if (want_all_logits) {
    be.rms_norm(x, output_norm_.data(), n, n_embd, hp_.rms_eps, xb);
    be.matmul(output_, xb, n, logits_out);
  } else {
    const float* last = x + static_cast<size_t>(n - 1) * n_embd;
    be.rms_norm(last, output_norm_.data(), 1, n_embd, hp_.rms_eps, xb);
    be.matmul(output_, xb, 1, logits_out);
  }
}

}  // namespace sovren
