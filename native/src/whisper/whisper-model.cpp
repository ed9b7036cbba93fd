// Whisper encoder and decoder on the Backend (see whisper-model.h).
#include "whisper/whisper-model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "backend/cuda-plugin-loader.h"
#include "cpu/fp16.h"
#include "whisper/whisper-mel.h"

namespace sovren {
namespace {

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

constexpr float kLayerNormEps = 1e-5f;

// ggml's dequantize_row_q4_1 / q5_0 / q5_1 for the types the CPU kernels lack; blocks of 32.
void dequantize_extra(WhisperTensorType type, const uint8_t* src, float* dst, int64_t n) {
  const uint32_t bb = whisper_type_info(static_cast<uint32_t>(type))->block_bytes;
  for (int64_t blk = 0; blk < n / 32; ++blk) {
    const uint8_t* b = src + blk * bb;
    float* y = dst + blk * 32;
    const float d = fp16_to_fp32(load_u16(b));
    if (type == WhisperTensorType::Q4_1) {
      const float m = fp16_to_fp32(load_u16(b + 2));
      for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(b[4 + j] & 0x0f) * d + m;
        y[j + 16] = static_cast<float>(b[4 + j] >> 4) * d + m;
      }
      continue;
    }
    const bool q5_1 = type == WhisperTensorType::Q5_1;
    const float m = q5_1 ? fp16_to_fp32(load_u16(b + 2)) : 0.0f;
    uint32_t qh;
    std::memcpy(&qh, b + (q5_1 ? 4 : 2), 4);
    const uint8_t* qs = b + (q5_1 ? 8 : 6);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      const int x0 = (qs[j] & 0x0f) | h0;
      const int x1 = (qs[j] >> 4) | h1;
      if (q5_1) {
        y[j] = static_cast<float>(x0) * d + m;
        y[j + 16] = static_cast<float>(x1) * d + m;
      } else {
        y[j] = static_cast<float>(x0 - 16) * d;
        y[j + 16] = static_cast<float>(x1 - 16) * d;
      }
    }
  }
}

}  // namespace

WhisperSpecialTokens whisper_special_tokens(int32_t n_vocab) {
  if (n_vocab < 51864) {
    throw WhisperFileError(cat("whisper model: n_vocab ", n_vocab,
                               " is smaller than Whisper's 51864 (regular tokens + special tokens + timestamps)"));
  }
  WhisperSpecialTokens s;
  s.multilingual = n_vocab >= 51865;
  s.n_languages = n_vocab - 51765 - (s.multilingual ? 1 : 0);
  s.eot = 50256;
  s.sot = 50257;
  s.translate = 50357;
  s.transcribe = 50358;
  s.solm = 50359;
  s.prev = 50360;
  s.nosp = 50361;
  s.no_timestamps = 50362;
  s.timestamp_begin = 50363;
  if (s.multilingual) {
    s.eot++;
    s.sot++;
    const int dt = s.n_languages - 98;
    for (int32_t* id : {&s.translate, &s.transcribe, &s.solm, &s.prev, &s.nosp, &s.no_timestamps, &s.timestamp_begin}) {
      *id += dt;
    }
  }
  s.n_regular = s.eot;
  s.first_language = s.sot + 1;
  return s;
}

WhisperDecoderState::WhisperDecoderState(const WhisperModel& model, std::vector<float> encoded, int audio_ctx)
    : audio_ctx_(audio_ctx), encoded_(std::move(encoded)) {
  const auto& h = model.hparams();
  if (audio_ctx < 1 || audio_ctx > h.n_audio_ctx) throw EngineError(cat("whisper: audio_ctx ", audio_ctx));
  if (encoded_.size() != static_cast<size_t>(audio_ctx) * h.n_audio_state) {
    throw EngineError("whisper: encoder output does not match audio_ctx");
  }
  const size_t self = static_cast<size_t>(h.n_text_ctx) * h.n_text_state;
  self_k_.assign(static_cast<size_t>(h.n_text_layer), std::vector<float>(self));
  self_v_.assign(static_cast<size_t>(h.n_text_layer), std::vector<float>(self));
  model.compute_cross(*this);
}

WhisperModel::~WhisperModel() = default;

std::unique_ptr<WhisperModel> WhisperModel::load(const std::string& path, const WhisperLoadOptions& options) {
  std::unique_ptr<WhisperModel> model(new WhisperModel());
  model->file_ = WhisperFile::open(path);
  try {
    model->special_ = whisper_special_tokens(model->hparams().n_vocab);
    model->bind_weights();
  } catch (const EngineError& e) {
    throw WhisperFileError(cat(e.what(), " ('", path, "')"));
  }
  const auto& vocab = model->file_->vocab();
  const size_t n_text = std::min(vocab.size(), static_cast<size_t>(model->special_.n_regular));
  model->tokenizer_ = std::make_unique<WhisperTokenizer>(
      std::vector<std::string_view>(vocab.begin(), vocab.begin() + static_cast<long>(n_text)));
  model->backend_ = make_selected_backend(options.n_threads, "");
  return model;
}

const WhisperFileTensor& WhisperModel::tensor(const std::string& name) const {
  const WhisperFileTensor* t = file_->find_tensor(name);
  if (t == nullptr) throw WhisperFileError(cat("whisper model: tensor '", name, "' is missing"));
  return *t;
}

const float* WhisperModel::floats(const std::string& name, int64_t n_elements, int64_t ne0, int64_t ne1) {
  const WhisperFileTensor& t = tensor(name);
  const bool shape_ok = t.n_elements() == n_elements && (ne0 == 0 || (t.ne[0] == ne0 && t.rows() == ne1));
  if (!shape_ok) {
    throw WhisperFileError(cat("whisper model: tensor '", name, "' is ", t.ne[0], " x ", t.rows(), ", expected ",
                               ne0 == 0 ? n_elements : ne0, " x ", ne0 == 0 ? 1 : ne1));
  }
  std::vector<float> values(static_cast<size_t>(n_elements));
  if (t.type == WhisperTensorType::F32) {
    std::memcpy(values.data(), t.data, values.size() * 4);
  } else if (t.type == WhisperTensorType::F16) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = fp16_to_fp32(load_u16(t.data + 2 * i));
  } else {
    throw WhisperFileError(cat("whisper model: tensor '", name, "' must be F32 or F16, not ",
                               whisper_type_info(static_cast<uint32_t>(t.type))->name));
  }
  for (float v : values) {
    if (!std::isfinite(v)) throw WhisperFileError(cat("whisper model: tensor '", name, "' holds a non-finite value"));
  }
  owned_floats_.push_back(std::move(values));
  return owned_floats_.back().data();
}

WeightView WhisperModel::matrix(const std::string& name, int64_t rows, int64_t cols) {
  const WhisperFileTensor& t = tensor(name);
  // A linear layer is [cols, rows] (innermost first); a kernel-3 convolution is [3, in, out] with cols = 3 * in.
  const bool conv = t.n_dims == 3 && t.ne[0] == 3;
  const bool shape_ok =
      conv ? (t.ne[0] * t.ne[1] == cols && t.ne[2] == rows) : (t.n_dims == 2 && t.ne[0] == cols && t.ne[1] == rows);
  if (!shape_ok) {
    throw WhisperFileError(cat("whisper model: tensor '", name, "' is ", t.ne[0], " x ", t.ne[1], " x ", t.ne[2],
                               ", expected ", conv ? "3 x " : "", conv ? cols / 3 : cols, " x ", rows));
  }
  WeightView w;
  w.rows = rows;
  w.cols = cols;
  std::vector<uint8_t> bytes;
  switch (t.type) {
    case WhisperTensorType::F32:
    case WhisperTensorType::F16:
    case WhisperTensorType::Q4_0:
    case WhisperTensorType::Q8_0:
      w.type = static_cast<TensorType>(static_cast<uint32_t>(t.type));  // same ggml ids
      bytes.assign(t.data, t.data + t.nbytes);
      break;
    case WhisperTensorType::Q4_1:
    case WhisperTensorType::Q5_0:
    case WhisperTensorType::Q5_1: {
      w.type = TensorType::F16;
      const uint64_t in_row = t.nbytes / static_cast<uint64_t>(rows);
      std::vector<float> row(static_cast<size_t>(cols));
      bytes.resize(static_cast<size_t>(rows * cols) * 2);
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_extra(t.type, t.data + r * in_row, row.data(), cols);
        for (int64_t c = 0; c < cols; ++c) {
          const uint16_t h = fp32_to_fp16(row[static_cast<size_t>(c)]);
          std::memcpy(bytes.data() + (r * cols + c) * 2, &h, 2);
        }
      }
      break;
    }
  }
  if (conv && w.type != TensorType::F32 && w.type != TensorType::F16) {
    throw WhisperFileError(cat("whisper model: convolution '", name, "' must be F32 or F16"));
  }
  owned_bytes_.push_back(std::move(bytes));
  w.data = owned_bytes_.back().data();
  return w;
}

WhisperLinear WhisperModel::linear(const std::string& name, int64_t out, int64_t in, bool bias) {
  WhisperLinear l;
  l.w = matrix(name + ".weight", out, in);
  if (bias) l.b = floats(name + ".bias", out, 0, 0);
  return l;
}

WhisperNorm WhisperModel::norm(const std::string& name, int64_t dim) {
  return {floats(name + ".weight", dim, 0, 0), floats(name + ".bias", dim, 0, 0)};
}

void WhisperModel::bind_weights() {
  const auto& h = hparams();
  if (h.n_audio_state != h.n_text_state) {
    throw WhisperFileError(cat("whisper model: n_audio_state ", h.n_audio_state, " differs from n_text_state ",
                               h.n_text_state, " (cross-attention needs them equal)"));
  }
  const int64_t da = h.n_audio_state, dt = h.n_text_state;
  owned_floats_.reserve(64 + 32 * static_cast<size_t>(h.n_audio_layer + h.n_text_layer));
  owned_bytes_.reserve(8 + 12 * static_cast<size_t>(h.n_audio_layer + h.n_text_layer));
  conv1_ = matrix("encoder.conv1.weight", da, int64_t{h.n_mels} * 3);
  conv1_b_ = floats("encoder.conv1.bias", da, 0, 0);
  conv2_ = matrix("encoder.conv2.weight", da, da * 3);
  conv2_b_ = floats("encoder.conv2.bias", da, 0, 0);
  enc_pos_ = floats("encoder.positional_embedding", int64_t{h.n_audio_ctx} * da, da, h.n_audio_ctx);
  const auto attention = [&](const std::string& p, int64_t d) {
    return WhisperAttentionWeights{linear(p + ".query", d, d, true), linear(p + ".key", d, d, false),
                                   linear(p + ".value", d, d, true), linear(p + ".out", d, d, true)};
  };
  const auto block = [&](const std::string& p, int64_t d, bool cross) {
    WhisperBlock b;
    b.attn_ln = norm(p + ".attn_ln", d);
    b.attn = attention(p + ".attn", d);
    if (cross) {
      b.cross_ln = norm(p + ".cross_attn_ln", d);
      b.cross = attention(p + ".cross_attn", d);
    }
    b.mlp_ln = norm(p + ".mlp_ln", d);
    b.mlp0 = linear(p + ".mlp.0", 4 * d, d, true);
    b.mlp2 = linear(p + ".mlp.2", d, 4 * d, true);
    return b;
  };
  for (int i = 0; i < h.n_audio_layer; ++i) enc_blocks_.push_back(block(cat("encoder.blocks.", i), da, false));
  ln_post_ = norm("encoder.ln_post", da);
  token_embedding_ = matrix("decoder.token_embedding.weight", h.n_vocab, dt);
  dec_pos_ = floats("decoder.positional_embedding", int64_t{h.n_text_ctx} * dt, dt, h.n_text_ctx);
  for (int i = 0; i < h.n_text_layer; ++i) dec_blocks_.push_back(block(cat("decoder.blocks.", i), dt, true));
  dec_ln_ = norm("decoder.ln", dt);

  std::ostringstream summary;
  summary << "token_embedding " << tensor_type_name(token_embedding_.type) << ", conv "
          << tensor_type_name(conv1_.type);
  if (!enc_blocks_.empty()) summary << ", matrices " << tensor_type_name(enc_blocks_[0].attn.query.w.type);
  type_summary_ = summary.str();
}

std::vector<float> WhisperModel::log_mel(const float* pcm, size_t n, int audio_ctx) const {
  if (audio_ctx < 1 || audio_ctx > hparams().n_audio_ctx) {
    throw EngineError(cat("whisper: audio_ctx ", audio_ctx, " outside 1..", hparams().n_audio_ctx));
  }
  return whisper_log_mel(pcm, n, file_->mel_filters(), hparams().n_mels, 2 * audio_ctx);
}

namespace {

// x[rows][out] = W x + b
void apply_linear(Backend& be, const WhisperLinear& l, const float* x, int rows, float* y) {
  be.matmul(l.w, x, rows, y);
  if (l.b != nullptr) be.add_bias(y, l.b, rows, static_cast<int>(l.w.rows));
}

// x += mlp(ln(x))
void mlp_residual(Backend& be, const WhisperBlock& b, float* x, int rows, int d, std::vector<float>& a,
                  std::vector<float>& hidden, std::vector<float>& o) {
  be.layer_norm(x, b.mlp_ln.w, b.mlp_ln.b, rows, d, kLayerNormEps, a.data());
  hidden.resize(static_cast<size_t>(rows) * 4 * d);
  apply_linear(be, b.mlp0, a.data(), rows, hidden.data());
  be.gelu(hidden.data(), hidden.size());
  apply_linear(be, b.mlp2, hidden.data(), rows, o.data());
  be.add(x, o.data(), static_cast<size_t>(rows) * d);
}

}  // namespace

std::vector<std::vector<float>> WhisperModel::encode(const std::vector<const float*>& mels, int audio_ctx) const {
  const auto& h = hparams();
  if (audio_ctx < 1 || audio_ctx > h.n_audio_ctx) {
    throw EngineError(cat("whisper: audio_ctx ", audio_ctx, " outside 1..", h.n_audio_ctx));
  }
  if (mels.empty()) return {};
  Backend& be = *backend_;
  const int d = h.n_audio_state, n_batch = static_cast<int>(mels.size()), frames = 2 * audio_ctx;
  const int rows = n_batch * audio_ctx;
  const size_t per = static_cast<size_t>(audio_ctx) * d;
  std::vector<float> x(per * n_batch), conv(static_cast<size_t>(frames) * d);
  for (int b = 0; b < n_batch; ++b) {
    if (mels[b] == nullptr) throw EngineError("whisper: null mel window");
    be.conv1d_k3(conv1_, mels[b], frames, h.n_mels, 1, conv.data());
    be.add_bias(conv.data(), conv1_b_, frames, d);
    be.gelu(conv.data(), conv.size());
    float* xb = x.data() + per * b;
    be.conv1d_k3(conv2_, conv.data(), frames, d, 2, xb);
    be.add_bias(xb, conv2_b_, audio_ctx, d);
    be.gelu(xb, per);
    be.add(xb, enc_pos_, per);
  }
  const size_t n_x = x.size();
  std::vector<float> a(n_x), q(n_x), k(n_x), v(n_x), att(n_x), o(n_x), hidden;
  const std::vector<int32_t> pos(static_cast<size_t>(rows), audio_ctx - 1);  // every row sees the whole window
  const int hd = d / h.n_audio_head;
  const AttentionParams params{h.n_audio_head, h.n_audio_head, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  std::vector<AttentionSpan> spans(static_cast<size_t>(n_batch));
  for (int b = 0; b < n_batch; ++b) {
    spans[b] = AttentionSpan{k.data() + per * b, v.data() + per * b, audio_ctx, b * audio_ctx, audio_ctx};
  }
  for (const WhisperBlock& blk : enc_blocks_) {
    be.layer_norm(x.data(), blk.attn_ln.w, blk.attn_ln.b, rows, d, kLayerNormEps, a.data());
    apply_linear(be, blk.attn.query, a.data(), rows, q.data());
    apply_linear(be, blk.attn.key, a.data(), rows, k.data());
    apply_linear(be, blk.attn.value, a.data(), rows, v.data());
    be.attention_batch(q.data(), spans.data(), n_batch, pos.data(), params, att.data());
    apply_linear(be, blk.attn.out, att.data(), rows, o.data());
    be.add(x.data(), o.data(), n_x);
    mlp_residual(be, blk, x.data(), rows, d, a, hidden, o);
  }
  be.layer_norm(x.data(), ln_post_.w, ln_post_.b, rows, d, kLayerNormEps, x.data());
  std::vector<std::vector<float>> out(static_cast<size_t>(n_batch));
  for (int b = 0; b < n_batch; ++b) out[b].assign(x.begin() + per * b, x.begin() + per * (b + 1));
  return out;
}

std::unique_ptr<WhisperDecoderState> WhisperModel::new_state(std::vector<float> encoded, int audio_ctx) const {
  return std::make_unique<WhisperDecoderState>(*this, std::move(encoded), audio_ctx);
}

void WhisperModel::compute_cross(WhisperDecoderState& state) const {
  const auto& h = hparams();
  const size_t n = static_cast<size_t>(state.audio_ctx_) * h.n_text_state;
  state.cross_k_.assign(dec_blocks_.size(), std::vector<float>(n));
  state.cross_v_.assign(dec_blocks_.size(), std::vector<float>(n));
  for (size_t l = 0; l < dec_blocks_.size(); ++l) {
    apply_linear(*backend_, dec_blocks_[l].cross.key, state.encoded_.data(), state.audio_ctx_,
                 state.cross_k_[l].data());
    apply_linear(*backend_, dec_blocks_[l].cross.value, state.encoded_.data(), state.audio_ctx_,
                 state.cross_v_[l].data());
  }
}

std::vector<float> WhisperModel::decode(const std::vector<WhisperDecoderState*>& states,
                                        const std::vector<std::vector<int32_t>>& tokens, bool all_logits) const {
  const auto& h = hparams();
  if (states.size() != tokens.size()) throw EngineError("whisper: decode needs one token list per state");
  const int d = h.n_text_state;
  int rows = 0;
  for (size_t s = 0; s < states.size(); ++s) {
    if (states[s] == nullptr) throw EngineError("whisper: null decoder state");
    const auto& ids = tokens[s];
    if (ids.empty()) throw EngineError("whisper: decode needs at least one token per state");
    if (states[s]->n_past_ + static_cast<int64_t>(ids.size()) > h.n_text_ctx) {
      throw EngineError(
          cat("whisper: ", states[s]->n_past_, " + ", ids.size(), " tokens exceed the text context of ", h.n_text_ctx));
    }
    for (int32_t id : ids) {
      if (id < 0 || id >= h.n_vocab) throw EngineError(cat("whisper: token id ", id, " outside 0..", h.n_vocab - 1));
    }
    rows += static_cast<int>(ids.size());
  }
  if (rows == 0) return {};
  Backend& be = *backend_;
  std::vector<int32_t> ids, self_pos, cross_pos;
  ids.reserve(static_cast<size_t>(rows));
  for (size_t s = 0; s < states.size(); ++s) {
    for (size_t t = 0; t < tokens[s].size(); ++t) {
      ids.push_back(tokens[s][t]);
      self_pos.push_back(states[s]->n_past_ + static_cast<int32_t>(t));
      cross_pos.push_back(states[s]->audio_ctx_ - 1);
    }
  }
  const size_t n_x = static_cast<size_t>(rows) * d;
  std::vector<float> x(n_x), a(n_x), q(n_x), k(n_x), v(n_x), att(n_x), o(n_x), hidden;
  be.get_rows(token_embedding_, ids.data(), rows, x.data());
  for (int r = 0; r < rows; ++r) be.add(x.data() + static_cast<size_t>(r) * d, dec_pos_ + self_pos[r] * d, d);
  const int hd = d / h.n_text_head;
  const AttentionParams params{h.n_text_head, h.n_text_head, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  std::vector<AttentionSpan> self_spans(states.size()), cross_spans(states.size());
  for (size_t l = 0; l < dec_blocks_.size(); ++l) {
    const WhisperBlock& blk = dec_blocks_[l];
    be.layer_norm(x.data(), blk.attn_ln.w, blk.attn_ln.b, rows, d, kLayerNormEps, a.data());
    apply_linear(be, blk.attn.query, a.data(), rows, q.data());
    apply_linear(be, blk.attn.key, a.data(), rows, k.data());
    apply_linear(be, blk.attn.value, a.data(), rows, v.data());
    int first = 0;
    for (size_t s = 0; s < states.size(); ++s) {
      WhisperDecoderState& st = *states[s];
      const int n = static_cast<int>(tokens[s].size());
      const size_t at = static_cast<size_t>(st.n_past_) * d;
      std::memcpy(st.self_k_[l].data() + at, k.data() + static_cast<size_t>(first) * d, sizeof(float) * n * d);
      std::memcpy(st.self_v_[l].data() + at, v.data() + static_cast<size_t>(first) * d, sizeof(float) * n * d);
      self_spans[s] = AttentionSpan{st.self_k_[l].data(), st.self_v_[l].data(), st.n_past_ + n, first, n};
      cross_spans[s] = AttentionSpan{st.cross_k_[l].data(), st.cross_v_[l].data(), st.audio_ctx_, first, n};
      first += n;
    }
    be.attention_batch(q.data(), self_spans.data(), static_cast<int>(states.size()), self_pos.data(), params,
                       att.data());
    apply_linear(be, blk.attn.out, att.data(), rows, o.data());
    be.add(x.data(), o.data(), n_x);

    be.layer_norm(x.data(), blk.cross_ln.w, blk.cross_ln.b, rows, d, kLayerNormEps, a.data());
    apply_linear(be, blk.cross.query, a.data(), rows, q.data());
    be.attention_batch(q.data(), cross_spans.data(), static_cast<int>(states.size()), cross_pos.data(), params,
                       att.data());
    apply_linear(be, blk.cross.out, att.data(), rows, o.data());
    be.add(x.data(), o.data(), n_x);

    mlp_residual(be, blk, x.data(), rows, d, a, hidden, o);
  }
  for (size_t s = 0; s < states.size(); ++s) states[s]->n_past_ += static_cast<int>(tokens[s].size());

  // Final LayerNorm of the rows whose logits are wanted, then logits = y . token_embedding^T.
  std::vector<float> y;
  int n_out = rows;
  if (all_logits) {
    y.resize(n_x);
    be.layer_norm(x.data(), dec_ln_.w, dec_ln_.b, rows, d, kLayerNormEps, y.data());
  } else {
    n_out = static_cast<int>(states.size());
    y.resize(static_cast<size_t>(n_out) * d);
    int last = -1;
    for (size_t s = 0; s < states.size(); ++s) {
      last += static_cast<int>(tokens[s].size());
      be.layer_norm(x.data() + static_cast<size_t>(last) * d, dec_ln_.w, dec_ln_.b, 1, d, kLayerNormEps,
                    y.data() + s * d);
    }
  }
  std::vector<float> logits(static_cast<size_t>(n_out) * h.n_vocab);
  be.matmul(token_embedding_, y.data(), n_out, logits.data());
  return logits;
}

}  // namespace sovren
