// CpuBackend: every Backend op on the CPU. matmul prepares the activations once, then runs the per-type dot
// kernels over row ranges in parallel; prompts are tiled so each weight row block is read from memory once and
// reused for all tokens.
#include "cpu/cpu-backend.h"

#include <xmmintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/dequantize.h"
#include "cpu/dot-kernels.h"
#include "cpu/thread-pool.h"

namespace sovren {
namespace {

// Row blocks of a prompt matmul aim at this many weight bytes, so a block stays in L2 while every token tile
// passes over it.
constexpr size_t kRowBlockTargetBytes = 128 * 1024;
// Prompts of at least this many tokens use the packed-panel GEMM path (dequantise a panel of weight rows once, then
// a register-blocked float micro-kernel; all types but Q4_K, see gemm_min_tokens; Q4_K on AVX-512 takes its integer
// GEMM, gemm-q4-k.h); fewer tokens use the token-tiled dot kernels. 64, not less: a continuous-batching decode step has
// one row per stream, and up to ~64 rows the token-tiled kernels were 1.5-3x faster than the GEMM on the 2-core AVX2
// host (interleaved bench-matvec runs, docs/performance.md); they also round activations exactly as single-token
// decoding does, so a stream's quantised-weight numerics do not depend on how many other streams share its step.
constexpr int kGemmMinTokens = 64;
// Attention spans of at least this many rows (prompt chunks) take the tiled kernel (attention_tiled).
constexpr int kTiledAttentionMinRows = 16;
constexpr size_t kNotTiled = static_cast<size_t>(-1);
// Columns per packed panel chunk: gemm_rows x 256 floats stay in L1 while every token tile passes over them.
constexpr int64_t kGemmChunkCols = 256;
// Element-wise ops below this size run on the calling thread: waking workers would cost more than it saves.
constexpr size_t kParallelElementwiseMin = 16384;

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw EngineError(std::string("cpu backend ") + op + ": " + what);
}

// Growable 64-byte aligned buffer (the GEMM kernels use aligned loads on their packed operands).
template <class T>
class AlignedBuffer {
 public:
  T* reserve(size_t count) {
    if (count > capacity_) {
      const size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
      data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw EngineError("cpu backend: cannot allocate " + std::to_string(bytes) + " bytes of scratch");
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t capacity_ = 0;
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(int n_threads, CpuIsa isa) : kernels_(cpu_kernels(isa)), pool_(n_threads) {
    thread_scratch_.resize(static_cast<size_t>(pool_.size()));
    thread_panels_.resize(static_cast<size_t>(pool_.size()));
    thread_q4_k_panels_.resize(static_cast<size_t>(pool_.size()));
    thread_attention_scores_.resize(static_cast<size_t>(pool_.size()));
  }

  std::string name() const override { return "cpu-" + std::string(cpu_isa_name(kernels_.isa)); }
  int n_threads() const override { return pool_.size(); }

  void matmul(const WeightView& w, const float* x, int n_tokens, float* y) override {
    require(n_tokens >= 0, "matmul", "negative token count " + std::to_string(n_tokens));
    if (n_tokens == 0) return;
    require(w.data != nullptr && x != nullptr && y != nullptr, "matmul", "null weight, input or output pointer");
    require(w.rows > 0 && w.cols > 0, "matmul",
            "empty weight " + std::to_string(w.rows) + "x" + std::to_string(w.cols));
    const auto row_bytes_opt = tensor_row_bytes(w.type, static_cast<uint64_t>(w.cols));
    require(row_bytes_opt.has_value(), "matmul",
            std::to_string(w.cols) + " columns is not a whole number of " + std::string(tensor_type_name(w.type)) +
                " blocks");
    const size_t row_bytes = static_cast<size_t>(*row_bytes_opt);
    if (w.type == TensorType::Q4_K && n_tokens >= kGemmMinTokens && kernels_.gemm_q4_k != nullptr) {
      return matmul_q4_k_prompt(w, row_bytes, x, n_tokens, y);
    }
    if (n_tokens >= gemm_min_tokens(w.type)) return matmul_prompt(w, row_bytes, x, n_tokens, y);
    const DotFn dot = kernels_.dot_for(w.type);
    const int64_t cols = w.cols, rows = w.rows;
    size_t act_stride = 0;
    const uint8_t* act = prepare_activations(activation_format(w.type), x, n_tokens, cols, act_stride);
    const uint8_t* weights = w.data;

    if (n_tokens == 1) {
      // Decode: matrix-vector, one contiguous row range per thread, each row streamed from start to end by the
      // per-row kernel (several accumulators per row). The row-tiled kernel reads rows side by side, which measured
      // slower on the memory-bound large shapes (docs/performance.md).
      pool_.parallel_for(rows, [&](int64_t begin, int64_t end, int) {
        for (int64_t r = begin; r < end; ++r) dot(cols, weights + static_cast<size_t>(r) * row_bytes, act, 0, 1, y + r);
      });
      return;
    }

    // Prompt: rows in blocks that fit in L2; within a block every token tile reuses the cached weights.
    const DotRowsFn dot_rows = kernels_.dot_rows_for(w.type);  // float weights: row x token register tiles
    int64_t block_rows = std::clamp<int64_t>(static_cast<int64_t>(kRowBlockTargetBytes / row_bytes), 1, 64);
    const int64_t min_blocks = 4 * static_cast<int64_t>(pool_.size());
    if ((rows + block_rows - 1) / block_rows < min_blocks) block_rows = std::max<int64_t>(1, rows / min_blocks);
    if (block_rows >= 8) block_rows -= block_rows % 4;  // whole 4-row register tiles of the float kernels
    const int64_t n_blocks = (rows + block_rows - 1) / block_rows;
    pool_.parallel_for(n_blocks, [&](int64_t block_begin, int64_t block_end, int) {
      float tile_out[kMaxTokenTile];
      for (int64_t blk = block_begin; blk < block_end; ++blk) {
        const int64_t r0 = blk * block_rows, r1 = std::min(rows, r0 + block_rows);
        for (int t0 = 0; t0 < n_tokens; t0 += kMaxTokenTile) {
          const int nt = std::min(kMaxTokenTile, n_tokens - t0);
          const uint8_t* tile_act = act + static_cast<size_t>(t0) * act_stride;
          if (dot_rows != nullptr) {
            dot_rows(cols, weights + static_cast<size_t>(r0) * row_bytes, row_bytes, r1 - r0, tile_act, act_stride, nt,
                     y + static_cast<size_t>(t0) * static_cast<size_t>(rows) + static_cast<size_t>(r0),
                     static_cast<size_t>(rows));
            continue;
          }
          for (int64_t r = r0; r < r1; ++r) {
            dot(cols, weights + static_cast<size_t>(r) * row_bytes, tile_act, act_stride, nt, tile_out);
            for (int j = 0; j < nt; ++j) y[static_cast<size_t>(t0 + j) * rows + r] = tile_out[j];
          }
        }
      }
    });
  }

  void get_rows(const WeightView& w, const int32_t* ids, int n, float* out) override {
    require(n >= 0, "get_rows", "negative row count " + std::to_string(n));
    if (n == 0) return;
    require(w.data != nullptr && ids != nullptr && out != nullptr, "get_rows", "null pointer argument");
    const auto row_bytes = tensor_row_bytes(w.type, static_cast<uint64_t>(w.cols));
    require(row_bytes.has_value() && w.cols > 0, "get_rows",
            std::to_string(w.cols) + " columns is not a whole number of " + std::string(tensor_type_name(w.type)) +
                " blocks");
    for (int i = 0; i < n; ++i) {
      require(ids[i] >= 0 && ids[i] < w.rows, "get_rows",
              "row id " + std::to_string(ids[i]) + " outside [0, " + std::to_string(w.rows) + ")");
    }
    const auto copy_rows = [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        dequantize_row(w.type, w.data + static_cast<size_t>(ids[i]) * *row_bytes, out + i * w.cols, w.cols);
      }
    };
    if (n > 1) {
      pool_.parallel_for(n, copy_rows);
    } else {
      copy_rows(0, 1, 0);
    }
  }

  void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps, float* out) override {
    require(n_tokens >= 0 && dim > 0, "rms_norm", "bad shape " + std::to_string(n_tokens) + "x" + std::to_string(dim));
    require(x != nullptr && out != nullptr, "rms_norm", "null input or output pointer");
    const auto norm_tokens = [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        const float* xt = x + t * dim;
        float* ot = out + t * dim;
        double sum = 0.0;  // as ggml: float squares summed in double
        for (int i = 0; i < dim; ++i) sum += static_cast<double>(xt[i] * xt[i]);
        const float mean = static_cast<float>(sum / dim);
        const float scale = 1.0f / std::sqrt(mean + eps);
        if (weight != nullptr) {
          for (int i = 0; i < dim; ++i) ot[i] = (xt[i] * scale) * weight[i];
        } else {
          for (int i = 0; i < dim; ++i) ot[i] = xt[i] * scale;
        }
      }
    };
    if (n_tokens > 1) {
      pool_.parallel_for(n_tokens, norm_tokens);
    } else {
      norm_tokens(0, n_tokens, 0);
    }
  }

  void rope(float* x, const int32_t* pos, int n_tokens, int n_heads, int head_dim, const RopeParams& p) override {
    require(n_tokens >= 0 && n_heads > 0 && head_dim > 0, "rope", "bad shape");
    require(p.n_rot > 0 && p.n_rot % 2 == 0 && p.n_rot <= head_dim, "rope",
            "n_rot " + std::to_string(p.n_rot) + " must be even and in (0, head_dim=" + std::to_string(head_dim) + "]");
    require(x != nullptr && pos != nullptr, "rope", "null pointer argument");
    const int half = p.n_rot / 2;
    // Inverse frequencies in double: theta_i = pos * freq_scale * base^(-2i/n_rot) / freq_factors[i].
    std::vector<double> inv_freq(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) {
      double f = std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot) * p.freq_scale;
      if (p.freq_factors != nullptr) f /= p.freq_factors[i];
      inv_freq[static_cast<size_t>(i)] = f;
    }
    const auto rotate_tokens = [&](int64_t begin, int64_t end, int thread_idx) {
      std::vector<float>& cs = thread_scratch_[static_cast<size_t>(thread_idx)];
      cs.resize(static_cast<size_t>(2 * half));
      for (int64_t t = begin; t < end; ++t) {
        for (int i = 0; i < half; ++i) {
          const double theta = pos[t] * inv_freq[static_cast<size_t>(i)];
          cs[2 * i] = static_cast<float>(std::cos(theta));
          cs[2 * i + 1] = static_cast<float>(std::sin(theta));
        }
        for (int h = 0; h < n_heads; ++h) {
          float* v = x + (t * n_heads + h) * static_cast<int64_t>(head_dim);
          for (int i = 0; i < half; ++i) {
            const int i0 = p.neox ? i : 2 * i;
            const int i1 = p.neox ? i + half : 2 * i + 1;
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const float x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * c - x1 * s;
            v[i1] = x0 * s + x1 * c;
          }
        }
      }
    };
    if (n_tokens > 1) {
      pool_.parallel_for(n_tokens, rotate_tokens);
    } else {
      rotate_tokens(0, n_tokens, 0);
    }
  }

  void attention(const float* q, const float* k_cache, const float* v_cache, int n_kv, const int32_t* pos, int n_tokens,
                 const AttentionParams& p, float* out) override {
    require(n_tokens >= 0 && n_kv > 0, "attention",
            "bad shape: n_tokens " + std::to_string(n_tokens) + ", n_kv " + std::to_string(n_kv));
    const AttentionSpan span{k_cache, v_cache, n_kv, 0, n_tokens};
    attention_batch(q, &span, 1, pos, p, out);
  }

  void attention_batch(const float* q, const AttentionSpan* spans, int n_spans, const int32_t* pos,
                       const AttentionParams& p, float* out) override {
    require(n_spans >= 0 && (n_spans == 0 || spans != nullptr), "attention", "bad span list");
    require(p.n_head > 0 && p.n_head_kv > 0 && p.head_dim > 0 && p.n_head % p.n_head_kv == 0, "attention",
            "n_head " + std::to_string(p.n_head) + " must be a positive multiple of n_head_kv " +
                std::to_string(p.n_head_kv));
    int n_rows = 0;
    row_span_.clear();
    for (int s = 0; s < n_spans; ++s) {
      const AttentionSpan& span = spans[s];
      require(span.first_row == n_rows && span.n_rows >= 0 && span.n_kv > 0, "attention",
              "span " + std::to_string(s) + " (rows " + std::to_string(span.first_row) + "+" +
                  std::to_string(span.n_rows) + ", n_kv " + std::to_string(span.n_kv) +
                  ") does not continue the rows before it or has no cache rows");
      require(span.k_cache != nullptr && span.v_cache != nullptr, "attention", "null cache pointer");
      for (int r = span.first_row; r < span.first_row + span.n_rows; ++r) {
        require(pos != nullptr && pos[r] >= 0 && pos[r] < span.n_kv, "attention",
                "position " + std::to_string(pos != nullptr ? pos[r] : -1) + " outside the " +
                    std::to_string(span.n_kv) + " cached rows");
        row_span_.push_back(s);
      }
      n_rows += span.n_rows;
    }
    if (n_rows == 0) return;
    require(q != nullptr && out != nullptr, "attention", "null pointer argument");
    const int group = p.n_head / p.n_head_kv;
    const int64_t hd = p.head_dim;
    const bool all_tiled = attention_tiled(q, spans, n_spans, pos, p, out);
    if (all_tiled) return;
    const DotFn dot = kernels_.dot_f32;
    const AxpyFn axpy = kernels_.axpy;
    const auto attend = [&](int64_t begin, int64_t end, int thread_idx) {
      std::vector<float>& scores = thread_scratch_[static_cast<size_t>(thread_idx)];
      for (int64_t item = begin; item < end; ++item) {
        const int64_t t = item / p.n_head, h = item % p.n_head, kv_head = h / group;
        if (span_kt_[static_cast<size_t>(row_span_[static_cast<size_t>(t)])] != kNotTiled) continue;
        const AttentionSpan& span = spans[row_span_[static_cast<size_t>(t)]];
        const float* qv = q + (t * p.n_head + h) * hd;
        float* o = out + (t * p.n_head + h) * hd;
        const int n_att = pos[t] + 1;
        if (scores.size() < static_cast<size_t>(n_att)) scores.resize(static_cast<size_t>(n_att));
        const auto* q_bytes = reinterpret_cast<const uint8_t*>(qv);
        float max_score = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < n_att; ++j) {
          const float* kv = span.k_cache + (j * static_cast<int64_t>(p.n_head_kv) + kv_head) * hd;
          float s;
          dot(hd, reinterpret_cast<const uint8_t*>(kv), q_bytes, 0, 1, &s);
          s *= p.scale;
          scores[static_cast<size_t>(j)] = s;
          max_score = std::max(max_score, s);
        }
        // Softmax shifted by the max so exp never overflows.
        double sum = 0.0;
        for (int j = 0; j < n_att; ++j) {
          const float e = std::exp(scores[static_cast<size_t>(j)] - max_score);
          scores[static_cast<size_t>(j)] = e;
          sum += e;
        }
        const float inv_sum = static_cast<float>(1.0 / sum);
        std::fill(o, o + hd, 0.0f);
        for (int j = 0; j < n_att; ++j) {
          const float* vv = span.v_cache + (j * static_cast<int64_t>(p.n_head_kv) + kv_head) * hd;
          axpy(hd, scores[static_cast<size_t>(j)] * inv_sum, vv, o);
        }
      }
    };
    pool_.parallel_for(static_cast<int64_t>(n_rows) * p.n_head, attend);
  }

  // Spans of at least kTiledAttentionMinRows rows (prompts) on an ISA with attend_heads: each kv head's keys are
  // transposed once into blocks of 16 (shared by every row of the span), then each (row, kv head) scores all its
  // query heads at once. Sets span_kt_ (kNotTiled for spans left to the per-head loop); returns whether every row
  // was done here. Decode rows (spans of one row) stay on the per-head loop, whose numerics they have always had.
  bool attention_tiled(const float* q, const AttentionSpan* spans, int n_spans, const int32_t* pos,
                       const AttentionParams& p, float* out) {
    span_kt_.assign(static_cast<size_t>(n_spans), kNotTiled);
    tiled_rows_.clear();
    if (kernels_.attend_heads == nullptr) return false;
    const size_t hd = static_cast<size_t>(p.head_dim), kv_stride = static_cast<size_t>(p.n_head_kv) * hd;
    const auto head_floats = [&](const AttentionSpan& span) {
      return static_cast<size_t>((span.n_kv + 15) / 16 * 16) * hd;
    };
    size_t kt_floats = 0;
    bool all = true;
    tiled_spans_.clear();
    for (int s = 0; s < n_spans; ++s) {
      if (spans[s].n_rows < kTiledAttentionMinRows) {
        all = all && spans[s].n_rows == 0;
        continue;
      }
      span_kt_[static_cast<size_t>(s)] = kt_floats;
      kt_floats += head_floats(spans[s]) * static_cast<size_t>(p.n_head_kv);
      tiled_spans_.push_back(s);
      for (int r = spans[s].first_row; r < spans[s].first_row + spans[s].n_rows; ++r) tiled_rows_.push_back(r);
    }
    if (tiled_rows_.empty()) return false;
    float* kt = keys_t_.reserve(kt_floats);
    const int64_t n_kv_heads = p.n_head_kv;
    pool_.parallel_for(static_cast<int64_t>(tiled_spans_.size()) * n_kv_heads, [&](int64_t begin, int64_t end, int) {
      for (int64_t item = begin; item < end; ++item) {
        const int s = tiled_spans_[static_cast<size_t>(item / n_kv_heads)];
        const int64_t g = item % n_kv_heads;
        const AttentionSpan& span = spans[s];
        kernels_.transpose_keys(span.k_cache + g * static_cast<int64_t>(hd), kv_stride, span.n_kv, p.head_dim,
                                kt + span_kt_[static_cast<size_t>(s)] + static_cast<size_t>(g) * head_floats(span));
      }
    });
    const int group = p.n_head / p.n_head_kv;
    pool_.parallel_for(
        static_cast<int64_t>(tiled_rows_.size()) * n_kv_heads, [&](int64_t begin, int64_t end, int thread_idx) {
          for (int64_t item = begin; item < end; ++item) {
            const int t = tiled_rows_[static_cast<size_t>(item / n_kv_heads)];
            const int64_t g = item % n_kv_heads;
            const int s = row_span_[static_cast<size_t>(t)];
            const AttentionSpan& span = spans[s];
            const int n_att = pos[t] + 1;
            float* scores = thread_attention_scores_[static_cast<size_t>(thread_idx)].reserve(
                static_cast<size_t>(group) * static_cast<size_t>((n_att + 15) / 16 * 16));
            const size_t first =
                (static_cast<size_t>(t) * static_cast<size_t>(p.n_head) + static_cast<size_t>(g * group)) * hd;
            kernels_.attend_heads(q + first, group, p.head_dim,
                                  kt + span_kt_[static_cast<size_t>(s)] + static_cast<size_t>(g) * head_floats(span),
                                  span.v_cache + g * static_cast<int64_t>(hd), kv_stride, n_att, p.scale, scores,
                                  out + first);
          }
        });
    return all;
  }

  void silu_mul(float* gate, const float* up, size_t n) override {
    require(n == 0 || (gate != nullptr && up != nullptr), "silu_mul", "null pointer argument");
    elementwise(n, [&](size_t i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    });
  }

  void add(float* x, const float* y, size_t n) override {
    require(n == 0 || (x != nullptr && y != nullptr), "add", "null pointer argument");
    elementwise(n, [&](size_t i) { x[i] += y[i]; });
  }

  void add_bias(float* x, const float* bias, int n_tokens, int dim) override {
    require(n_tokens >= 0 && dim >= 0, "add_bias", "negative shape");
    require((n_tokens == 0 || dim == 0) || (x != nullptr && bias != nullptr), "add_bias", "null pointer argument");
    for (int t = 0; t < n_tokens; ++t) {
      float* xt = x + static_cast<int64_t>(t) * dim;
      for (int i = 0; i < dim; ++i) xt[i] += bias[i];
    }
  }

  void layer_norm(const float* x, const float* weight, const float* bias, int n_tokens, int dim, float eps,
                  float* out) override {
    require(n_tokens >= 0 && dim > 0, "layer_norm",
            "bad shape " + std::to_string(n_tokens) + "x" + std::to_string(dim));
    require(n_tokens == 0 || (x != nullptr && weight != nullptr && bias != nullptr && out != nullptr), "layer_norm",
            "null pointer argument");
    const auto norm_tokens = [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        const float* xt = x + t * dim;
        float* ot = out + t * dim;
        double sum = 0.0;
        for (int i = 0; i < dim; ++i) sum += xt[i];
        const double mean = sum / dim;
        double var = 0.0;
        for (int i = 0; i < dim; ++i) var += (xt[i] - mean) * (xt[i] - mean);
        const float inv = static_cast<float>(1.0 / std::sqrt(var / dim + eps));
        const float m = static_cast<float>(mean);
        for (int i = 0; i < dim; ++i) ot[i] = (xt[i] - m) * inv * weight[i] + bias[i];
      }
    };
    if (n_tokens > 1) {
      pool_.parallel_for(n_tokens, norm_tokens);
    } else {
      norm_tokens(0, n_tokens, 0);
    }
  }

  void gelu(float* x, size_t n) override {
    require(n == 0 || x != nullptr, "gelu", "null pointer argument");
    elementwise(n, [&](size_t i) { x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f)); });
  }

  void conv1d_k3(const WeightView& w, const float* x, int n_frames, int in_ch, int stride, float* out) override {
    require(n_frames > 0 && in_ch > 0 && stride > 0, "conv1d_k3", "bad shape");
    require(w.cols == static_cast<int64_t>(in_ch) * 3, "conv1d_k3",
            "weight has " + std::to_string(w.cols) + " columns, expected in_ch * 3 = " + std::to_string(in_ch * 3));
    require(x != nullptr && out != nullptr, "conv1d_k3", "null pointer argument");
    // im2col: column row t holds x[t * stride + k - 1][c] at c * 3 + k (zero outside), then one matmul.
    const int n_out = (n_frames - 1) / stride + 1;
    const size_t cols = static_cast<size_t>(in_ch) * 3;
    conv_columns_.assign(static_cast<size_t>(n_out) * cols, 0.0f);
    float* columns = conv_columns_.data();
    pool_.parallel_for(n_out, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        float* row = columns + static_cast<size_t>(t) * cols;
        for (int k = 0; k < 3; ++k) {
          const int64_t src = t * stride + k - 1;
          if (src < 0 || src >= n_frames) continue;
          const float* xs = x + src * in_ch;
          for (int c = 0; c < in_ch; ++c) row[static_cast<size_t>(c) * 3 + k] = xs[c];
        }
      }
    });
    matmul(w, columns, n_out, out);
  }

 private:
  // Q4_K weights never take the float GEMM: the Q4_K x Q8_K integer dot kernels (maddubs, 32 products per
  // instruction) out-run FP32 FMAs once each unpacked weight block serves a tile of tokens. pp512 of the
  // Llama-1B-shaped Q4_K model: 1.6x (tools/bench/engine/history.md, 2026-12-03); on AVX-512 the integer GEMM
  // (matmul_q4_k_prompt) doubles that again. Q6_K stays on the GEMM until its int8-activation prompt results are
  // checked (an embedding test differs from the reference by ~5e-3).
  static int gemm_min_tokens(TensorType type) {
    return type == TensorType::Q4_K ? std::numeric_limits<int>::max() : kGemmMinTokens;
  }

  // Activations in the format the weight type's kernel reads (float ones as they are); sets the row stride.
  const uint8_t* prepare_activations(ActivationFormat format, const float* x, int n_tokens, int64_t cols,
                                     size_t& stride) {
    if (format == ActivationFormat::F32) {
      stride = static_cast<size_t>(cols) * sizeof(float);
      return reinterpret_cast<const uint8_t*>(x);
    }
    stride = activation_row_bytes(format, cols);
    act_buffer_.resize(stride * static_cast<size_t>(n_tokens));
    uint8_t* dst = act_buffer_.data();
    const auto quantize_tokens = [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        kernels_.quantize_activation(format, x + t * cols, cols, dst + static_cast<size_t>(t) * stride);
      }
    };
    if (n_tokens > 1) {
      pool_.parallel_for(n_tokens, quantize_tokens);
    } else {
      quantize_tokens(0, 1, 0);
    }
    return dst;
  }

  // Q4_K prompt matmul on AVX-512 (gemm-q4-k.h): the activations are quantised to Q8_K and packed into 16-token
  // tiles once; each thread unpacks a chunk of weight rows into its panel (one pass over the weights) and runs every
  // tile over it.
  void matmul_q4_k_prompt(const WeightView& w, size_t row_bytes, const float* x, int n_tokens, float* y) {
    const int64_t cols = w.cols, rows = w.rows, n_blocks = cols / 256;
    size_t act_stride = 0;
    const uint8_t* act = prepare_activations(ActivationFormat::Q8_K, x, n_tokens, cols, act_stride);
    const int64_t n_tiles = (n_tokens + kQ4KTileTokens - 1) / kQ4KTileTokens;
    const size_t tile_bytes = static_cast<size_t>(n_blocks) * kQ4KTileBlockBytes;
    const auto tile_tokens = [n_tokens](int64_t j) {
      return static_cast<int>(std::min<int64_t>(kQ4KTileTokens, n_tokens - j * kQ4KTileTokens));
    };
    uint8_t* tiles = q4_k_tiles_.reserve(static_cast<size_t>(n_tiles) * tile_bytes);
    pool_.parallel_for(n_tiles, [&](int64_t begin, int64_t end, int) {
      for (int64_t j = begin; j < end; ++j) {
        kernels_.pack_q8_k_tile(cols, act + static_cast<size_t>(j * kQ4KTileTokens) * act_stride, act_stride,
                                tile_tokens(j), tiles + static_cast<size_t>(j) * tile_bytes);
      }
    });
    // Chunks of whole 4-row register tiles, at least 4 per thread so a delayed thread holds the others up less.
    const int64_t chunk_rows = std::clamp<int64_t>(rows / (4 * pool_.size()), 4, 64) / 4 * 4;
    const size_t packed_row_bytes = static_cast<size_t>(n_blocks) * kQ4KRowBlockBytes;
    const int64_t n_chunks = (rows + chunk_rows - 1) / chunk_rows;
    pool_.parallel_for(n_chunks, [&](int64_t begin, int64_t end, int thread_idx) {
      uint8_t* panel = thread_q4_k_panels_[static_cast<size_t>(thread_idx)].reserve(static_cast<size_t>(chunk_rows) *
                                                                                    packed_row_bytes);
      for (int64_t c = begin; c < end; ++c) {
        const int64_t r0 = c * chunk_rows, nr = std::min(chunk_rows, rows - r0);
        for (int64_t r = 0; r < nr; ++r) {
          kernels_.pack_q4_k_row(cols, w.data + static_cast<size_t>(r0 + r) * row_bytes,
                                 panel + static_cast<size_t>(r) * packed_row_bytes);
        }
        for (int64_t j = 0; j < n_tiles; ++j) {
          kernels_.gemm_q4_k(n_blocks, panel, packed_row_bytes, nr, tiles + static_cast<size_t>(j) * tile_bytes,
                             tile_tokens(j), y + static_cast<size_t>(j * kQ4KTileTokens * rows + r0),
                             static_cast<size_t>(rows));
        }
      }
    });
  }

  // Prompt matmul: y^T = W x^T as a GEMM over packed operands. Activations are packed once per call into tiles of
  // gemm_tokens tokens ([k][token], zero padded); each thread takes whole panels of gemm_rows weight rows and, per
  // chunk of columns, dequantises the panel once and runs every token tile over it: one pass over the weights.
  void matmul_prompt(const WeightView& w, size_t row_bytes, const float* x, int n_tokens, float* y) {
    const int R = kernels_.gemm_rows, T = kernels_.gemm_tokens;
    const int64_t cols = w.cols, rows = w.rows;
    const int64_t n_tiles = (n_tokens + T - 1) / T;
    float* x_packed = x_packed_.reserve(static_cast<size_t>(n_tiles * cols * T));
    pool_.parallel_for(n_tiles, [&](int64_t begin, int64_t end, int) {
      for (int64_t j = begin; j < end; ++j) {
        float* tile = x_packed + j * cols * T;
        for (int t = 0; t < T; ++t) {
          const int64_t token = j * T + t;
          const float* src = token < n_tokens ? x + token * cols : nullptr;
          for (int64_t k = 0; k < cols; ++k) tile[k * T + t] = src ? src[k] : 0.0f;
        }
      }
    });
    const int64_t n_panels = (rows + R - 1) / R;
    pool_.parallel_for(n_panels, [&](int64_t begin, int64_t end, int thread_idx) {
      float* panel =
          thread_panels_[static_cast<size_t>(thread_idx)].reserve(static_cast<size_t>(2 * R * kGemmChunkCols));
      float* chunk = panel + R * kGemmChunkCols;  // the panel's rows dequantised, row-major [R][kc]
      for (int64_t p = begin; p < end; ++p) {
        const int64_t r0 = p * R;
        const int nr = static_cast<int>(std::min<int64_t>(R, rows - r0));
        for (int64_t k0 = 0; k0 < cols; k0 += kGemmChunkCols) {
          const int64_t kc = std::min(kGemmChunkCols, cols - k0);
          // k0 is a multiple of 256, so it starts a whole block of every type.
          const size_t k0_bytes = static_cast<size_t>(*tensor_row_bytes(w.type, static_cast<uint64_t>(k0)));
          for (int r = 0; r < R; ++r) {
            float* row = chunk + r * kc;
            if (r < nr) {
              kernels_.dequantize_row(w.type, w.data + static_cast<size_t>(r0 + r) * row_bytes + k0_bytes, row, kc);
            } else {
              std::fill(row, row + kc, 0.0f);
            }
          }
          transpose_to_panel(chunk, R, kc, panel);
          for (int64_t j = 0; j < n_tiles; ++j) {
            const int nt = static_cast<int>(std::min<int64_t>(T, n_tokens - j * T));
            kernels_.gemm_panel(panel, x_packed + (j * cols + k0) * T, kc, y + j * T * rows + r0, rows, nt, nr, k0 > 0);
          }
        }
      }
    });
  }

  // panel[k * R + r] = chunk[r * kc + k]: 4x4 SSE transposes (baseline x86-64; R is a multiple of 4 and the
  // panel 64-byte aligned), scalar for a ragged column tail. With many tokens per step this packing is a
  // noticeable share of the matmul, and the scalar strided stores it replaces cost about 4x more.
  static void transpose_to_panel(const float* chunk, int R, int64_t kc, float* panel) {
    const int64_t k4 = kc / 4 * 4;
    for (int r = 0; r < R; r += 4) {
      const float* src = chunk + r * kc;
      for (int64_t k = 0; k < k4; k += 4) {
        __m128 a = _mm_loadu_ps(src + k), b = _mm_loadu_ps(src + kc + k);
        __m128 c = _mm_loadu_ps(src + 2 * kc + k), d = _mm_loadu_ps(src + 3 * kc + k);
        _MM_TRANSPOSE4_PS(a, b, c, d);
        _mm_store_ps(panel + k * R + r, a);
        _mm_store_ps(panel + (k + 1) * R + r, b);
        _mm_store_ps(panel + (k + 2) * R + r, c);
        _mm_store_ps(panel + (k + 3) * R + r, d);
      }
      for (int64_t k = k4; k < kc; ++k) {
        for (int i = 0; i < 4; ++i) panel[k * R + r + i] = src[i * kc + k];
      }
    }
  }

  template <class Op>
  void elementwise(size_t n, Op op) {
    const auto run_range = [&](int64_t begin, int64_t end, int) {
      for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) op(i);
    };
    if (n >= kParallelElementwiseMin) {
      // Chunks of 1024 keep each thread's range cache-line aligned and contiguous.
      const int64_t n_chunks = static_cast<int64_t>((n + 1023) / 1024);
      pool_.parallel_for(n_chunks, [&](int64_t begin, int64_t end, int thread_idx) {
        run_range(begin * 1024, std::min<int64_t>(end * 1024, static_cast<int64_t>(n)), thread_idx);
      });
    } else {
      run_range(0, static_cast<int64_t>(n), 0);
    }
  }

  const CpuKernels& kernels_;
  ThreadPool pool_;
  std::vector<uint8_t> act_buffer_;
  std::vector<std::vector<float>> thread_scratch_;  // per-thread temporaries (scores, rope tables)
  std::vector<int> row_span_;                       // attention_batch: the span of each row
  std::vector<size_t> span_kt_;                     // attention_tiled: each span's transposed keys, or kNotTiled
  std::vector<int> tiled_rows_, tiled_spans_;       // attention_tiled: the rows and spans it does
  AlignedBuffer<float> keys_t_;                     // attention_tiled: keys transposed into blocks of 16
  std::vector<AlignedBuffer<float>> thread_attention_scores_;  // attention_tiled: per-thread scores
  std::vector<float> conv_columns_;                            // conv1d_k3: the im2col matrix
  AlignedBuffer<float> x_packed_;                              // prompt activations packed for the GEMM kernels
  std::vector<AlignedBuffer<float>> thread_panels_;            // per-thread packed weight panel
  AlignedBuffer<uint8_t> q4_k_tiles_;                          // Q4_K prompts: activation tiles (gemm-q4-k.h)
  std::vector<AlignedBuffer<uint8_t>> thread_q4_k_panels_;     // Q4_K prompts: per-thread unpacked weight rows
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend_with_isa(int n_threads, CpuIsa isa) {
  return std::make_unique<CpuBackend>(n_threads, isa);
}

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
  return make_cpu_backend_with_isa(n_threads, select_cpu_isa());
}

}  // namespace sovren
