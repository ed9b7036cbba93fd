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
#include <unordered_set>

#include "backend/cuda-plugin-loader.h"
#include "cpu/thread-pool.h"
#include "model/gguf-vocab.h"
#include "model/gguf-weights.h"
#include "model/sequence.h"

namespace sovren {
std::unique_ptr<LlamaModel> LlamaModel::load(const std::string& path, const ModelLoadOptions& options) {
  return std::make_unique<LlamaModel>(GgufFile::open(path), options);
}

LlamaModel::LlamaModel(std::unique_ptr<GgufFile> gguf, const ModelLoadOptions& options) : gguf_(std::move(gguf)) {
  if (!gguf_) throw EngineError("no GGUF file given to the model loader");
  hp_ = read_llama_hparams(*gguf_);
  std::string reason;
  const BackendKind kind =
      options.host_device ? BackendKind::Cuda : choose_backend(backend_request(options.backend), &reason);
  // On a device the CPU backend only converts the small f32 vectors at load: one thread, no idle pool.
  backend_ = make_cpu_backend(kind == BackendKind::Cuda ? 1 : options.n_threads);
  load_weights();

  ModelVocab vocab = load_model_vocab(*gguf_, hp_.n_vocab);
  tokenizer_ = std::move(vocab.tokenizer);
  special_tokens_ = std::move(vocab.special);
  tokenizer_model_ = std::move(vocab.model);

  const int64_t requested =
      options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(hp_.n_ctx_train, ModelLoadOptions::kDefaultContextSize);
  if (requested > static_cast<int64_t>(hp_.n_ctx_train)) {
    throw EngineError("context size " + std::to_string(requested) + " exceeds the model's training context " +
                      std::to_string(hp_.n_ctx_train));
  }
  n_ctx_ = static_cast<int>(requested);
  if (kind == BackendKind::Cuda) {
    // Weights go from the mapping straight to the device: no host copy, and the mapping is only read once.
    weight_storage_ = WeightStorage::Mmap;
    device_ = std::make_unique<DeviceForward>(
        options.host_device ? DeviceContext::open_host(options.n_threads, options.host_device_memory_cap)
                            : DeviceContext::open_cuda(),
        hp_, token_embd_, output_, output_norm_, rope_freq_factors_, layers_, options.kv_cache_tokens, n_ctx_);
  } else {
    place_weights(options.weights, backend_->n_threads());
  }
  name_ = std::string(gguf_->get_string_or("general.name", ""));
  chat_template_ = std::string(gguf_->get_string_or("tokenizer.chat_template", ""));
}

LlamaModel::~LlamaModel() = default;

std::shared_ptr<const grammar::TokenTrie> LlamaModel::token_trie() const {
  std::lock_guard<std::mutex> lock(trie_mutex_);
  if (!token_trie_) {
    std::vector<std::string> pieces(static_cast<size_t>(n_vocab()));
    std::vector<int32_t> eog;
    for (int32_t id = 0; id < n_vocab(); ++id) {
      pieces[static_cast<size_t>(id)] = tokenizer_->token_to_piece(id, false);
      if (tokenizer_->is_eog(id)) eog.push_back(id);
    }
    token_trie_ = std::make_shared<const grammar::TokenTrie>(pieces, std::move(eog));
  }
  return token_trie_;
}

void LlamaModel::load_weights() {
  const GgufFile& g = *gguf_;
  // Small vectors (norms, biases, rope factors) are converted to f32 once; matrices stay in the mapping.
  auto vector_f32 = [&](const std::string& name, int64_t n) { return sovren::vector_f32(g, *backend_, name, n); };

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

  TensorTotals totals = tensor_totals(g);
  parameter_count_ = totals.parameters;
  weight_bytes_ = totals.bytes;
  tensor_types_ = std::move(totals.by_type);
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

void LlamaModel::check_tokens(const Sequence& seq, const int32_t* tokens, int n, const std::string& context) const {
  if (seq.model_ != this) throw EngineError(context + "sequence belongs to a different model");
  if (n <= 0 || tokens == nullptr) throw EngineError(context + "forward pass needs at least one token");
  const int n_past = seq.position();
  const int n_ctx = seq.context_size();
  if (static_cast<int64_t>(n_past) + n > n_ctx) {
    if (n_past == 0) {
      throw EngineError(context + "prompt of " + std::to_string(n) + " tokens exceeds context size " +
                        std::to_string(n_ctx));
    }
    throw EngineError(context + "context size " + std::to_string(n_ctx) + " exceeded: " + std::to_string(n_past) +
                      " tokens in the sequence + " + std::to_string(n) + " new");
  }
  for (int i = 0; i < n; ++i) {
    if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= hp_.n_vocab) {
      throw EngineError(context + "token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                        " is out of range (vocabulary has " + std::to_string(hp_.n_vocab) + " tokens)");
    }
  }
}

std::span<const float> LlamaModel::forward(Sequence& seq, const int32_t* tokens, int n, bool want_all_logits) {
  check_tokens(seq, tokens, n, "");
  std::lock_guard<std::mutex> lock(forward_mutex_);
  const size_t n_vocab = hp_.n_vocab;
  seq.logits_.resize(want_all_logits ? static_cast<size_t>(n) * n_vocab : n_vocab);
  for (int start = 0; start < n; start += kMaxBatch) {
    const int m = std::min(kMaxBatch, n - start);
    const bool last = start + m == n;
    float* out = want_all_logits ? seq.logits_.data() + static_cast<size_t>(start) * n_vocab
                                 : (last ? seq.logits_.data() : nullptr);
    const Segment segment{&seq, tokens + start, m, out, want_all_logits};
    run_segments({&segment, 1});
  }
  return {seq.logits_.data(), seq.logits_.size()};
}

void LlamaModel::validate_batch(std::span<const BatchItem> items) const {
  std::unordered_set<const Sequence*> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string context = "batch entry " + std::to_string(i) + ": ";
    const BatchItem& item = items[i];
    if (item.seq == nullptr) throw EngineError(context + "no sequence");
    if (!seen.insert(item.seq).second) throw EngineError(context + "sequence appears more than once in the batch");
    check_tokens(*item.seq, item.tokens, item.n, context);
  }
}

void LlamaModel::forward_batch(std::span<const BatchItem> items) {
  validate_batch(items);
  std::lock_guard<std::mutex> lock(forward_mutex_);
  for (const BatchItem& item : items) {
    if (item.want_logits) item.seq->logits_.resize(hp_.n_vocab);
  }
  run_packed(items, nullptr);
}

std::vector<std::vector<float>> LlamaModel::embed(std::span<const std::vector<int32_t>> inputs, Pooling pooling,
                                                  bool normalize) {
  const size_t n_embd = hp_.n_embd;
  std::vector<std::unique_ptr<Sequence>> sequences;
  std::vector<BatchItem> items;
  std::vector<std::vector<float>> hidden(inputs.size());
  std::vector<float*> hidden_rows(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string context = "input " + std::to_string(i) + ": ";
    const int n = static_cast<int>(std::min<size_t>(inputs[i].size(), INT32_MAX));
    if (n == 0) throw EngineError(context + "needs at least one token");
    if (n > n_ctx_) {
      throw EngineError(context + std::to_string(n) + " tokens exceed the context size " + std::to_string(n_ctx_));
    }
    sequences.push_back(std::make_unique<Sequence>(*this, n));
    check_tokens(*sequences.back(), inputs[i].data(), n, context);
    items.push_back(BatchItem{sequences.back().get(), inputs[i].data(), n, false});
    hidden[i].resize(static_cast<size_t>(n) * n_embd);
    hidden_rows[i] = hidden[i].data();
  }
  {
    std::lock_guard<std::mutex> lock(forward_mutex_);
    run_packed(items, hidden_rows.data());
  }
  std::vector<std::vector<float>> out;
  out.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    out.push_back(pool_embedding(hidden[i].data(), items[i].n, static_cast<int>(n_embd), pooling, normalize));
  }
  return out;
}

void LlamaModel::run_packed(std::span<const BatchItem> items, float* const* hidden) {
  // Pack the items' tokens into micro-batches of at most kMaxBatch rows; an item that does not fit is split, and
  // its second part runs in the next micro-batch, after the first has advanced the sequence.
  segments_.clear();
  int rows = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& item = items[i];
    for (int offset = 0; offset < item.n;) {
      const int take = std::min(item.n - offset, kMaxBatch - rows);
      const bool last = offset + take == item.n;
      float* item_hidden = hidden == nullptr ? nullptr : hidden[i] + static_cast<size_t>(offset) * hp_.n_embd;
      segments_.push_back({item.seq, item.tokens + offset, take,
                           last && item.want_logits ? item.seq->logits_.data() : nullptr, false, item_hidden});
      rows += take;
      offset += take;
      if (rows == kMaxBatch) {
        run_segments(segments_);
        segments_.clear();
        rows = 0;
      }
    }
  }
  if (!segments_.empty()) run_segments(segments_);
}

// The device pass works on the sequences' block tables; positions advance only when it succeeds.
void LlamaModel::run_device_segments(std::span<const Segment> segments) {
  device_segments_.clear();
  for (const Segment& seg : segments) {
    device_segments_.push_back(DeviceForward::Segment{&seg.seq->kv_blocks_, seg.seq->position(), seg.tokens, seg.n,
                                                      seg.logits, seg.all_logits, seg.hidden});
  }
  device_->run(device_segments_);
  for (const Segment& seg : segments) seg.seq->n_past_.fetch_add(seg.n, std::memory_order_relaxed);
}

void LlamaModel::run_segments(std::span<const Segment> segments) {
  if (device_) {
    run_device_segments(segments);
    return;
  }
  Backend& be = *backend_;
  const int n_embd = static_cast<int>(hp_.n_embd);
  const int q_dim = static_cast<int>(hp_.q_dim());
  const int kv_dim = static_cast<int>(hp_.kv_dim());
  const int n_ff = static_cast<int>(hp_.n_ff);
  const size_t n_vocab = hp_.n_vocab;

  int n = 0;
  for (const Segment& seg : segments) n += seg.n;
  const size_t un = static_cast<size_t>(n);
  auto fit = [](std::vector<float>& v, size_t size) {
    if (v.size() < size) v.resize(size);
  };
  fit(x_, un * n_embd);
  fit(xb_, un * std::max(n_embd, q_dim));
  fit(q_, un * q_dim);
  fit(k_, un * kv_dim);
  fit(v_, un * kv_dim);
  fit(attn_out_, un * q_dim);
  fit(gate_, un * n_ff);
  fit(up_, un * n_ff);
  tokens_.resize(un);
  pos_.resize(un);
  spans_.resize(segments.size());
  for (size_t s = 0, row = 0; s < segments.size(); ++s) {
    const Segment& seg = segments[s];
    const int n_past = seg.seq->position();
    for (int t = 0; t < seg.n; ++t) {
      tokens_[row + t] = seg.tokens[t];
      pos_[row + t] = n_past + t;
    }
    spans_[s] = AttentionSpan{nullptr, nullptr, n_past + seg.n, static_cast<int>(row), seg.n};
    row += static_cast<size_t>(seg.n);
  }

  const RopeParams rope{static_cast<int>(hp_.n_rot), hp_.rope_freq_base, hp_.rope_freq_scale, hp_.rope_neox,
                        rope_freq_factors_.empty() ? nullptr : rope_freq_factors_.data()};
  const AttentionParams attn{static_cast<int>(hp_.n_head), static_cast<int>(hp_.n_head_kv),
                             static_cast<int>(hp_.head_dim), 1.0f / std::sqrt(static_cast<float>(hp_.head_dim))};

  float* x = x_.data();
  float* xb = xb_.data();
  be.get_rows(token_embd_, tokens_.data(), n, x);

  for (uint32_t l = 0; l < hp_.n_layer; ++l) {
    const LayerWeights& L = layers_[l];
    const int layer = static_cast<int>(l);
    be.rms_norm(x, L.attn_norm.data(), n, n_embd, hp_.rms_eps, xb);
    be.matmul(L.wq, xb, n, q_.data());
    be.matmul(L.wk, xb, n, k_.data());
    be.matmul(L.wv, xb, n, v_.data());
    if (hp_.qkv_bias) {
      be.add_bias(q_.data(), L.bq.data(), n, q_dim);
      be.add_bias(k_.data(), L.bk.data(), n, kv_dim);
      be.add_bias(v_.data(), L.bv.data(), n, kv_dim);
    }
    be.rope(q_.data(), pos_.data(), n, static_cast<int>(hp_.n_head), static_cast<int>(hp_.head_dim), rope);
    be.rope(k_.data(), pos_.data(), n, static_cast<int>(hp_.n_head_kv), static_cast<int>(hp_.head_dim), rope);
    // Each segment's new keys/values go into its own sequence's cache, after the rows it already holds.
    for (size_t s = 0; s < segments.size(); ++s) {
      Sequence& seq = *segments[s].seq;
      AttentionSpan& span = spans_[s];
      const size_t count = static_cast<size_t>(span.n_rows) * kv_dim;
      const size_t src = static_cast<size_t>(span.first_row) * kv_dim;
      const size_t dst = static_cast<size_t>(span.n_kv - span.n_rows) * kv_dim;
      std::copy_n(k_.data() + src, count, seq.k_layer(layer) + dst);
      std::copy_n(v_.data() + src, count, seq.v_layer(layer) + dst);
      span.k_cache = seq.k_layer(layer);
      span.v_cache = seq.v_layer(layer);
    }
    be.attention_batch(q_.data(), spans_.data(), static_cast<int>(spans_.size()), pos_.data(), attn, attn_out_.data());
    be.matmul(L.wo, attn_out_.data(), n, xb);
    be.add(x, xb, un * n_embd);

    be.rms_norm(x, L.ffn_norm.data(), n, n_embd, hp_.rms_eps, xb);
    be.matmul(L.w_gate, xb, n, gate_.data());
    be.matmul(L.w_up, xb, n, up_.data());
    be.silu_mul(gate_.data(), up_.data(), un * n_ff);
    be.matmul(L.w_down, gate_.data(), n, xb);
    be.add(x, xb, un * n_embd);
  }
  for (const Segment& seg : segments) seg.seq->n_past_.fetch_add(seg.n, std::memory_order_relaxed);
  for (size_t s = 0; s < segments.size(); ++s) {
    if (segments[s].hidden == nullptr) continue;
    be.rms_norm(x + static_cast<size_t>(spans_[s].first_row) * n_embd, output_norm_.data(), segments[s].n, n_embd,
                hp_.rms_eps, segments[s].hidden);
  }

  // Logits only for the rows that want them: gathered into xb so the output matrix is read once for all of them.
  int m = 0;
  const Segment* only = nullptr;
  int wanting = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    const Segment& seg = segments[s];
    if (seg.logits == nullptr) continue;
    const int rows = seg.all_logits ? seg.n : 1;
    const int first = spans_[s].first_row + seg.n - rows;
    std::copy_n(x + static_cast<size_t>(first) * n_embd, static_cast<size_t>(rows) * n_embd,
                xb + static_cast<size_t>(m) * n_embd);
    m += rows;
    only = &seg;
    ++wanting;
  }
  if (m == 0) return;
  be.rms_norm(xb, output_norm_.data(), m, n_embd, hp_.rms_eps, xb);
  if (wanting == 1) {
    be.matmul(output_, xb, m, only->logits);
    return;
  }
  fit(logits_rows_, static_cast<size_t>(m) * n_vocab);
  be.matmul(output_, xb, m, logits_rows_.data());
  size_t offset = 0;
  for (const Segment& seg : segments) {
    if (seg.logits == nullptr) continue;
    const size_t count = static_cast<size_t>(seg.all_logits ? seg.n : 1) * n_vocab;
    std::copy_n(logits_rows_.data() + offset, count, seg.logits);
    offset += count;
  }
}

}  // namespace sovren
